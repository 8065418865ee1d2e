"""Table 1b at CPU scale: the four position encodings of the global context, one lambda.

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/pe.py --workdir=runs/ablation

Each point trains configs/cpu/laplacian.py (local + global context) with another encoding;
then evaluate each folder with evaluate.py on Kodak. The paper (lambda = 0.01): bpp falls
from relative (0.2643) to diamond (0.2512) to laplacian (0.2347).
"""

from configs.cpu import laplacian

ABLATION_STEPS = 6000  # equal for every point of the ablation sweeps


def get_config():
    config = laplacian.get_config()
    config.train.num_steps = ABLATION_STEPS
    return config


def get_hyper(h):
    return h.product([
        h.fixed("config.model.entropy", "laplacian"),
        h.fixed("config.model.laplacian.spatial", "local_global"),
        h.sweep("config.model.laplacian.position", ["none", "relative", "diamond", "laplacian"]),
    ])
