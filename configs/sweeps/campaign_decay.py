"""Does a short learning-rate decay before an export make the exported model better? (issue 21,
"The training campaign": another learning-rate schedule.)

The campaign (configs/cpu/variable_long.py) keeps its learning rate constant for 80% of its run
and exports an exponential moving average of its weights (decay 0.999, about the last 1000
steps), on the claim that the average does most of what a decay would do to the exported
model. Early in the run that held (configs/sweeps/late_recipe.py's ``lr=decay``, 1e-4 to 1e-5
over 3308 steps from step 16692 of the long run: no difference); ``decay=cosine`` tests it
again late in the run, at the lower rate, nearer the model's noise floor: it branches from
one checkpoint of the campaign (``runs/variable-long``: weights, Adam moments, EMA and data
position) and decays the rate from the campaign's 5e-5 to its final 1e-5
(``optim.final_learning_rate``) along a cosine over the 2000 steps to the step of the
campaign's own checkpoint there, which is the control (constant 5e-5):

    mkdir -p runs/campaign_decay/decay=cosine/checkpoints
    cp -r runs/variable-long/checkpoints/10000 runs/campaign_decay/decay=cosine/checkpoints/
    python -m laplace_codec.training.sweep --sweep=configs/sweeps/campaign_decay.py \\
        --workdir=runs/campaign_decay
    laplace-codec export --ckpt runs/campaign_decay/decay=cosine --name decay-cosine \\
        --out runs/campaign_decay/export --eval '../shared/data/kodak/*.png' \\
        --precision float16   # and the control, runs/variable-long/checkpoints/12000

If the decayed branch is better, an export can be taken from such a branch while the
campaign goes on at its constant rate. The answer is in docs/RESULTS.md ("The campaign: crop
size and learning rate late in training").
"""

from configs.cpu import variable_long

BRANCH = 10_000  # the campaign checkpoint the branch starts from (the stage's own step count)
END = 12_000     # the campaign checkpoint it is compared with


def get_config():
    config = variable_long.branch_config(END)
    config.optim.decay_start = BRANCH / END  # the cosine starts at the branch's first step
    return config


def get_hyper(h):
    del h
    return [{"config.name": "decay=cosine"}]
