"""A tiny diffusion codec for tests: the hyperprior of configs/test.py with a small blurring-
diffusion decoder (U-Net base width 8); trains 40 steps (mostly compilation) here.

    python train.py --config=configs/test_diffusion.py --workdir=runs/test_diffusion

Its samples are not good images; tests use it for shapes, determinism and file round trips.
"""

from configs import diffusion, test


def get_config():
    config = diffusion.use_diffusion_decoder(test.get_config())
    config.name = "test-diffusion"
    config.model.diffusion.update(width=8, res_blocks=1, attention_levels=(3,), heads=2,
                                  head_dim=8, multipliers=(1, 2, 2, 2),
                                  steps=4)
    config.train.num_steps = 40
    config.train.log_every = 20
    config.train.checkpoint_every = 40
    config.train.ema_decay = 0.9
    config.eval.diffusion_steps = 2
    return config
