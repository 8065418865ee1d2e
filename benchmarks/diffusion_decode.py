"""Decode time (and, with a trained checkpoint, quality) of the diffusion decoder against the
number of sampling steps, for 768x512 images on this CPU.

    python benchmarks/diffusion_decode.py                       # configs/cpu/diffusion.py, untrained
    python benchmarks/diffusion_decode.py --steps 10 --set model.diffusion.width=16 \
        'model.diffusion.multipliers=(1,4,6,8)' model.diffusion.condition=add \
        model.diffusion.skips=add model.diffusion.upsample_kernel=1   # the cheap U-Net
    python benchmarks/diffusion_decode.py --ckpt runs/sigma_b/sigma_b_max=25.0 \
        --images '../shared/data/kodak/*.png' --limit 4 --samplers ancestral,ddim

Without ``--ckpt`` the model of configs/cpu/diffusion.py is initialised at random (with coding
tables built from those weights): decode times only. With a checkpoint, every image is coded
once and decoded with each step count and sampler, and PSNR and LPIPS (AlexNet) against the
original are averaged. decode_s is the whole ``Codec.decode`` of the first image (entropy
decoding included); compilation is excluded by compiling the sampler for each step count
ahead of time (``lower().compile()``, which the jitted call then reuses) rather than by an
untimed decode, which at 500 steps would double the benchmark's run time.
The last line is JSON: ``{"gflop_per_step", "steps": {"500": {"decode_s", "psnr", "lpips"},
...}}`` (``gflop_per_step``: XLA's count for one step, the g_s pyramid included) for the first sampler, plus ``"<sampler>_steps"`` for each further one.
"""

import argparse
import glob
import json
import os
import sys
import time

import jax
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from laplace_codec import images
from laplace_codec.evaluation import metrics  # noqa: E402
from laplace_codec.models import model as model_lib  # noqa: E402
from laplace_codec.training import config_files  # noqa: E402
from laplace_codec.training import loop as training  # noqa: E402
from laplace_codec.api import load  # noqa: E402
from laplace_codec.coding.codec import Codec  # noqa: E402
from laplace_codec.coding.tables import tables_for  # noqa: E402


def untrained_codec(config_path: str, overrides: list[str]) -> Codec:
    config = config_files.load_config(config_path, overrides)
    model = model_lib.from_config(config.model)
    params = training.init_state(model, config, jax.random.PRNGKey(0))["params"]
    return Codec(model, params, tables_for(model, params), config.name)


def sampling_gflop(codec: Codec, y_hat, q=None) -> float:
    """GFLOP of a one-step DDIM sample of ``y_hat`` (the g_s pyramid and one U-Net
    evaluation), as XLA's cost analysis counts them (``q``: a variable-rate model's quality)."""
    m, key = codec.model, jax.random.PRNGKey(0)
    one_step = jax.jit(lambda p, y, q: model_lib.sample_image(m, p, y, key, 1, "ddim",
                                                              quality=q))
    cost = one_step.lower(codec.params, jax.numpy.asarray(y_hat), q).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return cost["flops"] / 1e9


def test_images(pattern: str | None, limit: int) -> list[np.ndarray]:
    paths = sorted(glob.glob(pattern))[:limit] if pattern else []
    if paths:
        return [images.read_image(p) for p in paths]
    photo = images.read_image("sample:astronaut")  # 512x512: tiled to 768 wide
    return [np.concatenate([photo, photo[:, :256]], axis=1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="trained diffusion codec (default: untrained, times only)")
    parser.add_argument("--images", default=os.path.join(REPO, "..", "shared", "data", "kodak",
                                                         "*.png"))
    parser.add_argument("--limit", type=int, default=2, help="images to evaluate")
    parser.add_argument("--steps", default="500,100,50,25,10")
    parser.add_argument("--samplers", default="ancestral", help="comma-separated")
    parser.add_argument("--config", default=os.path.join(REPO, "configs", "cpu", "diffusion.py"),
                        help="without --ckpt: the untrained model's config")
    parser.add_argument("--set", nargs="*", default=[], help="without --ckpt: key=value "
                        "config overrides (e.g. model.diffusion.width=16)")
    args = parser.parse_args()
    if args.ckpt and (args.set or args.config != parser.get_default("config")):
        parser.error("--config and --set choose an untrained model; a --ckpt has its own")

    codec = load(args.ckpt) if args.ckpt else untrained_codec(args.config, args.set)
    if not codec.diffusion:
        parser.error(f"{args.ckpt} has an MSE decoder, not a diffusion decoder")
    pictures = test_images(args.images, args.limit if args.ckpt else 1)
    files = [codec.compress(x) for x in pictures]
    steps_list = [int(s) for s in args.steps.split(",")]
    print(f"{codec.model_id}: {len(pictures)} image(s) of {pictures[0].shape[1]}x"
          f"{pictures[0].shape[0]}", flush=True)
    warm = codec.decode(files[0], steps=1)  # compiles the entropy decoding path
    q = None if warm.header.quality is None else jax.numpy.float32(warm.header.quality)
    result = {"gflop_per_step": round(sampling_gflop(codec, warm.y_hat, q), 1)}
    print(f"one sampling step (g_s pyramid + U-Net, XLA's count): "
          f"{result['gflop_per_step']} GFLOP", flush=True)
    for i, sampler in enumerate(args.samplers.split(",")):
        figures = {}
        for steps in steps_list:
            codec._sample.lower(codec.params, jax.numpy.asarray(warm.y_hat),
                                warm.header.decoder_seed, steps, sampler, q).compile()
            t0 = time.perf_counter()
            decoded = [codec.decode(files[0], steps=steps, sampler=sampler).image]
            decode_s = time.perf_counter() - t0
            entry = dict(decode_s=round(decode_s, 3))
            if args.ckpt:
                decoded += [codec.decompress(f, steps=steps, sampler=sampler) for f in files[1:]]
                entry["psnr"] = round(float(np.mean(
                    [metrics.psnr(x, y) for x, y in zip(pictures, decoded)])), 3)
                entry["lpips"] = round(float(np.mean(
                    [metrics.lpips(x, y) for x, y in zip(pictures, decoded)])), 4)
            figures[str(steps)] = entry
            print(f"{sampler} {steps} steps: {entry}", flush=True)
        result["steps" if i == 0 else f"{sampler}_steps"] = figures
    print(json.dumps(result))


if __name__ == "__main__":
    main()
