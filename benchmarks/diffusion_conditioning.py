"""How well a trained diffusion decoder denoises and samples, against its own MSE image, on
center crops (no entropy coding: y_hat comes from the model's forward pass).

    python benchmarks/diffusion_conditioning.py --ckpt runs/cpu-diffusion --crop 128 --limit 4
    python benchmarks/diffusion_conditioning.py --ckpt laplacian-diffusion-vr --crop 256 \
        --quality 4 --runs ddim:5,ddim:10,ddim:25,ddim:50
    python benchmarks/diffusion_conditioning.py --ckpt runs/variable-diffusion --crop 256 \
        --quality 2,4,6     # a variable-rate decoder: one set of figures per quality

Prints the PSNR of the MSE image ``g_s(y_hat)``; for t in ``--t``, the eps-MSE and the PSNR of
the one-step ``x0_hat`` (eq. 3) from ``z_t`` of the true image; then the PSNR of samples for
each ``--runs`` entry (``sampler:steps``; ``:noclip`` or ``:clip`` after it overrides
the decoder's ``clip_x0``, whether each step clips x0_hat to [-1, 1], ``:tau=0.5`` its
sampling ``temperature``, and ``:dc`` or ``:nodc`` its ``dc_from_mse``, whether x0_hat takes
its DC from the MSE image; for example ``ddim:50:noclip:tau=0.5:dc``), with their LPIPS and
mean colour shift (per channel, in 8-bit levels, against the originals; the MSE image's
too) and, with ``--bands``, the RMS of their error by band of DCT frequency |f| (as
benchmarks/residual_spectrum.py measures the MSE image's). A decoder whose samples fall far below its ``x0_hat`` at small t has a sampling
problem, not a training one.
The last line is JSON: ``{"mse_image_psnr": ..., "mse_image": {"lpips", "shift"}, "t":
{"0.1": {"eps_mse", "x0_psnr"}}, "samples": {"ddim:25": psnr}, "sample_quality":
{"ddim:25": {"lpips", "shift"}}}``; for a variable-rate decoder, one such object per
``--quality``: ``{"qualities": {"2": {...}, "4": {...}}}``.
"""

import argparse
import glob
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.residual_spectrum import band_energy  # noqa: E402
from laplace_codec import api, images
from laplace_codec.errors import InputError
from laplace_codec.evaluation import metrics
from laplace_codec.models import model as model_lib
from laplace_codec.models.decoders import blur_diffusion


def center_crops(pattern: str, limit: int, crop: int) -> np.ndarray:
    paths = sorted(glob.glob(pattern))[:limit]
    if not paths:
        raise SystemExit(f"no image matches {pattern!r}")
    try:
        return np.stack([images.center_crop(images.read_image(p), crop) for p in paths])
    except InputError as e:
        raise SystemExit(str(e)) from None


def zero_output_layer(variables):
    """The variables with the U-Net's last convolution (the only one with 3 outputs) zeroed."""
    unet = dict(variables["params"]["phi"]["unet"])
    (name,) = [k for k, v in unet.items() if k.startswith("Conv_") and v["kernel"].shape[-1] == 3]
    unet[name] = jax.tree.map(jnp.zeros_like, unet[name])
    phi = dict(variables["params"]["phi"], unet=unet)
    return {**variables, "params": dict(variables["params"], phi=phi)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True,
                        help="a diffusion codec (workdir, step or bundled model)")
    parser.add_argument("--images", default=os.path.join(REPO, "..", "shared", "data", "kodak",
                                                         "*.png"))
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--crop", type=int, default=128, help="a multiple of 64")
    parser.add_argument("--t", default="0.02,0.1,0.2,0.5,0.9")
    parser.add_argument("--runs", default="ddim:10,ddim:25,ancestral:100")
    parser.add_argument("--quality", default="",
                        help="a variable-rate decoder's qualities, e.g. 2,4,6 (default: its "
                             "default quality); one set of figures per quality")
    parser.add_argument("--zero-unet", action="store_true",
                        help="zero the U-Net's output layer: the preconditioning alone "
                             "(x_mse plus noise of std prior_std as the prior)")
    parser.add_argument("--prior-std", type=float, default=None,
                        help="with --zero-unet: another prior_std of the preconditioning")
    parser.add_argument("--prior-cutoff", type=float, default=None,
                        help="with --zero-unet: another prior_cutoff (unet.prior_spectrum)")
    parser.add_argument("--bands", default="",
                        help="increasing edges of bands of |f| (e.g. 0,0.5,1,1.5,2,2.5,3,4.45): "
                             "each image's RMS error in each band")
    args = parser.parse_args()
    if args.crop % 64:
        raise SystemExit(f"--crop must be a multiple of 64, got {args.crop}")

    codec = api.load(args.ckpt)
    model, variables = codec.model, codec.params
    if model.decoder != "diffusion":
        raise SystemExit(f"{args.ckpt} has an MSE decoder; this benchmark needs a diffusion one")
    qualities = parse_qualities(args.quality, model)
    if args.zero_unet:
        variables = zero_output_layer(variables)
        model = with_prior(model, args.prior_std, args.prior_cutoff)
    elif args.prior_std is not None or args.prior_cutoff is not None:
        raise SystemExit("--prior-std and --prior-cutoff go with --zero-unet: a trained U-Net "
                         "learnt its own prior's residual")
    originals = center_crops(args.images, args.limit, args.crop)
    results = {}
    for quality in qualities:
        if quality is not None:
            print(f"quality {quality:g}:")
        results[quality] = measure(model, variables, originals, quality, args)
    if qualities == [None]:
        print(json.dumps(results[None]))
    else:
        print(json.dumps({"qualities": {f"{q:g}": r for q, r in results.items()}}))


