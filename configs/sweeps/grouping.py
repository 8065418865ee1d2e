"""Uneven (16, 16, 32, 64, M - 128, scaled to M) against even channel chunks, local + global
context with the Laplacian position bias, one lambda.

    python -m laplace_codec.sweep --sweep=configs/sweeps/grouping.py --workdir=runs/ablation
"""

from configs.cpu import laplacian
from configs.sweeps.pe import ABLATION_STEPS


def get_config():
    config = laplacian.get_config()
    config.train.num_steps = ABLATION_STEPS
    return config


def get_hyper(h):
    return h.product([
        h.fixed("config.model.entropy", "laplacian"),
        h.fixed("config.model.laplacian.spatial", "local_global"),
        h.fixed("config.model.laplacian.position", "laplacian"),
        h.sweep("config.model.laplacian.grouping", ["uneven", "even"]),
    ])
