"""Markdown tables that compare evaluated models, for docs/RESULTS.md and your own runs.

    python -m tools.report --baseline hyperprior \\
        --row hyperprior=runs/ablation/entropy=hyperprior.json \\
        --row channel-only='runs/ablation/entropy=laplacian,spatial=none.json' \\
        --bench entropy_decode.json --timing hyperprior=hyperprior_ms --timing channel-only=channel_ms

Each ``--row LABEL=FILE`` is one model of an ``evaluate.py --out`` file (``FILE@I`` picks
the I-th checkpoint of a multi-checkpoint file). The table gives the mean Kodak figures, the
bits each row saves against ``--baseline`` (``1 - bpp / bpp_baseline``; the rows should share
a lambda, as the paper's Tables 1b and 2 do), and with ``--bench`` (the JSON line of a
benchmark) a time column whose entries ``--timing LABEL=KEY`` pick.

Curves instead of points: ``--curve FILE`` (repeatable) takes each file's curve and its
classical and published comparisons, and prints their BD-rates (PSNR) against every
``--bd-anchor`` (a bundled anchor such as ``vtm``, or the name of a loaded curve), with
``--plot PNG`` drawing them all on one figure:

    python -m tools.report --curve laplacian.json --curve hyperprior.json \
        --bd-anchor vtm --bd-anchor 'hyperprior-mse' --plot rd.png
"""

from __future__ import annotations

import argparse
import json
import sys

from laplace_codec.errors import InputError
from laplace_codec.evaluation import anchors as anchors_lib
from laplace_codec.evaluation import rd

COLUMNS = (("bpp", "bpp", ".4f"), ("psnr-rgb", "PSNR (dB)", ".2f"),
           ("ms-ssim-rgb", "MS-SSIM", ".4f"), ("lpips", "LPIPS", ".4f"), ("fid", "FID", ".2f"),
           ("fid_std", "FID std", ".2f"), ("kid", "KID", ".4f"), ("kid_std", "KID std", ".4f"))


def load_row(spec: str) -> tuple[str, dict]:
    """``LABEL=FILE`` or ``LABEL=FILE@I``: (label, the mean figures and model name)."""
    label, sep, target = spec.partition("=")
    if not sep or not label or not target:
        raise InputError(f"a row is LABEL=FILE (or LABEL=FILE@INDEX), got {spec!r}")
    path, at, index = target.rpartition("@")
    if not at or not index.isdigit():  # no index: the whole target is the path
        path, at, index = target, "", ""
    try:
        with open(path) as f:
            result = json.load(f)
    except FileNotFoundError:
        raise InputError(f"row {label!r}: no such file {path!r}; write it with "
                         f"evaluate.py --out") from None
    except json.JSONDecodeError as e:
        raise InputError(f"row {label!r}: {path} is not JSON ({e})") from None
    if "results" not in result or "models" not in result:
        raise InputError(f"row {label!r}: {path} is not an evaluate.py result (no "
                         f"'results'/'models')")
    count = len(result["models"])
    if at:
        if int(index) >= count:
            raise InputError(f"row {label!r}: index {index!r} is not one of 0..{count - 1}")
        i = int(index)
    elif count == 1:
        i = 0
    else:
        raise InputError(f"row {label!r}: {path} holds {count} models; pick one with "
                         f"{path}@INDEX (0..{count - 1})")
    figures = {k: v[i] for k, v in result["results"].items()}
    figures["model"] = result["models"][i]
    return label, figures


def compare(rows: list[tuple[str, dict]], baseline: str | None = None,
            timings: dict[str, float] | None = None, timing_name: str = "decode (ms)") -> str:
    """A Markdown table of ``rows`` (label, figures), with bits saved against ``baseline``
    and, where given, one time per row."""
    if not rows:
        raise InputError("no rows to compare")
    labels = [label for label, _ in rows]
    if len(set(labels)) != len(labels):
        raise InputError(f"row labels repeat: {labels}")
    if baseline is not None and baseline not in labels:
        raise InputError(f"baseline {baseline!r} is not a row label; labels: {labels}")
    timings = timings or {}
    unknown = sorted(set(timings) - set(labels))
    if unknown:
        raise InputError(f"timings for unknown rows {unknown}; labels: {labels}")
    columns = [c for c in COLUMNS if any(f.get(c[0]) is not None for _, f in rows)]
    head = ["model"] + [c[1] for c in columns]
    if baseline is not None:
        base_bpp = dict(rows)[baseline]["bpp"]
        head.append(f"bits saved vs {baseline}")
    if timings:
        head.append(timing_name)
    lines = ["| " + " | ".join(head) + " |",
             "| --- |" + " ---: |" * (len(head) - 1)]
    for label, f in rows:
        cells = [label] + ["-" if f.get(k) is None else format(f[k], spec)
                           for k, _, spec in columns]
        if baseline is not None:
            cells.append(f"{100 * (1 - f['bpp'] / base_bpp):.1f}%")
        if timings:
            t = timings.get(label)
            cells.append("-" if t is None else f"{t:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_curves(paths: list[str]) -> list[dict]:
    """The curve of each ``evaluate.py --out`` file, then their comparisons (each name once)."""
    mains, others = [], {}
    for path in paths:
        try:
            with open(path) as f:
                result = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"--curve {path}: cannot read an evaluate.py result ({e})") from None
        if "results" not in result or "name" not in result:
            raise InputError(f"--curve {path}: not an evaluate.py result (no name/results)")
        mains.append({"name": result["name"], "results": result["results"]})
        for c in result.get("comparisons", []):
            others.setdefault(c["name"], c)
    names = [c["name"] for c in mains]
    if len(set(names)) != len(names):
        raise InputError(f"curve names repeat: {names}; name them with evaluate.py --name")
    return mains + [c for name, c in others.items() if name not in names]


