"""Uneven (16, 16, 32, 64, M - 128, scaled to M) against even channel chunks, local + global
context with the Laplacian position bias, one lambda.

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/grouping.py --workdir=runs/ablation

The uneven point is the default grouping, named as in configs/sweeps/pe.py and context.py, so
it trains once for all three when they share a workdir.
"""

# Every ablation point trains the same CPU-sized setting for the same number of steps.
from configs.sweeps.pe import get_config  # noqa: F401


def get_hyper(h):
    shared = [h.fixed("config.model.entropy", "laplacian"),
              h.fixed("config.model.laplacian.spatial", "local_global"),
              h.fixed("config.model.laplacian.position", "laplacian")]
    return h.chainit([
        h.product(shared),  # uneven: the default
        h.product(shared + [h.fixed("config.model.laplacian.grouping", "even")]),
    ])
