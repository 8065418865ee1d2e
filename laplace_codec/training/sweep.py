"""Sweeps: ml_collections config files with a ``get_hyper(h)`` function, run point by point.

A sweep file is a config file (it has ``get_config()``, so ``train.py`` takes it as is) that
also says which fields vary::

    def get_hyper(h):
        return h.product([h.sweep("config.loss.lmbda", [0.005, 0.01]),
                          h.sweep("config.model.laplacian.position", ["none", "laplacian"])])

``h.sweep``, ``h.fixed``, ``h.product``, ``h.zipit`` and ``h.chainit`` build a list of points,
each a dict of config overrides. One command trains every point, one after the other, each
into its own folder of the workdir (a point already trained is skipped by train.py's own
resume logic; a killed sweep continues where it stopped)::

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/pe.py --workdir=runs/pe

``--print_only`` prints one ``train.py`` command per point instead, for a scheduler, and
``--only TEXT`` keeps the points whose name contains TEXT (to run parts in parallel). A point
is named by its overrides (``entropy=laplacian,spatial=local``), or by its ``config.name``
when it sets one.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import subprocess
import sys

from laplace_codec.errors import InputError
from laplace_codec.training import config_files

Point = dict


class Hyper:
    """The sweep vocabulary (after the ``hyper`` module of Google's sweep files)."""

    @staticmethod
    def sweep(key: str, values) -> list[Point]:
        return [{key: v} for v in values]

    @staticmethod
    def fixed(key: str, value) -> list[Point]:
        return [{key: value}]

    @staticmethod
    def product(sweeps) -> list[Point]:
        return [dict(kv for point in combo for kv in point.items())
                for combo in itertools.product(*sweeps)]

    @staticmethod
    def zipit(sweeps) -> list[Point]:
        sweeps = list(sweeps)
        if len({len(s) for s in sweeps}) > 1:
            raise ValueError("zipit needs sweeps of equal length")
        return [dict(kv for point in combo for kv in point.items()) for combo in zip(*sweeps)]

    @staticmethod
    def chainit(sweeps) -> list[Point]:
        return [point for s in sweeps for point in s]


def load_points(path: str) -> list[Point]:
    module = config_files.load_module(path, "sweep_file")
    if not hasattr(module, "get_hyper"):
        raise InputError(f"{path} is not a sweep file: it needs get_config() and get_hyper(h)")
    points = module.get_hyper(Hyper())
    for point in points:
        for key in point:
            if not key.startswith("config."):
                raise InputError(f"{path}: sweep keys start with 'config.', got {key!r}")
    return points


def point_name(point: Point) -> str:
    """The point's folder: its ``config.name`` when it sets one, else its overrides."""
    if "config.name" in point:
        return str(point["config.name"])
    return ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in point.items()) or "default"


TRAIN_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "train.py")


def commands(sweep_file: str, workdir: str, extra: list[str],
             only: str | None = None) -> list[list[str]]:
    """One train.py command per point (with ``only``: per point whose name contains it)."""
    points = load_points(sweep_file)
    names = [point_name(p) for p in points]
    clash = {n for n in names if names.count(n) > 1}
    if clash:
        raise InputError(f"{sweep_file}: several points are named {sorted(clash)}; the last "
                         f"component of each key must tell the points apart")
    if not os.path.exists(TRAIN_PY):
        raise InputError(f"train.py not found at {TRAIN_PY}: run sweeps from a checkout")
    if only is not None:
        points = [p for p in points if only in point_name(p)]
        if not points:
            raise InputError(f"{sweep_file}: no point's name contains {only!r} (names: "
                             f"{', '.join(names)})")
    out = []
    for point in points:
        cmd = [sys.executable, TRAIN_PY, f"--config={sweep_file}",
               f"--workdir={os.path.join(workdir, point_name(point))}"]
        cmd += [f"--{k}={v}" for k, v in point.items()]
        if "config.name" not in point:  # the name files and logs carry
            cmd.append(f"--config.name={point_name(point)}")
        cmd += list(extra)
        out.append(cmd)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train every point of a sweep file.")
    parser.add_argument("--sweep", required=True, help="sweep file (configs/sweeps/*.py)")
    parser.add_argument("--workdir", required=True, help="one folder per point inside it")
    parser.add_argument("--print_only", action="store_true",
                        help="print one train.py command per point and exit")
    parser.add_argument("--only", help="train only the points whose name contains this")
    args, extra = parser.parse_known_args(argv)
    try:
        cmds = commands(args.sweep, args.workdir, extra, args.only)
    except InputError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        return 2
    if args.print_only:
        for cmd in cmds:
            print(shlex.join(["python", *cmd[1:]]))
        return 0
    for i, cmd in enumerate(cmds):
        print(f"[{i + 1}/{len(cmds)}] {shlex.join(['python', *cmd[1:]])}", flush=True)
        done = subprocess.run(cmd)
        if done.returncode:
            print(f"point {i + 1} failed with exit code {done.returncode}; stopping",
                  file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
