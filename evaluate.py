"""Evaluates checkpoints with real bitstreams:

    python evaluate.py --ckpt runs/test --data '../shared/data/kodak/*.png' --out results.json \
        --classical=jpeg,webp,avif,jpegxl,heic --anchors=vtm,bpg,elic,mlicpp --plot rd.png

Several ``--ckpt`` flags (a lambda sweep) make one rate-distortion curve. Classical codecs
run through the same harness at a quality sweep; anchors are bundled published figures;
BD-rates are against ``--bd_anchor`` (VTM by default).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before JAX sets 1: TF's CUDA noise off

from absl import app, flags, logging

from laplace_codec import api
from laplace_codec.coding import bitstream, codec
from laplace_codec.evaluation import evaluate as evaluation
from laplace_codec.errors import LaplaceCodecError

_CKPT = flags.DEFINE_multi_string("ckpt", None, "The model: a training workdir, a checkpoint "
                                  "step or a bundled model's name; repeatable (one curve).")
_DATA = flags.DEFINE_string("data", "../shared/data/kodak/*.png", "Images: globs, files or "
                            "folders, comma-separated.")
_OUT = flags.DEFINE_string("out", None, "Output JSON (CompressAI layout).")
_NAME = flags.DEFINE_string("name", None, "Name of the curve in the JSON.")
_CLASSICAL = flags.DEFINE_list("classical", [], "Classical codecs to run: jpeg, webp, avif, "
                               "jpegxl, heic (the extra laplace_codec[classical]).")
_ANCHORS = flags.DEFINE_list("anchors", [], "Published curves to add: vtm, bpg, elic, mlicpp, "
                             "hific (Kodak figures).")
_BD_ANCHOR = flags.DEFINE_list("bd_anchor", ["vtm"], "Anchors of the BD-rates.")
_PLOT = flags.DEFINE_string("plot", None, "Write an RD plot (PNG) here.")
_STEPS = flags.DEFINE_integer("steps", None, "Diffusion decoders: sampling steps (default: "
                              "the model's).")
_SAMPLER = flags.DEFINE_enum("sampler", None, list(bitstream.SAMPLERS[1:]),
                             "Diffusion decoders: sampler (default: the model's).")
_QUALITY = flags.DEFINE_list("quality", [], "Variable-rate models: the qualities to code at "
                             "(default: one per rate level, 1, 2, ...).")
_FID = flags.DEFINE_bool("fid", False, "Add FID and KID on 256x256 patches (HiFiC's protocol), "
                         "each with a bootstrap spread; needs "
                         "the extra: pip install -e \".[fid]\".")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    codec.enable_compilation_cache()
    try:
        qualities = [float(q) for q in _QUALITY.value] or None
    except ValueError:
        print(f"evaluate.py: error: --quality takes numbers, got {_QUALITY.value}",
              file=sys.stderr)
        sys.exit(2)
    try:
        result = api.evaluate(_CKPT.value, _DATA.value, steps=_STEPS.value,
                              sampler=_SAMPLER.value, qualities=qualities, out=_OUT.value,
                              name=_NAME.value, classical_codecs=_CLASSICAL.value,
                              anchors=_ANCHORS.value, bd_anchors=_BD_ANCHOR.value,
                              plot=_PLOT.value, fid=_FID.value)
    except LaplaceCodecError as e:  # a user error: one line, no traceback
        print(f"evaluate.py: error: {e}", file=sys.stderr)
        sys.exit(2)
    print(evaluation.table(result))


if __name__ == "__main__":
    flags.mark_flag_as_required("ckpt")
    app.run(main)
