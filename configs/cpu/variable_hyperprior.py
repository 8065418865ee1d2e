"""The hyperprior baseline of the variable-rate campaign (issue 21): configs/cpu/variable.py
with the mean-scale hyperprior instead of the Laplacian entropy model, started from the
fixed-rate ``hyperprior-mse-0.01`` (12000 steps; it left the zoo in version 0.5.0, and the
run stops with the commands that install it again) and trained the same 9000 more steps on
the same data, so that the two variable-rate models compare at equal steps:

    python train.py --config=configs/cpu/variable_hyperprior.py --workdir=runs/variable-hyperprior
    laplace-codec export --ckpt runs/variable-hyperprior --name hyperprior-mse-vr \\
        --out laplace_codec/weights --eval '../shared/data/kodak/*.png'
"""

from configs.cpu import variable


def get_config():
    config = variable.get_config()
    config.name = "hyperprior-mse-vr"
    config.model.entropy = "hyperprior"
    config.train.init_from = "hyperprior-mse-0.01"
    return config
