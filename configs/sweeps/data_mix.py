"""Does mixing BSDS500 into the training set help on Kodak? (issue 21, "More scenes".)

Two runs at equal steps, both fine-tuning the bundled ``laplacian-mse-0.01`` (12000 steps on
../shared/data/train) for 3000 more steps at lambda 0.01 with the CPU Laplacian recipe:
``train`` reads the 49 large photographs only, ``mix`` adds the 500 BSDS500 photographs
(crops drawn in proportion to area: 41% from the large photographs, 59% from BSDS500).

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/data_mix.py --workdir=runs/data_mix
    python evaluate.py --ckpt runs/data_mix/data=train --data '../shared/data/kodak/*.png' \\
        --out runs/data_mix/train.json      # and the same for data=mix

The answer, with the measured figures, is in docs/RESULTS.md ("Training data: BSDS500").

The fixed-rate models named here left the zoo in version 0.5.0 (replaced by the
variable-rate ones); a run that names one stops with the commands that install it
again beside the release (``zoo.RETIRED_NAMES``).
"""

from configs.cpu import laplacian

TRAIN = "../shared/data/train"
BSDS500 = "../shared/data/train-bsds500"


def get_config():
    config = laplacian.get_config()
    config.loss.lmbda = 0.01
    config.train.num_steps = 3_000
    config.train.init_from = "laplacian-mse-0.01"
    return config


def get_hyper(h):
    del h
    return [{"config.name": "data=train", "config.data.train_glob": TRAIN},
            {"config.name": "data=mix", "config.data.train_glob": f"{TRAIN},{BSDS500}"}]
