"""A tiny hyperprior model for tests and the README's first command: trains in under 2 minutes here.

    python train.py --config=configs/test.py --workdir=runs/test

Trains on scikit-image's bundled photographs (128x128 crops) and leaves a checkpoint with
coding tables that compresses and decompresses real images of any size.
"""

from configs import base


def get_config():
    config = base.get_config()
    config.name = "test"
    config.model.entropy = "hyperprior"
    config.model.N = 32
    config.model.M = 32
    config.model.res_blocks = 0
    config.data.crop = 128  # z must be wider than 1x1 in training, or rates blow up on full images
    config.data.batch_size = 4
    config.optim.learning_rate = 2e-3
    config.optim.final_learning_rate = 1e-4
    config.optim.decay_start = 0.5
    config.train.num_steps = 600
    config.train.log_every = 100
    config.train.checkpoint_every = 200  # three numbered step folders: 200, 400, 600
    config.train.keep_checkpoints = 3
    return config
