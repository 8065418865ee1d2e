"""Encoder-side refinement on Kodak: BD-rate saving and encode time against the number of
steps N (``compress --refine N``), for a variable-rate or fixed-rate model.

    python benchmarks/refine.py [--model laplacian-mse-vr] [--steps 0,20,50] \
        [--quality 1,3,5] [--images 4] [--rounding noise,sga] [--schedule constant,cosine] \
        [--lr 5e-3,1e-2] [--optimizer adam,nsgd]

Each image is coded at each quality with each N (real files, decoded again); the curve of N
is the mean bpp and PSNR over the images at each quality, and its BD-rate (PSNR, pchip) is
against N = 0 on the same images. ``--rounding`` compares relaxations of the rounding
(``refine.ROUNDINGS``), ``--schedule`` learning-rate schedules (``refine.SCHEDULES``),
``--lr`` their peak rates and ``--optimizer`` the optimisers (``refine.OPTIMIZERS``); curves
are named ``OPTIMIZER:ROUNDING:SCHEDULE:LR:N``. Times are the wall time of ``encode``
(analysis, refinement, coding), compilation excluded by a first untimed call per N and
image shape. The last line is JSON: {"OPTIMIZER:ROUNDING:SCHEDULE:LR:N": {"bd_rate_vs_0", "encode_s", "bpp",
"psnr"}, ...}.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import kodak_model  # noqa: E402
from laplace_codec.coding import refine as refine_lib  # noqa: E402
from laplace_codec.evaluation import metrics, rd  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kodak_model.add_flags(parser, model="laplacian-mse-vr", quality="1,3,5")
    parser.add_argument("--steps", default="0,20,50")
    parser.add_argument("--crop", type=int, default=0,
                        help="code the top-left CROP x CROP pixels of each image (0: whole)")
    parser.add_argument("--rounding", default=refine_lib.ROUNDING,
                        help=f"comma-separated, of {refine_lib.ROUNDINGS}")
    parser.add_argument("--schedule", default=refine_lib.SCHEDULE,
                        help=f"comma-separated, of {refine_lib.SCHEDULES}")
    parser.add_argument("--lr", default=str(refine_lib.LEARNING_RATE),
                        help="comma-separated peak learning rates")
    parser.add_argument("--optimizer", default=refine_lib.OPTIMIZER,
                        help=f"comma-separated, of {refine_lib.OPTIMIZERS}")
    parser.add_argument("--keep-best", action=argparse.BooleanOptionalAction,
                        default=refine_lib.KEEP_BEST,
                        help="return the step of the lowest exact loss (default: "
                        "refine.KEEP_BEST); --no-keep-best returns the last step's")
    args = parser.parse_args()
    codec, qualities, pictures = kodak_model.load(args)
    if args.crop:
        pictures = [x[:args.crop, :args.crop] for x in pictures]
    shapes = {x.shape: x for x in pictures}.values()  # one image of each shape
    runs = [(o, r, s, float(lr), int(n)) for o in args.optimizer.split(",")
            for r in args.rounding.split(",") for s in args.schedule.split(",")
            for lr in args.lr.split(",") for n in args.steps.split(",")]
    runs = [(refine_lib.OPTIMIZER, refine_lib.ROUNDING, refine_lib.SCHEDULE,
             refine_lib.LEARNING_RATE, 0)] + [run for run in runs if run[-1]]  # N = 0 once
    refine_lib.KEEP_BEST = args.keep_best
    results = {}
    for optimizer, rounding, schedule, lr, n in runs:
        # the defaults that Codec.encode's refinement takes
        (refine_lib.OPTIMIZER, refine_lib.ROUNDING, refine_lib.SCHEDULE,
         refine_lib.LEARNING_RATE) = optimizer, rounding, schedule, lr
        for x in shapes:
            codec.encode(x, quality=qualities[0], refine=n)  # compile, untimed
        bpp, psnr, seconds = [], [], []
        for q in qualities:
            rates, quality_db = [], []
            for x in pictures:
                t0 = time.perf_counter()
                data = codec.encode(x, quality=q, refine=n).data
                seconds.append(time.perf_counter() - t0)
                rates.append(8 * len(data) / (x.shape[0] * x.shape[1]))
                quality_db.append(metrics.psnr(x, codec.decompress(data)))
            bpp.append(float(np.mean(rates)))
            psnr.append(float(np.mean(quality_db)))
        name = f"{optimizer}:{rounding}:{schedule}:{lr:g}:{n}" if n else "0"
        results[name] = {"bpp": bpp, "psnr": psnr,
                         "encode_s": round(float(np.mean(seconds)), 2)}
        print(f"{name}: bpp {np.round(bpp, 4).tolist()}, PSNR {np.round(psnr, 2).tolist()}, "
              f"encode {results[name]['encode_s']} s per image", flush=True)
    base = {"name": "N=0", "results": {"bpp": results["0"]["bpp"],
                                       "psnr-rgb": results["0"]["psnr"]}}
    for name, r in results.items():
        curve = {"name": name, "results": {"bpp": r["bpp"], "psnr-rgb": r["psnr"]}}
        r["bd_rate_vs_0"] = round(rd.bd_rate(base, curve), 2) \
            if name != "0" and len(qualities) > 1 else 0.0
    print(json.dumps(results))


if __name__ == "__main__":
    main()
