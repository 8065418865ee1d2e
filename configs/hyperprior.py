"""The mean-scale hyperprior baseline (Minnen et al. 2018 without context) at the paper's
sizes: the baseline row of every comparison.

    python train.py --config=configs/hyperprior.py --workdir=runs/hyperprior
"""

from configs import base


def get_config():
    config = base.get_config()
    config.name = "hyperprior"
    config.model.entropy = "hyperprior"
    return config
