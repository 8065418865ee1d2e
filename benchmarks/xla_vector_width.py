"""Compile time and step time of a config's training step under XLA:CPU vector widths.

    python benchmarks/xla_vector_width.py [--config configs/test_laplacian.py] \
        [--widths 128 256] [--steps 5] [--timeout 900]

Each width runs ``benchmarks/train_throughput.py`` in a fresh process with
``XLA_FLAGS=--xla_cpu_prefer_vector_width=W`` (no compilation cache), one after another, and
gives up on a compile after ``--timeout`` seconds. On AVX2 machines without AVX-512, 256 (XLA's
default) made the Laplacian test config's step compile for over 30 minutes (laplace_codec
sets 128: laplace_codec/xla_cpu.py). Prints one line per width, then JSON:
{"<width>": {"compile_s", "step_s"} or {"timeout_s"}}.
"""

import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from laplace_codec import xla_cpu  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(REPO, "configs", "test_laplacian.py"))
    parser.add_argument("--widths", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    print(f"{args.config}: AVX2 without AVX-512 (laplace_codec sets width 128): "
          f"{xla_cpu.needs_narrow_vectors()}", flush=True)
    results = {}
    for width in args.widths:
        env = {k: v for k, v in os.environ.items() if k != "LAPLACE_CODEC_CACHE"}
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} " \
                           f"--xla_cpu_prefer_vector_width={width}".strip()
        command = [sys.executable, os.path.join(REPO, "benchmarks", "train_throughput.py"),
                   "--config", args.config, "--steps", str(args.steps)]
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=args.timeout, check=True)
        except subprocess.TimeoutExpired:
            results[width] = {"timeout_s": args.timeout}
            print(f"width {width}: did not compile in {args.timeout:.0f} s", flush=True)
            continue
        except subprocess.CalledProcessError as e:
            sys.exit(f"width {width} failed:\n{e.stderr[-3000:]}")
        figures = next(iter(json.loads(done.stdout.strip().splitlines()[-1]).values()))
        results[width] = {"compile_s": figures["compile_s"], "step_s": figures["step_s"]}
        print(f"width {width}: compile {figures['compile_s']:.1f} s, "
              f"{figures['step_s']:.3f} s/step", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
