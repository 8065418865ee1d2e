"""Training steps with laplace_codec's malloc settings (laplace_codec/allocator.py) against
glibc's defaults, in alternating runs of ``benchmarks/train_throughput.py`` (compile excluded):

    python benchmarks/allocator.py [--config configs/cpu/hyperprior.py ...] [--rounds 2] \\
        [--steps 20] [--cpus 0]

Each round runs every config once with the settings and once with
``LAPLACE_CODEC_SYSTEM_MALLOC=1``. Prints, per run, the step time, the minor page faults per
step and the peak resident size; then per config the ratio of the median step times
(settings / defaults). ``--cpus 0`` pins the runs to that core list (``taskset``), so that a
training on the other core does not share it. The last line is JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THROUGHPUT = os.path.join(REPO, "benchmarks", "train_throughput.py")


def run(config: str, steps: int, defaults: bool, cpus: str | None):
    env = dict(os.environ)
    env.pop("LAPLACE_CODEC_SYSTEM_MALLOC", None)
    if defaults:
        env["LAPLACE_CODEC_SYSTEM_MALLOC"] = "1"
    command = [sys.executable, THROUGHPUT, "--config", config, "--steps", str(steps)]
    if cpus:
        command = ["taskset", "-c", cpus] + command
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)  # the child's own peak resident size
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {code})")
    (figures,) = json.loads(output.strip().splitlines()[-1]).values()
    figures["peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+",
                        default=[os.path.join(REPO, "configs", "cpu", "hyperprior.py")])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cpus", default=None, help="taskset core list, e.g. 0")
    args = parser.parse_args()
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be at least 1")
    results = {}
    for config in args.config:
        runs = {"settings": [], "defaults": []}
        for _ in range(args.rounds):
            for variant in ("settings", "defaults"):
                figures = run(config, args.steps, variant == "defaults", args.cpus)
                runs[variant].append(figures)
                print(f"{os.path.relpath(config, REPO)} {variant}: {figures['step_s']:.4f} s/step, "
                      f"{figures['minor_faults_per_step']} page faults/step, "
                      f"peak {figures['peak_rss_mb']} MB", flush=True)
        ratio = (statistics.median(f["step_s"] for f in runs["settings"])
                 / statistics.median(f["step_s"] for f in runs["defaults"]))
        print(f"{os.path.relpath(config, REPO)}: step time {ratio:.3f}x glibc's defaults", flush=True)
        results[os.path.relpath(config, REPO)] = dict(ratio=round(ratio, 3), **runs)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
