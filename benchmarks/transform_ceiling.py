"""How much of a model's distortion is its transforms', not its quantiser's: the PSNR of the
synthesis of the analysis's own y, unquantised, beside the coded y_hat and finer steps.

    python benchmarks/transform_ceiling.py [--model laplacian-mse-vr] [--quality 1,4,6] \
        [--images 4] [--finer 1.414,2,4]

For each quality, the mean PSNR on the first K Kodak images of ``g_s`` of ``round(y)`` (what
the file decodes to, without the entropy coder), of ``round(s y) / s`` for each finer step
``1 / s``, and of ``y`` itself: the ceiling that no quantiser can pass with these
transforms, and the share of the coded image's squared error that is already in it. The last
line is JSON: {"QUALITY": {"coded", "ceiling", "finer": {"S": psnr}, "ceiling_share"}}.
"""

import argparse
import json
import os
import sys

import jax.numpy as jnp
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import kodak_model  # noqa: E402
from laplace_codec.evaluation import metrics  # noqa: E402
from laplace_codec.models import model as model_lib  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kodak_model.add_flags(parser)
    parser.add_argument("--finer", default="1.414,2,4",
                        help="comma-separated factors s > 1: quantisation steps 1 / s")
    args = parser.parse_args()
    codec, qualities, pictures = kodak_model.load(args)
    steps = [float(s) for s in args.finer.split(",") if s.strip()]
    model, params = codec.model, codec.params
    results = {}
    for q in qualities:
        q_arg = None if q is None else jnp.float32(q)
        psnr = {}
        for x in pictures:
            x_in = model_lib.from_uint8(jnp.asarray(x[None]))
            y = model.apply(params, x_in, q_arg, method=model.y_from_x)
            for name, latent in [("coded", jnp.round(y))] + [
                    (str(s), jnp.round(y * s) / s) for s in steps] + [("ceiling", y)]:
                x_hat = model.apply(params, latent, q_arg, method=model.synthesize)
                decoded = np.asarray(model_lib.to_uint8(x_hat[0])).astype(np.uint8)
                psnr.setdefault(name, []).append(metrics.psnr(x, decoded))
        mean = {k: float(np.mean(v)) for k, v in psnr.items()}
        share = 10 ** ((mean["coded"] - mean["ceiling"]) / 10)  # ratio of the two MSEs
        results[str(q)] = dict(coded=mean["coded"], ceiling=mean["ceiling"],
                               finer={str(s): mean[str(s)] for s in steps},
                               ceiling_share=share)
        finer = ", ".join(f"step 1/{s:g} {mean[str(s)]:.2f}" for s in steps)
        print(f"quality {q}: coded y_hat {mean['coded']:.2f} dB; {finer}; unquantised y "
              f"{mean['ceiling']:.2f} dB: {100 * share:.0f}% of the coded image's squared "
              f"error is the transforms'", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
