"""A tiny Laplacian-guided model for tests: the test config with the paper's entropy model
(chunks 2, 2, 4, 8, 16 of M = 32; window 4 on the 8x8 latents of 128x128 crops).

    python train.py --config=configs/test_laplacian.py --workdir=runs/test_laplacian
"""

from configs import test


def get_config():
    config = test.get_config()
    config.name = "test-laplacian"
    config.model.entropy = "laplacian"
    config.model.laplacian.window = 4
    config.model.laplacian.heads = 2
    config.model.laplacian.width = 32
    config.model.laplacian.attention_dim = 16
    config.train.num_steps = 400  # its steps cost twice the hyperprior's, and compiling 45 s
    return config
