"""Trains a laplace_codec model: ``python train.py --config=configs/base.py --workdir=DIR``.

Any config field can be overridden, e.g. ``--config.loss.lmbda=0.02``. A run killed at any
point resumes from its latest checkpoint when the same command is run again.
"""

import sys

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from laplace_codec.coding import codec
from laplace_codec.training import loop as training

_CONFIG = config_flags.DEFINE_config_file("config", "configs/base.py", "Training config file.")
_WORKDIR = flags.DEFINE_string("workdir", "runs/default", "Directory for checkpoints and logs.")
_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "Call jax.distributed.initialize() first (one process per host; "
    "coordinator, process count and id from the cluster environment or JAX_* variables).")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax and clu are chatty at INFO
    codec.enable_compilation_cache()  # a resumed run does not compile its steps again
    if _MULTIHOST.value:
        jax.distributed.initialize()
    summary = training.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    print(training.summary_line(summary), flush=True)
    if summary.get("interrupted"):
        sys.exit(130)


if __name__ == "__main__":
    app.run(main)
