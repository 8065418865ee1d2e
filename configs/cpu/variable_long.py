"""The long campaign of the variable-rate Laplacian MSE model on this CPU (issue 21): it
continues the bundled ``laplacian-mse-vr`` (configs/cpu/variable.py, 21000 steps in all) for
130000 more steps (151000 in all; 120000 until its step 86000, when it still gained about a
point of BD-rate per 8000 steps), resumed whenever work resumes, exported and committed every
20000 steps or so:

    python train.py --config=configs/cpu/variable_long.py --workdir=runs/variable-long
    laplace-codec export --ckpt runs/variable-long --name laplacian-mse-vr \\
        --out laplace_codec/weights --eval '../shared/data/kodak/*.png'

Crops are 256x256, batch 2 (the paper's crop size, at the pixels per step of 128x128 batch
8): the first 16692 steps used 128x128 crops, whose latent is a single 8x8 attention window,
so the global context never saw a window boundary; branched at that step, 3308 steps at
256x256 gave a Kodak BD-rate 5.9% lower than 3308 more at 128x128 (docs/RESULTS.md, "The
campaign: crop size and learning rate late in training"), and the run continues from that
branch.

The learning rate stays constant for 80% of the run, so that an export in the middle is not
one taken at a learning-rate peak: 1e-4 (a third of the first stage's) up to this stage's step
32000 (12000+9000+78000 steps in all), then 5e-5, which measured 0.4% better in BD-rate over
4000 steps from there (configs/sweeps/campaign_lr_low.py; twice 1e-4 had measured 3.9% worse,
configs/sweeps/campaign_lr.py). The exported weights are an exponential moving average
(decay 0.999, about the last 1000 steps), which does what a learning-rate decay would do to
the deployed model (a branch decayed over 2000 steps matched its control within 0.1% of
BD-rate at 12000+9000+98000 steps: configs/sweeps/campaign_decay.py). Each export should
lower the Kodak BD-rate against VTM (docs/RESULTS.md, "The campaign").
"""

from configs.cpu import variable


def get_config():
    config = variable.get_config()
    config.train.init_from = "laplacian-mse-vr"
    config.train.num_steps = 130_000
    config.optim.learning_rate = 5e-5  # 1e-4 before stage step 32000 (docstring)
    config.optim.decay_start = 0.8
    config.train.ema_decay = 0.999
    config.train.checkpoint_every = 2000
    config.data.crop = 256
    config.data.batch_size = 2
    return config


def branch_config(end: int):
    """The campaign's recipe for a branch of it (configs/sweeps/late_recipe.py and others):
    from one of its checkpoints to step ``end``, at a constant learning rate, so that the
    branch and the campaign's own checkpoint at ``end`` (the control) compare at equal steps."""
    config = get_config()
    config.train.num_steps = end
    config.optim.decay_start = 1.0
    return config
