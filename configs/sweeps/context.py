"""Table 2 at CPU scale: which context saves bits. Hyperprior (no context), channel-only
(uneven chunks), + local checkerboard context, + global (Swin) context, and the serial
raster-order context (the slow baseline of the latency column), one lambda.

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/context.py --workdir=runs/ablation

Point names match configs/sweeps/pe.py, so the shared local+global Laplacian point trains
once when both sweeps use the same workdir.
"""

# Every ablation point trains the same CPU-sized setting for the same number of steps.
from configs.sweeps.pe import get_config  # noqa: F401


def get_hyper(h):
    return h.chainit([
        h.product([h.fixed("config.model.entropy", "hyperprior")]),
        h.product([
            h.fixed("config.model.entropy", "laplacian"),
            h.sweep("config.model.laplacian.spatial", ["none", "local"]),
        ]),
        h.product([
            h.fixed("config.model.entropy", "laplacian"),
            h.fixed("config.model.laplacian.spatial", "local_global"),
            h.fixed("config.model.laplacian.position", "laplacian"),
        ]),
        h.product([
            h.fixed("config.model.entropy", "laplacian"),
            h.fixed("config.model.laplacian.spatial", "serial"),
        ]),
    ])
