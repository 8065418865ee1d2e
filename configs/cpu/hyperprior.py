"""CPU-sized mean-scale hyperprior, trained exactly as configs/cpu/laplacian.py.

    python train.py --config=configs/cpu/hyperprior.py --workdir=runs/cpu-hyperprior
"""

from configs.cpu import laplacian


def get_config():
    config = laplacian.get_config()
    config.name = "cpu-hyperprior"
    config.model.entropy = "hyperprior"
    return config
