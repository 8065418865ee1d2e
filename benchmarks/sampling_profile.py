"""Where the diffusion decoder's sampling time goes: one traced run of ``sample_image`` (the
g_s pyramid and every DDIM step) on a 768x512 image, XLA:CPU's thunks summed by kind and by
the part of the model their HLO metadata names.

    taskset -c 0 python benchmarks/sampling_profile.py --ckpt runs/variable-diffusion --steps 10
    taskset -c 0 python benchmarks/sampling_profile.py --set model.diffusion.width=8

(without ``--ckpt``: the untrained model of ``--config``, configs/cpu/variable_diffusion.py,
with the ``--set`` overrides; times only). Prints the wall time of the untraced sample (best
of ``--repeat``), then two tables of the traced run in milliseconds per sampling step: by
kind of operation (convolution, matrix product, FFT, each kind of fused element-wise loop)
and by where in the model (the U-Net's blocks, the preconditioning's and the sampler's own
DCTs). On one CPU the thunks run one after another and their sum is the sample's time; with
more, the thread pool's share of the work is not attributed (the script says so): pin it to
one CPU for the shares. The last line is JSON: {"sample_s", "per_step_ms": {kind: ms},
"per_scope_ms": {scope: ms}} (0.5 ms and above).
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
import jax.numpy as jnp

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.diffusion_decode import test_images, untrained_codec  # noqa: E402
from laplace_codec.api import load  # noqa: E402
from laplace_codec.models import model as model_lib  # noqa: E402

_INSTRUCTION = re.compile(r"\s*(?:ROOT )?%?([\w.\-]+) = .*?op_name=\"([^\"]+)\"")


def op_names(hlo_text: str) -> dict[str, str]:
    """Each instruction of the optimised HLO -> the op_name of its metadata."""
    return {m.group(1): m.group(2) for m in map(_INSTRUCTION.match, hlo_text.splitlines()) if m}


def scope(op_name: str) -> str:
    """The part of the model an op belongs to: its Flax module path inside the sampler's loop,
    with jit(...) wrappers dropped and cut after the U-Net's block (``unet/TimeResBlock_2``)."""
    path = [p for p in op_name.split("/") if not p.startswith("jit(")]
    if "body" in path:
        path = path[path.index("body") + 1:]
    else:
        return "outside the steps (g_s pyramid, first noise)"
    if "unet" in path:
        i = path.index("unet")
        return "/".join(path[i:i + 2]) if len(path) > i + 2 else "unet (top-level ops)"
    modules = [p for p in path if p[:1].isupper() or p == "phi"]
    return "/".join(modules[-1:]) + " (preconditioning, DCTs)" if "phi" in path else \
        "sampler step (DCTs, update)"


def kind(thunk: str) -> str:
    return re.sub(r"\.\d+$", "", thunk)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="trained diffusion codec (default: untrained)")
    parser.add_argument("--config", default=os.path.join(REPO, "configs", "cpu",
                                                         "variable_diffusion.py"))
    parser.add_argument("--set", nargs="*", default=[], help="without --ckpt: key=value overrides")
    parser.add_argument("--images", default=os.path.join(REPO, "..", "shared", "data", "kodak",
                                                         "*.png"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--quality", type=float, default=None,
                        help="variable-rate models: the rate (default: the model's own)")
    parser.add_argument("--repeat", type=int, default=2, help="untraced runs, best kept")
    parser.add_argument("--top", type=int, default=15, help="single thunks listed")
    args = parser.parse_args()
    if args.ckpt and args.set:
        parser.error("--set changes an untrained model; a --ckpt has its own")
    if args.steps < 1 or args.repeat < 1:
        parser.error("--steps and --repeat must be at least 1")

    codec = load(args.ckpt) if args.ckpt else untrained_codec(args.config, args.set)
    if not codec.diffusion:
        parser.error(f"{args.ckpt} has an MSE decoder, not a diffusion decoder")
    image = test_images(args.images, 1)[0]
    variable = codec.quality_range is not None
    quality = args.quality if args.quality is not None else (codec.quality if variable else None)
    y_hat = jnp.asarray(codec.encode(image, quality=quality).y_hat)
    q = jnp.float32(quality) if variable else None
    model = codec.model
    sample = jax.jit(lambda p, y, q: model_lib.sample_image(
        model, p, y, jax.random.PRNGKey(0), args.steps, "ddim", quality=q))
    compiled = sample.lower(codec.params, y_hat, q).compile()
    names = op_names(compiled.as_text())
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        compiled(codec.params, y_hat, q).block_until_ready()
        times.append(time.perf_counter() - t0)
    print(f"{codec.model_id}: {image.shape[1]}x{image.shape[0]}, {args.steps} DDIM steps, "
          f"{jax.local_devices()[0].platform} with {len(os.sched_getaffinity(0))} CPU(s): "
          f"sample_image {min(times):.2f} s (best of {args.repeat})", flush=True)

    with tempfile.TemporaryDirectory() as trace_dir:
        jax.profiler.start_trace(trace_dir)
        compiled(codec.params, y_hat, q).block_until_ready()
        jax.profiler.stop_trace()
        trace_file, = glob.glob(os.path.join(trace_dir, "plugins", "profile", "*",
                                             "*.trace.json.gz"))
        with gzip.open(trace_file) as f:
            events = json.load(f)["traceEvents"]
    for e in events:  # the parts of a loop that a thread pool runs are named *.clone
        e["name"] = re.sub(r"(\.clone)+$", "", e.get("name", ""))
    thunks = [e for e in events if e.get("ph") == "X" and e["name"] in names]
    by_kind, by_scope, by_thunk = (collections.Counter() for _ in range(3))
    for e in thunks:
        ms = e["dur"] / 1e3 / args.steps
        by_kind[kind(e["name"])] += ms
        by_scope[scope(names[e["name"]])] += ms
        by_thunk[e["name"]] += ms
    total = sum(by_kind.values())
    print(f"\nthunks of the traced run: {total * args.steps / 1e3:.2f} s, {total:.0f} ms per step")
    if total * args.steps / 1e3 < 0.8 * min(times):
        print("(less than 80% of the wall time is attributed: with more than one CPU, work that "
              "the thread pool runs is missing; pin to one, e.g. taskset -c 0, for the shares)")
    for title, table in (("kind", by_kind), ("where", by_scope)):
        print(f"\n| {title} | ms per step | share |\n| --- | ---: | ---: |")
        for key, ms in table.most_common():
            if ms >= 0.5:
                print(f"| {key} | {ms:.1f} | {100 * ms / total:.1f}% |")
    print(f"\nthe {args.top} costliest thunks (ms per step, op_name):")
    for name, ms in by_thunk.most_common(args.top):
        print(f"  {ms:7.1f}  {name:30s} {names[name][-100:]}")
    print(json.dumps({"sample_s": round(min(times), 3),
                      "per_step_ms": {k: round(v, 1) for k, v in by_kind.most_common() if v >= 0.5},
                      "per_scope_ms": {k: round(v, 1) for k, v in by_scope.most_common()
                                       if v >= 0.5}}))


if __name__ == "__main__":
    main()
