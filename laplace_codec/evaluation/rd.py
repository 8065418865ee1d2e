"""Rate-distortion curves: Bjontegaard deltas and RD plots.

BD-rate and BD-PSNR come from the ``bjontegaard`` package with piecewise cubic Hermite
(``pchip``) interpolation of log-rate against distortion, integrated over the overlap of the
two curves (the method of VCEG-M33 with the monotone interpolation recommended since, as in
CompressAI's and JVET's tools). A negative BD-rate means fewer bits than the anchor at equal
quality.

A *curve* is a dict in CompressAI's results layout: ``{"name", "results": {"bpp": [...],
"psnr-rgb": [...], "lpips": [...], ...}}``.
"""

from __future__ import annotations

import io

import numpy as np

from laplace_codec.atomic import atomic_write

METHOD = "pchip"


def _bjontegaard():
    # Imported when a BD figure is computed: with scipy.interpolate it takes 0.18 s, which
    # every command would pay (the command line imports the evaluation layer through api).
    import bjontegaard

    return bjontegaard


def _points(curve: dict, metric: str):
    results = curve["results"]
    if metric not in results or "bpp" not in results:
        raise ValueError(f"curve {curve.get('name')!r} has no {metric!r} or 'bpp' results")
    pairs = sorted((r, d) for r, d in zip(results["bpp"], results[metric])
                   if r is not None and d is not None)
    if len(pairs) < 2:
        raise ValueError(f"curve {curve.get('name')!r} needs at least 2 points for a "
                         f"Bjontegaard delta, has {len(pairs)}")
    rate, dist = map(np.asarray, zip(*pairs))
    return rate, dist


def bd_rate(anchor: dict, test: dict, metric: str = "psnr-rgb") -> float:
    """Bjontegaard-delta rate of ``test`` against ``anchor`` in percent (higher-is-better
    metric such as PSNR or MS-SSIM)."""
    ra, da = _points(anchor, metric)
    rt, dt = _points(test, metric)
    return float(_bjontegaard().bd_rate(ra, da, rt, dt, method=METHOD,
                                     require_matching_points=False, min_overlap=0.0))


def bd_psnr(anchor: dict, test: dict, metric: str = "psnr-rgb") -> float:
    """Bjontegaard-delta quality (dB for PSNR) of ``test`` against ``anchor``."""
    ra, da = _points(anchor, metric)
    rt, dt = _points(test, metric)
    return float(_bjontegaard().bd_psnr(ra, da, rt, dt, method=METHOD,
                                     require_matching_points=False, min_overlap=0.0))


def plot(curves: list[dict], path: str, title: str = "Kodak", focus: int = 0) -> None:
    """bpp against PSNR and, where curves have it, against LPIPS; written atomically. With
    ``focus``, the axes fit the first ``focus`` curves (the learned ones: up to 1.3 times
    their highest rate) and the others are clipped to that window."""
    import matplotlib  # a plotting backend: loaded only when a plot is asked for

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the backend

    metrics = [("psnr-rgb", "PSNR (RGB, dB)")]
    if any("lpips" in c["results"] for c in curves):
        metrics.append(("lpips", "LPIPS (AlexNet), lower is better"))
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 5), squeeze=False)
    focus_bpp = [r for c in curves[:focus] for r in c["results"].get("bpp", []) if r is not None]
    x_max = 1.3 * max(focus_bpp) if focus_bpp else None
    for ax, (metric, label) in zip(axes[0], metrics):
        shown = []
        for curve in curves:
            res = curve["results"]
            if metric not in res:
                continue
            pairs = sorted((r, d) for r, d in zip(res["bpp"], res[metric])
                           if r is not None and d is not None)
            if not pairs:
                continue
            x, y = zip(*pairs)
            shown += [v for r, v in pairs if x_max is None or r <= x_max]
            style = curve.get("style", {})
            ax.plot(x, y, marker=style.get("marker", "o"), linestyle=style.get("ls", "-"),
                    markersize=4, label=curve["name"])
        if x_max is not None and shown:
            low, high = min(shown), max(shown)
            pad = 0.05 * (high - low or 1.0)
            ax.set_xlim(0, x_max)
            ax.set_ylim(low - pad, high + pad)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(label)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=path.rsplit(".", 1)[-1] if "." in path else "png", dpi=120)
    plt.close(fig)
    atomic_write(path, buf.getvalue())
