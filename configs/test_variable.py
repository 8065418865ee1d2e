"""The tiny test model (configs/test.py) with variable rate: gain units for four lambdas,
0.04 down to 0.005 (qualities 1 to 4). Used by the tests, untrained or briefly trained.

    python train.py --config=configs/test_variable.py --workdir=runs/test_variable
"""

from configs import test


def get_config():
    config = test.get_config()
    config.name = "test-variable"
    config.model.rate_lmbdas = (0.04, 0.02, 0.01, 0.005)
    return config
