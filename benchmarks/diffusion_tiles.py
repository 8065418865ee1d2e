"""Tiled against untiled diffusion decoding of one image: how much the blended windows
(``tiling.blended_steps``) change the sample, where, and what they cost.

    python benchmarks/diffusion_tiles.py [--model laplacian-diffusion-vr] [--out seam.png]

Codes a 1024x768 crop of a training photograph once (a variable-rate model at its default
quality), decodes it whole and then in windows (``Codec.diffusion_tile_pixels = 0``: 2 x 2
windows of 640x640 pixels here, seams at 512 pixels), and prints the PSNR of each against
the original and against each other, the mean absolute difference in 64-pixel column bands
(the windows overlap at 448-576), and both decode times. ``--out`` writes original | untiled | tiled around the seam for a look. The
last line is JSON.
"""

import argparse
import glob
import json
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import laplace_codec
from laplace_codec import images


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="laplacian-diffusion-vr")
    parser.add_argument("--image", default=sorted(glob.glob(
        os.path.join(REPO, "..", "shared", "data", "train", "*.png")) or ["sample:chelsea"])[0])
    parser.add_argument("--out", help="PNG of original | untiled | tiled around the seam")
    args = parser.parse_args()
    codec = laplace_codec.load(args.model)
    x = images.read_image(args.image)[:768, :1024]
    data = codec.compress(x)
    t0 = time.perf_counter()
    whole = codec.decompress(data)
    whole_s = time.perf_counter() - t0
    codec.diffusion_tile_pixels = 0
    t0 = time.perf_counter()
    tiled = codec.decompress(data)
    tiled_s = time.perf_counter() - t0
    bands = np.abs(tiled.astype(int) - whole).mean(-1)
    bands = [round(float(bands[:, i:i + 64].mean()), 2) for i in range(0, x.shape[1], 64)]
    result = dict(image=f"{x.shape[1]}x{x.shape[0]}", untiled_s=round(whole_s, 1),
                  tiled_s=round(tiled_s, 1), psnr_untiled=round(psnr(x, whole), 2),
                  psnr_tiled=round(psnr(x, tiled), 2),
                  tiled_vs_untiled_psnr=round(psnr(whole, tiled), 2), column_bands=bands)
    print(f"untiled {result['psnr_untiled']} dB in {result['untiled_s']} s; tiled "
          f"{result['psnr_tiled']} dB in {result['tiled_s']} s; tiled against untiled "
          f"{result['tiled_vs_untiled_psnr']} dB; mean |difference| per 64-column band: {bands}")
    if args.out:
        near = (slice(384, 640), slice(384, 640))
        images.write_image(args.out, np.concatenate([x[near], whole[near], tiled[near]], 1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
