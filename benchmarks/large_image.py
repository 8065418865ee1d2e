"""Wall time and peak memory of compressing and decompressing a 3840x2160 image.

    python benchmarks/large_image.py                          # configs/base.py, random weights
    python benchmarks/large_image.py --ckpt runs/base          # a trained checkpoint
    python benchmarks/large_image.py --untiled                 # g_a and g_s in one piece
    python benchmarks/large_image.py --ckpt laplacian-diffusion-vr     # a diffusion decoder

A diffusion decoder samples in blended 640x640 windows above 4 Mpixels
(``Codec.diffusion_tile_pixels``, ``tiling.blended_steps``); ``--untiled`` samples the whole
image at once.

The image is a mosaic of 1280x720 centre crops of nine photographs from
../shared/data/train (scikit-image's astronaut upscaled when that folder is missing). With no
``--ckpt`` the codec is the default architecture (``configs/base.py``: N = 192, M = 256, the
Laplacian-guided entropy model) with random-init weights and coding tables built from them by
``tables.tables_for``: the bit rate is meaningless, the time and memory are those of the
real model.

Each phase runs in its own process, so each has its own peak RSS (``VmHWM``): ``compress``
(read PNG, build the codec, encode, write the file) and ``decompress`` (read the file, build
the codec, decode, write the PNG). Times: ``wall_s`` is the whole process, ``call_s`` the
encode or decode call alone (it includes XLA compilation: a cold run, as a CLI user sees
it). ``setup_rss_gib`` is the peak before the call (interpreter, TensorFlow, model
initialisation and table building). The last line is JSON.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

TRAIN = os.path.join(REPO, "..", "shared", "data", "train")
WIDTH, HEIGHT = 3840, 2160


def peak_rss_gib() -> float:
    """This process's peak resident set size (VmHWM), in GiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def make_image(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A 3x3 mosaic of real photographs (centre crops), or an upscaled bundled photograph."""
    from PIL import Image

    from laplace_codec import images

    paths = sorted(glob.glob(os.path.join(TRAIN, "*.png")))[:9]
    tw, th = width // 3, height // 3
    if len(paths) == 9:
        out = np.zeros((height, width, 3), np.uint8)
        for i, path in enumerate(paths):
            im = images.read_image(path)
            if im.shape[0] < th or im.shape[1] < tw:
                im = np.asarray(Image.fromarray(im).resize((tw, th), Image.BICUBIC))
            y0, x0 = (im.shape[0] - th) // 2, (im.shape[1] - tw) // 2
            r, c = divmod(i, 3)
            out[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = im[y0:y0 + th, x0:x0 + tw]
        return out
    photo = images.read_image("sample:astronaut")
    return np.asarray(Image.fromarray(photo).resize((width, height), Image.BICUBIC))


def build_codec(args):
    from laplace_codec import api  # in the child process only: the parent measures it

    if args.ckpt:
        return api.load(args.ckpt)
    from benchmarks.codec_speed import codec_from_config

    return codec_from_config(args.config)


def run_phase(args) -> dict:
    """One phase in this process; returns its measurements."""
    t_start = time.perf_counter()
    from laplace_codec import images
    from laplace_codec.atomic import atomic_write

    codec = build_codec(args)
    if args.untiled:
        codec.synthesis_tile_pixels = codec.analysis_tile_pixels = None
        codec.diffusion_tile_pixels = None
    setup_rss = peak_rss_gib()
    if args.phase == "compress":
        x = images.read_image(args.input)
        t0 = time.perf_counter()
        encoded = codec.encode(x)
        call = time.perf_counter() - t0
        atomic_write(args.output, encoded.data)
        extra = dict(bytes=len(encoded.data),
                     sha256=hashlib.sha256(encoded.data).hexdigest()[:16],
                     network_s=encoded.network_s, coding_s=encoded.coding_s)
    else:
        with open(args.input, "rb") as f:
            data = f.read()
        t0 = time.perf_counter()
        decoded = codec.decode(data)
        call = time.perf_counter() - t0
        images.write_image(args.output, decoded.image)
        extra = dict(network_s=decoded.network_s, coding_s=decoded.coding_s,
                     shape=list(decoded.image.shape))
    return dict(phase=args.phase, call_s=round(call, 2),
                wall_s=round(time.perf_counter() - t_start, 2),
                setup_rss_gib=round(setup_rss, 3), peak_rss_gib=round(peak_rss_gib(), 3),
                model=codec.model_id, **{k: (round(v, 3) if isinstance(v, float) else v)
                                         for k, v in extra.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="trained checkpoint (workdir or step) or bundled model")
    parser.add_argument("--config", default=os.path.join(REPO, "configs", "base.py"))
    parser.add_argument("--untiled", action="store_true",
                        help="run g_a, g_s and a diffusion decoder on the whole image")
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--height", type=int, default=HEIGHT)
    parser.add_argument("--phase", choices=("compress", "decompress"), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(run_phase(args)), flush=True)
        return

    from laplace_codec import images

    with tempfile.TemporaryDirectory() as tmp:
        src, lgc, rec = (os.path.join(tmp, n) for n in ("in.png", "out.lgc", "rec.png"))
        images.write_image(src, make_image(args.width, args.height))
        common = [sys.executable, os.path.abspath(__file__), "--config", args.config]
        common += ["--ckpt", args.ckpt] if args.ckpt else []
        common += ["--untiled"] if args.untiled else []
        results = {}
        for phase, inp, out in (("compress", src, lgc), ("decompress", lgc, rec)):
            done = subprocess.run(common + ["--phase", phase, "--input", inp, "--output", out],
                                  capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{phase} failed with status {done.returncode}:\n{done.stderr[-3000:]}")
            results[phase] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{phase}: {results[phase]}", flush=True)
        x, x_hat = images.read_image(src), images.read_image(rec)
        mse = np.mean((x.astype(np.float64) - x_hat) ** 2)
    c, d = results["compress"], results["decompress"]
    print(json.dumps(dict(
        image=f"{args.width}x{args.height}", model=c["model"], tiled=not args.untiled,
        compress_s=c["call_s"], compress_wall_s=c["wall_s"],
        compress_peak_rss_gib=c["peak_rss_gib"],
        decompress_s=d["call_s"], decompress_wall_s=d["wall_s"],
        decompress_peak_rss_gib=d["peak_rss_gib"], setup_rss_gib=max(c["setup_rss_gib"],
                                                                     d["setup_rss_gib"]),
        bytes=c["bytes"], file_sha256=c["sha256"],
        bpp=round(8 * c["bytes"] / (args.width * args.height), 4),
        psnr=round(10 * np.log10(255**2 / max(mse, 1e-12)), 2))))


if __name__ == "__main__":
    main()
