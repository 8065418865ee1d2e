"""Uneven (16, 16, 32, 64, M - 128, scaled to M) against even channel chunks, local + global
context with the Laplacian position bias, one lambda.

    python -m laplace_codec.sweep --sweep=configs/sweeps/grouping.py --workdir=runs/ablation
"""

# Every ablation point trains the same CPU-sized setting for the same number of steps.
from configs.sweeps.pe import get_config  # noqa: F401


def get_hyper(h):
    return h.product([
        h.fixed("config.model.entropy", "laplacian"),
        h.fixed("config.model.laplacian.spatial", "local_global"),
        h.fixed("config.model.laplacian.position", "laplacian"),
        h.sweep("config.model.laplacian.grouping", ["uneven", "even"]),
    ])