def with_prior(model, prior_std, prior_cutoff):
    """The model with the preconditioning's prior replaced where given (None: kept)."""
    options = dict(model.decoder_options)
    if prior_std is not None:
        options["prior_std"] = prior_std
    if prior_cutoff is not None:
        options["prior_cutoff"] = prior_cutoff
    return model.clone(decoder_options=tuple(sorted(options.items())))


def parse_qualities(text: str, model) -> list:
    """``--quality`` as a list: [None] for a fixed-rate model, else the qualities asked for
    (the model's default if none)."""
    if not model.rate_lmbdas:
        if text:
            raise SystemExit("--quality is for a variable-rate model; this one has a fixed rate")
        return [None]
    if not text:
        return [model_lib.default_quality(model)]
    try:
        qualities = [float(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"--quality takes numbers separated by commas, got {text!r}") from None
    top = len(model.rate_lmbdas)
    bad = [q for q in qualities if not 1 <= q <= top]
    if bad:
        raise SystemExit(f"--quality {bad} is outside this model's range [1, {top}]")
    return qualities


def parse_run(run: str, model) -> tuple[str, int, bool, float, bool]:
    """A ``--runs`` entry, ``sampler:steps[:clip|:noclip][:tau=T][:dc|:nodc]``, as (sampler,
    steps, clip, temperature, dc_from_mse); what it leaves out is the decoder's own setting."""
    usage = f"--runs entries are sampler:steps[:clip|:noclip][:tau=T][:dc|:nodc], got {run!r}"
    sampler, steps, *extra = run.split(":")
    clip = model_lib.diffusion_option(model, "clip_x0")
    temperature = model_lib.diffusion_option(model, "temperature")
    dc = model_lib.diffusion_option(model, "dc_from_mse")
    for item in extra:
        if item in ("clip", "noclip"):
            clip = item == "clip"
        elif item in ("dc", "nodc"):
            dc = item == "dc"
        elif item.startswith("tau="):
            try:
                temperature = blur_diffusion.check_temperature(float(item[4:]))
            except ValueError as e:
                raise SystemExit(f"{usage}: {e}") from None
        else:
            raise SystemExit(usage)
    if not steps.isdigit() or int(steps) < 1:
        raise SystemExit(usage)
    return sampler, int(steps), clip, temperature, dc


def measure(model, variables, originals: np.ndarray, quality, args) -> dict:
    """The MSE image, x0_hat at each ``--t`` and each ``--runs`` sample, at one quality."""
    x = model_lib.from_uint8(jnp.asarray(originals))
    q = None if quality is None else jnp.full((x.shape[0],), quality, jnp.float32)

    def psnr(a):
        mse = jnp.mean(jnp.square(jnp.clip(a, -1, 1) - x), axis=(1, 2, 3))
        return float(jnp.mean(10 * jnp.log10(4.0 / mse)))

    edges = [float(v) for v in args.bands.split(",")] if args.bands else []
    if edges and (len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:]))):
        raise SystemExit(f"--bands needs at least two increasing edges, got {args.bands!r}")

    def image_quality(a):  # mean LPIPS, the mean shift of each channel in 8-bit levels
        error = jnp.clip(a, -1, 1) - x
        a = np.asarray(model_lib.to_uint8(jnp.clip(a, -1, 1))).astype(np.uint8)
        lpips = float(np.mean([metrics.lpips(o, r) for o, r in zip(originals, a)]))
        shift = np.mean([metrics.colour_shift(o, r) for o, r in zip(originals, a)], axis=0)
        out = dict(lpips=round(lpips, 4), shift=[round(float(v), 2) for v in shift])
        if edges:
            energy, count = band_energy(error, edges)
            out["band_rms"] = [round(float(v), 4) for v in np.sqrt(energy / np.maximum(count, 1))]
        return out

    y_hat = model.apply(variables, x, train=False, quality=q)["y_hat"]
    cond = model.apply(variables, y_hat, q, method=model.condition)
    schedule = model_lib.diffusion_option(model, "schedule")
    eps_fn = jax.jit(lambda z, t: model.apply(variables, z, t, cond, method=model.denoise))
    result = dict(mse_image_psnr=psnr(cond[0]), mse_image=image_quality(cond[0]), t={},
                  samples={}, sample_quality={})
    print(f"MSE image g_s(y_hat): PSNR {result['mse_image_psnr']:.2f} dB, "
          f"{result['mse_image']}")

    eps = jax.random.normal(jax.random.PRNGKey(1), x.shape)
    for t in [float(v) for v in args.t.split(",")]:
        tt = jnp.full((x.shape[0],), t)
        z = blur_diffusion.diffuse(x, tt, eps, schedule)
        eps_hat = eps_fn(z, tt)
        x0 = blur_diffusion.predict_x0(z, tt, eps_hat, schedule)
        row = dict(eps_mse=float(jnp.mean(jnp.square(eps_hat - eps))), x0_psnr=psnr(x0))
        result["t"][str(t)] = row
        print(f"t = {t}: eps-MSE {row['eps_mse']:.4f}, x0_hat PSNR {row['x0_psnr']:.2f} dB")

    for run in args.runs.split(","):
        sampler, steps, clip, temperature, dc = parse_run(run, model)
        out = blur_diffusion.sample(eps_fn, x.shape, jax.random.PRNGKey(0), steps, schedule,
                                    sampler, clip, temperature=temperature,
                                    x0_dc=blur_diffusion.dc_coefficient(cond[0]) if dc else None)
        result["samples"][run] = psnr(out)
        result["sample_quality"][run] = image_quality(out)
        print(f"{run}: PSNR {result['samples'][run]:.2f} dB, "
              f"{result['sample_quality'][run]}", flush=True)
    return result


if __name__ == "__main__":
    main()
