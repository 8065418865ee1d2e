"""The fixed-rate MSE models that shipped until version 0.5.0 (issue 8): the Laplacian-guided and the hyperprior entropy model,
each at four lambdas, trained on ../shared/data/train with configs/cpu/laplacian.py sizes.

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/zoo.py --workdir=runs/zoo \\
        --only laplacian-mse     # and, in a second process, --only hyperprior-mse

Per family, lambda = 0.01 trains for BASE_STEPS; the other lambdas start from it
(``train.init_from``) and fine-tune for FINETUNE_STEPS, as learned codecs are usually moved
along the curve. The 0.01 runs may start from the ablation's finished 6000-step points, which
are the same model at the same lambda: copy the folder, and the run resumes at step 6000:

    cp -r runs/ablation/entropy=hyperprior runs/zoo/hyperprior-mse-0.01
    cp -r runs/ablation/entropy=laplacian,spatial=local_global,position=laplacian \\
        runs/zoo/laplacian-mse-0.01

``train.init_from`` also takes a bundled model's name: laplacian-mse-0.04 was fine-tuned
from the shipped laplacian-mse-0.01 (its int8-expanded weights) after the base checkpoint
was lost with a machine:

    python train.py --config=configs/sweeps/zoo.py --workdir=runs/zoo/laplacian-mse-0.04 \
        --config.name=laplacian-mse-0.04 --config.loss.lmbda=0.04 \
        --config.train.num_steps=3000 --config.train.init_from=laplacian-mse-0.01

Then package each folder (int8 kernels) with its Kodak figures:

    laplace-codec export --ckpt runs/zoo/NAME --name NAME --out laplace_codec/weights \\
        --eval '../shared/data/kodak/*.png'

The loss is D + lmbda * R: lambda 0.005 spends the most bits, 0.04 the fewest (about 0.45 bpp
on Kodak at 0.01 after 6000 steps; runs/ablation/entropy=hyperprior.json).

The fixed-rate models named here left the zoo in version 0.5.0 (replaced by the
variable-rate ones); a run that names one stops with the commands that install it
again beside the release (``zoo.RETIRED_NAMES``).
"""

from configs.cpu import laplacian

ZOO_RUNS = "runs/zoo"  # the sweep's --workdir: fine-tuned points start from the base there
BASE_LMBDA = 0.01
LAMBDAS = (0.005, 0.02, 0.04)  # fine-tuned from the base
BASE_STEPS = 12_000  # with the fine-tunes, about 8 hours of one core here for both families
FINETUNE_STEPS = 3_000
FAMILIES = (("laplacian-mse", "laplacian"), ("hyperprior-mse", "hyperprior"))


def get_config():
    config = laplacian.get_config()
    config.train.num_steps = BASE_STEPS
    config.loss.lmbda = BASE_LMBDA
    return config


def get_hyper(h):
    points = []
    for family, entropy in FAMILIES:
        base = f"{family}-{BASE_LMBDA}"
        points.append({"config.name": base, "config.model.entropy": entropy})
        points += [{"config.name": f"{family}-{lmbda}", "config.model.entropy": entropy,
                    "config.loss.lmbda": lmbda, "config.train.num_steps": FINETUNE_STEPS,
                    "config.train.init_from": f"{ZOO_RUNS}/{base}"} for lmbda in LAMBDAS]
    return points
