"""Time to decode y for each context model (paper Table 2's latency column), on this CPU.

    python benchmarks/entropy_decode.py [--config configs/base.py] [--repeats 3]

For a 768x512 image (latent 48x32x256 at the paper's sizes), with random weights and the
tables built from them: the median time of the y decoding loop (entropy parameter networks
plus range decoding, every step; compile excluded by a warm-up decode) for the mean-scale
hyperprior, channel-only (uneven chunks), + local checkerboard context, + local and global
(Swin, Laplacian bias) context, and the serial raster context. Targets (issue 3): local+global
at least 10x faster than serial and at most 6x the hyperprior. Last line JSON:
{"hyperprior_ms", "channel_ms", "local_ms", "local_global_ms", "serial_ms"}.
"""

import argparse
import json
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.codec_speed import codec_from_config, test_image  # noqa: E402

VARIANTS = {
    "hyperprior": {"model.entropy": "hyperprior"},
    "channel": {"model.entropy": "laplacian", "model.laplacian.spatial": "none"},
    "local": {"model.entropy": "laplacian", "model.laplacian.spatial": "local"},
    "local_global": {"model.entropy": "laplacian", "model.laplacian.spatial": "local_global"},
    "serial": {"model.entropy": "laplacian", "model.laplacian.spatial": "serial"},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/base.py")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    x = test_image()
    result = {}
    for name in args.only:
        codec = codec_from_config(args.config, VARIANTS[name])
        data = codec.compress(x)
        codec.decode(data)  # compile
        times = [codec.decode(data).y_s for _ in range(args.repeats)]
        result[f"{name}_ms"] = round(1000 * statistics.median(times), 1)
        h, w = x.shape[0] // 16, x.shape[1] // 16
        print(f"{name:>13}: {result[f'{name}_ms']:9.1f} ms to decode y ({h}x{w}x"
              f"{codec.model.M}, {8 * len(data) / x.shape[0] / x.shape[1]:.3f} bpp with "
              f"random weights)", flush=True)
    if "local_global_ms" in result and "serial_ms" in result:
        print(f"serial / local_global = {result['serial_ms'] / result['local_global_ms']:.1f}x"
              f", local_global / hyperprior = "
              f"{result['local_global_ms'] / result.get('hyperprior_ms', np.nan):.1f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
