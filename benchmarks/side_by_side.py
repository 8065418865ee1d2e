"""Two trainings on one machine: one at a time on every core, or side by side, each pinned to
a core of its own.

    python benchmarks/side_by_side.py [--config configs/cpu/variable_long.py ...] [--steps 10]

Each config's step is first timed alone, in a fresh process on all of this process's cores
(``benchmarks/train_throughput.py``); then one process per core is started at once, core k
running config k modulo the number of configs, each restricted to its core (XLA:CPU sizes its
thread pool from the process's CPU affinity, as ``taskset -c K`` does for a training). A
process's *share* is its step time alone over its step time pinned: the fraction of a whole
machine's work it got done. The pinned processes' shares add up to the machine's throughput
side by side relative to one run at a time (above 1: pinning pays). The last line is JSON.
Pause every training first: the figures are the machine's.
"""

import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THROUGHPUT = os.path.join(REPO, "benchmarks", "train_throughput.py")


def step_time(config: str, steps: int, cpu: int | None = None) -> subprocess.Popen:
    """A started ``train_throughput.py`` process for ``config``, pinned to ``cpu`` if given."""
    pin = None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))
    return subprocess.Popen([sys.executable, THROUGHPUT, "--config", config, "--steps", str(steps)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=pin)


def seconds_per_step(process: subprocess.Popen) -> float:
    out, err = process.communicate()
    if process.returncode:
        raise SystemExit(f"train_throughput.py failed:\n{err[-2000:]}")
    figures = json.loads(out.strip().splitlines()[-1])
    return next(iter(figures.values()))["step_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+",
                        default=[os.path.join(REPO, "configs", "cpu", "variable_long.py")])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    for path in args.config:
        if not os.path.isfile(path):
            raise SystemExit(f"no config file {path!r}")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit(f"this process may use {len(cpus)} core; side by side needs two or more")

    alone = {}
    for path in args.config:
        alone[path] = seconds_per_step(step_time(path, args.steps))
        print(f"alone on {len(cpus)} cores: {path}: {alone[path]:.3f} s/step", flush=True)

    plan = [(cpu, args.config[k % len(args.config)]) for k, cpu in enumerate(cpus)]
    running = [(cpu, path, step_time(path, args.steps, cpu)) for cpu, path in plan]
    pinned = []
    for cpu, path, process in running:
        s = seconds_per_step(process)
        share = alone[path] / s
        pinned.append(dict(cpu=cpu, config=path, step_s=s, share=round(share, 3)))
        print(f"pinned to core {cpu}: {path}: {s:.3f} s/step, share {share:.3f}", flush=True)
    total = sum(p["share"] for p in pinned)
    print(f"side by side, pinned: {total:.2f}x the work of one run at a time")
    print(json.dumps(dict(alone_step_s=alone, pinned=pinned, throughput_ratio=round(total, 3))))


if __name__ == "__main__":
    main()