def bd_table(curves: list[dict], anchors: list[str]) -> str:
    """A Markdown table of each curve's rate range and BD-rate (PSNR) against each anchor:
    a bundled anchor name (``vtm``) or the name of one of ``curves``."""
    by_name = {c["name"]: c for c in curves}
    resolved = []
    for a in anchors:
        if a in by_name:
            resolved.append(by_name[a])
        elif a in anchors_lib.names():
            resolved.append(anchors_lib.load(a))
        else:
            raise InputError(f"--bd-anchor {a!r} is neither a loaded curve "
                             f"({sorted(by_name)}) nor a bundled anchor {anchors_lib.names()}")
    head = ["curve", "points", "bpp"] + [f"BD-rate vs {a['name']}" for a in resolved]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for c in curves:
        bpp = [b for b in c["results"].get("bpp", []) if b is not None]
        cells = [c["name"], str(len(bpp)),
                 f"{min(bpp):.3f}-{max(bpp):.3f}" if bpp else "-"]
        for a in resolved:
            try:
                value = rd.bd_rate(a, c) if a is not c and "psnr-rgb" in c["results"] else None
            except (ValueError, ZeroDivisionError):
                value = None
            cells.append("-" if value is None or value != value else f"{value:+.1f}%")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _bench_timings(bench: str | None, specs: list[str]) -> dict[str, float]:
    if not specs:
        return {}
    if bench is None:
        raise InputError("--timing needs --bench FILE (a benchmark's JSON line)")
    try:
        with open(bench) as f:
            figures = json.loads(f.read().strip().splitlines()[-1])
    except (OSError, IndexError, json.JSONDecodeError) as e:
        raise InputError(f"--bench {bench}: cannot read a JSON line ({e})") from None
    out = {}
    for spec in specs:
        label, sep, key = spec.partition("=")
        if not sep or key not in figures:
            raise InputError(f"--timing {spec!r}: expected LABEL=KEY with KEY one of "
                             f"{sorted(figures)}")
        out[label] = float(figures[key])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--row", action="append", default=[], help="LABEL=FILE[@INDEX]")
    parser.add_argument("--baseline", help="label of the row bits saved are measured against")
    parser.add_argument("--bench", help="a benchmark's output (its last line is JSON)")
    parser.add_argument("--timing", action="append", default=[], help="LABEL=KEY of --bench")
    parser.add_argument("--timing-name", default="decode (ms)")
    parser.add_argument("--curve", action="append", default=[],
                        help="an evaluate.py --out file: its curve and comparisons")
    parser.add_argument("--bd-anchor", action="append", default=[], dest="bd_anchor",
                        help="with --curve: a bundled anchor (vtm) or a loaded curve's name")
    parser.add_argument("--plot", help="with --curve: write the RD plot (PNG) here")
    args = parser.parse_args(argv)
    try:
        if args.curve and args.row:
            raise InputError("give --row (points) or --curve (curves), not both")
        if args.curve:
            curves = load_curves(args.curve)
            print(bd_table(curves, args.bd_anchor or ["vtm"]))
            if args.plot:
                published = {a["name"] for a in map(anchors_lib.load, anchors_lib.names())}
                for c in curves:
                    if c["name"] in published:
                        c.setdefault("style", {"ls": "--", "marker": "x"})
                rd.plot(curves, args.plot)
            return 0
        rows = [load_row(spec) for spec in args.row]
        print(compare(rows, args.baseline, _bench_timings(args.bench, args.timing),
                      args.timing_name))
    except InputError as e:
        print(f"report: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
