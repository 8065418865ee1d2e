"""Training step time of the CPU hyperprior (N = 96, M = 128, batch 8 of 128x128) against
CompressAI's same model and recipe, measured in the same run.

    python benchmarks/train_step_vs_compressai.py --compressai-python /path/to/venv/bin/python \
        [--config configs/cpu/hyperprior.py] [--rounds 6] [--steps 10]

The two alternate in rounds of ``--steps`` steps each, so that both see the same machine
load; the figure that matters is the ratio (ours / CompressAI's), median over rounds.
CompressAI runs in its own process (``benchmarks/compressai_step.py``) with the Python of a
venv that has it: ``pip install torch==2.13.0 compressai==1.2.8 "numpy<2"`` (see
``../shared/DESIGN.md``). Its import of ``torchvision.transforms`` is met by a stub
folder put first on its PYTHONPATH, since the only torchvision offered here fails to import.
Without ``--compressai-python`` only our step is timed. The last line is JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import train_throughput


def our_step(config_path: str, overrides: list[str]):
    """A function running n training steps of the config (compiled and warm)."""
    _, step, state, batch = train_throughput.training_step(config_path, overrides)
    holder = [state]

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            holder[0], metrics = step(holder[0], batch)
        jax.block_until_ready(metrics)
        return time.perf_counter() - t0

    run(2)
    return run


def compressai_worker(python: str, stub_dir: str, threads: int):
    pkg = os.path.join(stub_dir, "torchvision")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write("from . import transforms\n")
    open(os.path.join(pkg, "transforms.py"), "w").close()
    env = dict(os.environ, PYTHONPATH=stub_dir)
    proc = subprocess.Popen([python, os.path.join(REPO, "benchmarks", "compressai_step.py"),
                             str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        raise SystemExit(f"the CompressAI worker did not start (got {line!r}); check that "
                         f"{python} can import torch and compressai")

    def run(n: int) -> float:
        proc.stdin.write(f"run {n}\n")
        proc.stdin.flush()
        return float(proc.stdout.readline())

    return proc, run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(REPO, "configs", "cpu", "hyperprior.py"))
    parser.add_argument("--set", nargs="*", default=[], help="key=value config overrides")
    parser.add_argument("--compressai-python", default="",
                        help="Python of a venv with torch and compressai (omit: ours only)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                        help="PyTorch threads (default: all cores, as XLA uses)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    ours = our_step(args.config, args.set)
    theirs, proc = None, None
    with tempfile.TemporaryDirectory() as stub_dir:
        if args.compressai_python:
            proc, theirs = compressai_worker(args.compressai_python, stub_dir, args.threads)
        our_times, their_times = [], []
        for r in range(args.rounds):
            our_times.append(ours(args.steps) / args.steps)
            line = f"round {r + 1}: ours {our_times[-1]:.3f} s/step"
            if theirs:
                their_times.append(theirs(args.steps) / args.steps)
                line += (f", CompressAI {their_times[-1]:.3f} s/step, "
                         f"ratio {our_times[-1] / their_times[-1]:.2f}")
            print(line, flush=True)
        if proc:
            proc.stdin.close()
            proc.wait()
    result = {"ours_step_s": round(float(np.median(our_times)), 4)}
    if their_times:
        result["compressai_step_s"] = round(float(np.median(their_times)), 4)
        result["ratio"] = round(float(np.median(np.divide(our_times, their_times))), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
