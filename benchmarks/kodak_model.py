"""The flags shared by the benchmarks that run one model on the first images of Kodak at
some qualities (latent_channels.py, refine.py, transform_ceiling.py): ``--model``,
``--quality``, ``--images`` and ``--data``, and what they select."""

import glob
import os

import laplace_codec
from laplace_codec import images

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_flags(parser, model=None, quality="1,4,6", count=4):
    parser.add_argument("--model", default=model, help="a bundled model or a checkpoint")
    parser.add_argument("--quality", default=quality,
                        help="qualities of a variable-rate model (ignored for fixed-rate)")
    parser.add_argument("--images", type=int, default=count, help="the first K Kodak images")
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "kodak"))


def load(args):
    """``(codec, qualities, pictures)``: the model, its qualities (``[None]`` for a
    fixed-rate one) and the images as uint8 arrays."""
    codec = laplace_codec.load(args.model)
    qualities = [float(q) for q in args.quality.split(",")] if codec.variable_rate else [None]
    files = sorted(glob.glob(os.path.join(args.data, "*.png")))[:args.images]
    if not files:
        raise SystemExit(f"no PNG image in {args.data}")
    return codec, qualities, [images.read_image(f) for f in files]
