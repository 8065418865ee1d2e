"""Where a training step's time goes: a few traced steps of a config's compiled step (as
``benchmarks/train_throughput.py`` builds it, random batches), XLA:CPU's thunks summed by
kind, by model scope (from the optimised HLO's metadata) and one by one.

    taskset -c 0 python benchmarks/train_profile.py --config configs/cpu/variable_long.py
    taskset -c 0 python benchmarks/train_profile.py --config configs/cpu/hyperprior.py --match g_a/Down_1

Pin it to one CPU: on one the thunks run one after another and their sum is close to the
step's time; with more, the thread pool's share is not attributed. Thunks that XLA made
without metadata (some convolutions it rewrites) are counted under "(no metadata)". The
last line is JSON: {"step_s", "per_step_ms": {kind: ms}, "per_scope_ms": {scope: ms}}.
"""

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile
import time

import jax

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.sampling_profile import kind  # noqa: E402
from benchmarks.train_throughput import training_step  # noqa: E402

_INSTRUCTION = re.compile(r"\s*(?:ROOT )?%?([\w.\-]+) = ")
_OP_NAME = re.compile(r'op_name="([^"]+)"')
NO_METADATA = "(no metadata)"


def op_names(hlo_text: str) -> dict[str, str]:
    """Each instruction of the optimised HLO -> its metadata's op_name (or NO_METADATA)."""
    names = {}
    for line in hlo_text.splitlines():
        m = _INSTRUCTION.match(line)
        if m:
            op = _OP_NAME.search(line)
            names[m.group(1)] = op.group(1) if op else NO_METADATA
    return names


def scope(op_name: str, depth: int) -> str:
    """The first ``depth`` module names of an op (jit, jvp and transpose wrappers dropped)."""
    path = [p for p in op_name.split("/") if not re.match(r"(jit|jvp|transpose)\(", p)]
    return "/".join(path[:depth]) or op_name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(REPO, "configs", "cpu",
                                                         "variable_long.py"))
    parser.add_argument("--set", nargs="*", default=[], help="key=value config overrides")
    parser.add_argument("--steps", type=int, default=5, help="steps timed, then traced")
    parser.add_argument("--depth", type=int, default=4, help="module names kept per scope")
    parser.add_argument("--top", type=int, default=25, help="rows of each table")
    parser.add_argument("--match", help="also list every thunk whose op_name contains this")
    args = parser.parse_args()
    if args.steps < 1 or args.depth < 1 or args.top < 1:
        parser.error("--steps, --depth and --top must be at least 1")

    config, step, state, batch = training_step(args.config, args.set)
    names = op_names(step.lower(state, batch).compile().as_text())
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    step_s = (time.perf_counter() - t0) / args.steps
    with tempfile.TemporaryDirectory() as trace_dir:
        jax.profiler.start_trace(trace_dir)
        for _ in range(args.steps):
            state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
        jax.profiler.stop_trace()
        trace_file, = glob.glob(os.path.join(trace_dir, "plugins", "profile", "*",
                                             "*.trace.json.gz"))
        with gzip.open(trace_file) as f:
            events = json.load(f)["traceEvents"]
    by_kind, by_scope, by_thunk = (collections.Counter() for _ in range(3))
    for e in events:
        name = re.sub(r"(\.clone)+$", "", e.get("name", ""))
        if e.get("ph") != "X" or name not in names:
            continue
        ms = e["dur"] / 1e3 / args.steps
        by_kind[kind(name)] += ms
        by_scope[scope(names[name], args.depth)] += ms
        by_thunk[name] += ms
    total = sum(by_kind.values())
    print(f"{config.name} ({args.config}), {jax.local_devices()[0].platform} with "
          f"{len(os.sched_getaffinity(0))} CPU(s): {step_s:.3f} s per step untraced, "
          f"thunks {total:.0f} ms per step")
    for title, table in (("kind", by_kind), ("scope", by_scope)):
        print(f"\n| {title} | ms per step | share |\n| --- | ---: | ---: |")
        for key, ms in table.most_common(args.top):
            print(f"| {key} | {ms:.1f} | {100 * ms / total:.1f}% |")
    print(f"\nthe {args.top} costliest thunks (ms per step, op_name):")
    for name, ms in by_thunk.most_common(args.top):
        print(f"  {ms:7.1f}  {name:30s} {names[name][-110:]}")
    if args.match:
        print(f"\nthunks of {args.match!r}:")
        for name, ms in by_thunk.most_common():
            if args.match in names[name]:
                print(f"  {ms:7.2f}  {name:30s} {names[name][-110:]}")
    print(json.dumps({"step_s": round(step_s, 4),
                      "per_step_ms": {k: round(v, 1) for k, v in by_kind.most_common() if v >= 0.5},
                      "per_scope_ms": {k: round(v, 1) for k, v in by_scope.most_common()
                                       if v >= 0.5}}))


if __name__ == "__main__":
    main()
