"""A bundled model against a classical codec at equal file size, on any photographs: the
check a new user makes ("is it better than WebP on my pictures?").

    python benchmarks/equal_bytes.py [--model laplacian-mse-vr] [--codec webp] \
        [--quality 2,4,6] [--images 'photos/*.jpg']

For each image and quality, the model writes a real file; the classical codec then writes
the largest file not larger than it (binary search over its integer quality, which its files
grow with), and both are decoded and compared by RGB PSNR. Without ``--images`` it runs on
four of scikit-image's bundled photographs (astronaut, coffee, chelsea, rocket), which no
model here was trained or tuned on. Prints a line per image and quality, then the mean PSNR
difference per quality; the last line is JSON: {"QUALITY": {"bpp", "psnr", "codec_bpp",
"codec_psnr"}} (means over the images).
"""

import argparse
import glob
import json
import os
import sys

import numpy as np
import skimage.data

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import laplace_codec
from laplace_codec import images
from laplace_codec.evaluation import classical, metrics

SAMPLES = ("astronaut", "coffee", "chelsea", "rocket")


def largest_within(name: str, x: np.ndarray, budget: int) -> tuple[int, bytes]:
    """The classical codec's highest quality whose file of ``x`` is at most ``budget`` bytes
    (its lowest quality if none fits), with that file."""
    low, high = classical.CODECS[name].quality_range
    best = (low, classical.encode(name, x, low))
    while low <= high:
        mid = (low + high) // 2
        data = classical.encode(name, x, mid)
        if len(data) <= budget:
            best, low = (mid, data), mid + 1
        else:
            high = mid - 1
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a bundled model (default: the default)")
    parser.add_argument("--codec", default="webp", choices=sorted(classical.CODECS))
    parser.add_argument("--quality", default="2,4,6",
                        help="qualities of a variable-rate model (ignored for fixed-rate)")
    parser.add_argument("--images", default=None,
                        help="glob of photographs (default: scikit-image's four samples)")
    args = parser.parse_args()
    if args.images:
        paths = sorted(glob.glob(args.images))
        if not paths:
            raise SystemExit(f"no image matches {args.images!r}")
        pictures = {os.path.basename(p): images.read_image(p) for p in paths}
    else:
        pictures = {name: getattr(skimage.data, name)() for name in SAMPLES}
    codec = laplace_codec.load(args.model)
    qualities = [float(q) for q in args.quality.split(",")] if codec.variable_rate else [None]
    results = {}
    for q in qualities:
        rows = []
        for name, x in pictures.items():
            pixels = x.shape[0] * x.shape[1]
            data = codec.compress(x, quality=q)
            cq, other = largest_within(args.codec, x, len(data))
            row = dict(bpp=8 * len(data) / pixels, psnr=metrics.psnr(x, codec.decompress(data)),
                       codec_bpp=8 * len(other) / pixels,
                       codec_psnr=metrics.psnr(x, classical.decode(args.codec, other)))
            rows.append(row)
            print(f"{name} quality {q}: {codec.name} {row['bpp']:.3f} bpp {row['psnr']:.2f} dB"
                  f" | {args.codec} q{cq} {row['codec_bpp']:.3f} bpp {row['codec_psnr']:.2f} dB"
                  f" ({row['psnr'] - row['codec_psnr']:+.2f} dB)", flush=True)
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        results[str(q)] = mean
        print(f"quality {q}: mean {mean['psnr'] - mean['codec_psnr']:+.2f} dB against "
              f"{args.codec} at {mean['codec_bpp'] / mean['bpp']:.1%} of the bits", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
