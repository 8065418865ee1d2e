"""A small trained RD curve for the evaluator's Kodak table (docs/kodak_small.md): the
hyperprior point of the Table 2 sweep (configs/cpu/laplacian.py sizes, lambda = 0.01, 6000
steps) moved to three more lambdas by FINETUNE_STEPS steps each.

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/small_curve.py --workdir=runs/curve
    python evaluate.py --ckpt runs/curve/hyperprior-ft-0.005 \\
        --ckpt 'runs/ablation/entropy=hyperprior' --ckpt runs/curve/hyperprior-ft-0.02 \\
        --ckpt runs/curve/hyperprior-ft-0.04 --data '../shared/data/kodak/*.png' ...

A quick curve for the evaluation suite; the bundled models train far longer
(configs/sweeps/zoo.py).
"""

from configs.cpu import laplacian

BASE = "runs/ablation/entropy=hyperprior"
FINETUNE_STEPS = 1500


def get_config():
    config = laplacian.get_config()
    config.model.entropy = "hyperprior"
    config.train.init_from = BASE
    config.train.num_steps = FINETUNE_STEPS
    config.train.checkpoint_every = 500
    return config


def get_hyper(h):
    return [{"config.name": f"hyperprior-ft-{lmbda}", "config.loss.lmbda": lmbda}
            for lmbda in (0.005, 0.02, 0.04)]
