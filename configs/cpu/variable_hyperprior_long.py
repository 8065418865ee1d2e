"""The hyperprior baseline's long run (issue 21, "then the hyperprior baseline the same way"):
configs/cpu/variable_long.py with the mean-scale hyperprior, continuing the bundled
``hyperprior-mse-vr`` (12000 + 9000 steps, configs/cpu/variable_hyperprior.py) on the same
data, crops and schedule as the Laplacian campaign, so that the two variable-rate models
compare at equal steps at every export:

    nice -n 19 python train.py --config=configs/cpu/variable_hyperprior_long.py \\
        --workdir=runs/variable-hyperprior-long --config.train.init_from_steps=12000+9000
    laplace-codec export --ckpt runs/variable-hyperprior-long --name hyperprior-mse-vr \\
        --out laplace_codec/weights --eval '../shared/data/kodak/*.png' --family hyperprior-mse-vr

It runs at the lowest priority (``nice -n 19``) beside the Laplacian campaign, which is the
product: it takes the cycles the campaign leaves idle (0.22 steps per second here, with the
campaign's own rate unchanged at 2.5).
"""

from configs.cpu import variable_long


def get_config():
    config = variable_long.get_config()
    config.name = "hyperprior-mse-vr"
    config.model.entropy = "hyperprior"
    config.train.init_from = "hyperprior-mse-vr"
    config.train.checkpoint_every = 250  # about 20 minutes at the cycles left to it
    return config
