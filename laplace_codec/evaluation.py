"""Rate-distortion evaluation with real bitstreams: ``evaluate(...)``, called by evaluate.py.

For every image and checkpoint: the file is really written (``compress``) and read back
(``decompress``); actual bpp counts every byte of the file, header included. Estimated bpp
is the model's own -log2 likelihood of the coded latents. Times exclude compilation (each
image shape is encoded and decoded once before the timed run) and stop after the device
work has finished (the codec returns host arrays).

The JSON follows CompressAI's results layout (``name``, ``description``,
``results: {"bpp": [...], "psnr-rgb": [...], ...}``, one entry per checkpoint, so a lambda
sweep makes one curve), plus ``per_image`` records.
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from laplace_codec import codec as codec_lib
from laplace_codec import data, images, metrics


def evaluate_codec(codec: codec_lib.Codec, paths: list[str], progress: bool = True) -> dict:
    from tqdm import tqdm

    records, warmed = [], set()
    for path in tqdm(paths, desc=f"{codec.name}", disable=not progress, unit="image"):
        x = images.read_image(path)
        shape = codec_lib.pad_image(x)[0].shape
        if shape not in warmed:  # compile outside the clock
            codec.decompress(codec.compress(x))
            warmed.add(shape)
        t0 = time.perf_counter()
        encoded = codec.encode(x)
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        x_hat = codec.decompress(encoded.data)
        decode_s = time.perf_counter() - t0
        pixels = x.shape[0] * x.shape[1]
        err = metrics.mse(x, x_hat)
        records.append(dict(
            image=os.path.basename(path), height=x.shape[0], width=x.shape[1],
            bytes=len(encoded.data), bpp=8 * len(encoded.data) / pixels,
            estimated_bpp=encoded.estimated_bits / pixels, mse=err,
            psnr=metrics.psnr_from_mse(err), ms_ssim=metrics.ms_ssim(x, x_hat),
            encode_s=encode_s, decode_s=decode_s))
    return dict(model=codec.model_id, per_image=records, mean=_means(records))


def _means(records: list[dict]) -> dict:
    def mean(key):
        values = [r[key] for r in records if r[key] is not None]
        return float(np.mean(values)) if values else None

    out = {k: mean(k) for k in ("bpp", "estimated_bpp", "psnr", "ms_ssim", "encode_s",
                                "decode_s")}
    out["psnr_of_mean_mse"] = metrics.psnr_from_mse(float(np.mean([r["mse"] for r in records])))
    return out


def evaluate(ckpts: list[str], data_glob: str, out: str | None = None,
             name: str | None = None, progress: bool = True) -> dict:
    """Evaluates each checkpoint on the images matching ``data_glob``; writes JSON to out."""
    paths = data.image_files(data_glob)
    runs = [evaluate_codec(codec_lib.load(c), paths, progress) for c in ckpts]
    key = [("bpp", "bpp"), ("estimated_bpp", "estimated_bpp"), ("psnr-rgb", "psnr"),
           ("psnr-rgb-of-mean-mse", "psnr_of_mean_mse"), ("ms-ssim-rgb", "ms_ssim"),
           ("encoding_time", "encode_s"), ("decoding_time", "decode_s")]
    result = dict(
        name=name or (runs[0]["model"].split("@")[0] if len(runs) == 1 else "laplace_codec"),
        description=(f"laplace_codec on {len(paths)} images ({data_glob}); real files, header "
                     f"included; psnr-rgb is the mean of per-image PSNR, psnr-rgb-of-mean-mse "
                     f"the PSNR of the mean MSE"),
        results={k: [r["mean"][m] for r in runs] for k, m in key},
        models=[r["model"] for r in runs],
        per_image=[dict(model=r["model"], images=r["per_image"]) for r in runs],
    )
    if out:
        images.atomic_write(out, json.dumps(_jsonable(result), indent=2).encode())
    return result


def _jsonable(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    return obj


def table(result: dict) -> str:
    """A plain-text table of the mean figures of each checkpoint."""
    res = result["results"]
    lines = [f"{'model':<28} {'bpp':>8} {'est bpp':>8} {'PSNR':>7} {'MS-SSIM':>8} "
             f"{'enc s':>7} {'dec s':>7}"]
    for i, m in enumerate(result["models"]):
        ms = res["ms-ssim-rgb"][i]
        lines.append(f"{m:<28} {res['bpp'][i]:>8.4f} {res['estimated_bpp'][i]:>8.4f} "
                     f"{res['psnr-rgb'][i]:>7.2f} {ms if ms is None else format(ms, '.4f'):>8} "
                     f"{res['encoding_time'][i]:>7.3f} {res['decoding_time'][i]:>7.3f}")
    return "\n".join(lines)
