"""Late in the campaign, what buys more quality per CPU-hour: the paper's 256x256 crops, or a
learning-rate decay? (issue 21, "The training campaign".)

Both points branch from one checkpoint of the campaign (configs/cpu/variable_long.py,
``runs/variable-long``), optimiser state, EMA and data position included, and train to the
same step as the campaign's own checkpoint there, which is the control (the campaign's
recipe: 128x128 crops, batch 8, learning rate 1e-4 constant):

- ``crop=256``: 256x256 crops, batch 2 (the same pixels per step, so about the same step
  time), learning rate 1e-4 constant. With 128x128 crops the latent is one 8x8 attention
  window; with 256 it is four, as on Kodak, so the global context learns across windows.
- ``lr=decay``: 128x128 crops, batch 8, a cosine decay of the learning rate from 1e-4 to
  1e-5 over the branch.

    mkdir -p runs/late_recipe/crop=256/checkpoints runs/late_recipe/lr=decay/checkpoints
    cp -r runs/variable-long/checkpoints/16692 runs/late_recipe/crop=256/checkpoints/
    cp -r runs/variable-long/checkpoints/16692 runs/late_recipe/lr=decay/checkpoints/
    python -m laplace_codec.training.sweep --sweep=configs/sweeps/late_recipe.py \\
        --workdir=runs/late_recipe      # --only crop / --only lr, to run both at once
    laplace-codec export --ckpt runs/late_recipe/crop=256 --name late-crop256 \\
        --out runs/late_recipe/export --eval '../shared/data/kodak/*.png'   # and the control

The answer, with the measured figures, is in docs/RESULTS.md ("The campaign: crop size and
learning rate late in training"): 256x256 crops, which the campaign has used since.
"""

from configs.cpu import variable_long

BRANCH = 16_692  # the campaign checkpoint both points start from
END = 20_000     # the campaign checkpoint they are compared with


def get_config():
    config = variable_long.branch_config(END)
    config.data.crop, config.data.batch_size = 128, 8  # the campaign's recipe before END
    return config


def get_hyper(h):
    del h
    return [{"config.name": "crop=256", "config.data.crop": 256, "config.data.batch_size": 2},
            {"config.name": "lr=decay", "config.optim.decay_start": BRANCH / END,
             "config.optim.final_learning_rate": 1e-5}]
