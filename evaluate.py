"""Evaluates checkpoints with real bitstreams:

    python evaluate.py --ckpt runs/test --data '../shared/data/kodak/*.png' --out results.json

Several ``--ckpt`` flags (a lambda sweep) make one rate-distortion curve.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before JAX sets 1: TF's CUDA noise off

from absl import app, flags, logging

from laplace_codec import evaluation

_CKPT = flags.DEFINE_multi_string("ckpt", None, "Checkpoint (workdir or step); repeatable.")
_DATA = flags.DEFINE_string("data", "../shared/data/kodak/*.png", "Glob of images.")
_OUT = flags.DEFINE_string("out", None, "Output JSON (CompressAI layout).")
_NAME = flags.DEFINE_string("name", None, "Name of the curve in the JSON.")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    result = evaluation.evaluate(_CKPT.value, _DATA.value, _OUT.value, _NAME.value)
    print(evaluation.table(result))


if __name__ == "__main__":
    flags.mark_flag_as_required("ckpt")
    app.run(main)
