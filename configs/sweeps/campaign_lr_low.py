"""Would a lower learning rate make the campaign better per CPU-hour, late in its run? (issue 21,
"The training campaign": another learning-rate schedule.)

Twice the campaign's 1e-4 was 3.9% worse in BD-rate over 3739 steps (configs/sweeps/campaign_lr.py),
so the campaign may now be limited by the optimiser's noise more than by how far it moves.
``lr=5e-5`` branches from one checkpoint of the campaign (configs/cpu/variable_long.py,
``runs/variable-long``: weights, Adam moments, EMA and data position) and trains at half the
rate to the step of the campaign's own checkpoint there, which is the control (1e-4):

    mkdir -p runs/campaign_lr_low/lr=5e-5/checkpoints
    cp -r runs/variable-long/checkpoints/28000 runs/campaign_lr_low/lr=5e-5/checkpoints/
    taskset -c 0 python -m laplace_codec.training.sweep --sweep=configs/sweeps/campaign_lr_low.py \\
        --workdir=runs/campaign_lr_low
    laplace-codec export --ckpt runs/campaign_lr_low/lr=5e-5 --name lr-5e-5 \\
        --out runs/campaign_lr_low/export --eval '../shared/data/kodak/*.png' \\
        --precision float16   # and the control, runs/variable-long/checkpoints/32000

The answer is in docs/RESULTS.md ("The campaign: crop size and learning rate late in
training").
"""

from configs.cpu import variable_long

BRANCH = 28_000  # the campaign checkpoint the branch starts from (the stage's own step count)
END = 32_000     # the campaign checkpoint it is compared with


def get_config():
    return variable_long.branch_config(END)


def get_hyper(h):
    del h
    return [{"config.name": "lr=5e-5", "config.optim.learning_rate": 5e-5}]
