"""Would a higher learning rate make the campaign learn faster? (issue 21, "The training
campaign": another learning-rate schedule, per CPU-hour.)

Decaying the campaign's 1e-4 to 1e-5 over 3308 steps changed nothing measurable (docs/RESULTS.md,
"The campaign: crop size and learning rate late in training"): the exported EMA already
averages the optimiser's noise, so the campaign is limited by how far it moves, not by noise,
and a larger step might move it further per step. ``lr=2e-4`` branches from one checkpoint of
the campaign (configs/cpu/variable_long.py, ``runs/variable-long``: weights, Adam moments, EMA
and data position) and trains at twice the rate to the step of the campaign's own checkpoint
there, which is the control (1e-4):

    mkdir -p runs/campaign_lr/lr=2e-4/checkpoints
    cp -r runs/variable-long/checkpoints/46261 runs/campaign_lr/lr=2e-4/checkpoints/
    python -m laplace_codec.training.sweep --sweep=configs/sweeps/campaign_lr.py \\
        --workdir=runs/campaign_lr
    laplace-codec export --ckpt runs/campaign_lr/lr=2e-4 --name lr-2e-4 \\
        --out runs/campaign_lr/export --eval '../shared/data/kodak/*.png'   # and the control

The answer is in docs/RESULTS.md ("The campaign: crop size and learning rate late in
training"): 2e-4 is 3.9% worse in BD-rate than the control at step 50000; the campaign keeps
1e-4.
"""

from configs.cpu import variable_long

BRANCH = 46_261  # the campaign checkpoint the branch starts from
END = 50_000     # the campaign checkpoint it is compared with


def get_config():
    return variable_long.branch_config(END)


def get_hyper(h):
    del h
    return [{"config.name": "lr=2e-4", "config.optim.learning_rate": 2e-4}]
