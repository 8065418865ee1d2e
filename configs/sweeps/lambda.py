"""The paper's lambda set for the CPU-sized Laplacian model (one RD curve).

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/lambda.py --workdir=runs/lambda

Loss ``D + lmbda * bpp`` with D the MSE of images in [-1, 1]: small lmbda, high rate.
"""

from configs.cpu import laplacian


def get_config():
    return laplacian.get_config()


def get_hyper(h):
    return h.sweep("config.loss.lmbda", [0.0004, 0.005, 0.01, 0.016, 0.02, 0.04])
