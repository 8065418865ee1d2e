"""The kernel gradient of the stride-2 convolutions: XLA's own rule (a
window-dilated convolution) against ``layers._kernel_grad_by_phase`` (stride-1 gradients of
the polyphase parts), at the layer shapes of the CPU configs, compile excluded.

    taskset -c 0 python benchmarks/strided_kernel_grad.py [--repeat 10]

Prints one line per shape (milliseconds per call, the ratio, and the largest difference
relative to the largest gradient element); the last line is JSON:
{"<shape>": {"dilated_ms", "phases_ms", "ratio", "max_rel_diff"}, ...}.
"""

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from laplace_codec.models import layers  # noqa: E402

# (kernel size, batch, input size, C_in, C_out): g_a's 5x5 Down layers at 256x256 crops,
# batch 2 (the campaign), and at 128x128, batch 8 (the CPU hyperprior and Laplacian recipes);
# the diffusion U-Net's 3x3 downsampling (configs/cpu/variable_diffusion.py, 256x256, batch 2).
SHAPES = [(5, 2, 256, 3, 96), (5, 2, 128, 96, 96), (5, 2, 64, 96, 96), (5, 2, 32, 96, 128),
          (5, 8, 128, 3, 96), (5, 8, 64, 96, 96), (5, 8, 32, 96, 96), (5, 8, 16, 96, 128),
          (3, 2, 256, 16, 16), (3, 2, 128, 64, 64), (3, 2, 64, 96, 96)]
STRIDE = 2


def best_ms(fn, args, repeat):
    out = fn(*args).block_until_ready()  # compiles
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args).block_until_ready()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times), np.asarray(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed calls, best kept")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    @jax.jit
    def dilated(x, g, kernel):
        _, vjp = jax.vjp(lambda k: layers.conv(x, k, STRIDE, "SAME"), kernel)
        return vjp(g)[0]

    @jax.jit
    def phases(x, g, kernel):
        size = kernel.shape[0]
        return layers._kernel_grad_by_phase(x, g, size, STRIDE, (size - STRIDE) // 2)

    rng = np.random.default_rng(0)
    results = {}
    for kernel_size, batch, size, c_in, c_out in SHAPES:
        x = jnp.asarray(rng.standard_normal((batch, size, size, c_in)), jnp.float32)
        g = jnp.asarray(rng.standard_normal((batch, size // 2, size // 2, c_out)), jnp.float32)
        kernel = jnp.zeros((kernel_size, kernel_size, c_in, c_out), jnp.float32)
        old_ms, old = best_ms(dilated, (x, g, kernel), args.repeat)
        new_ms, new = best_ms(phases, (x, g, kernel), args.repeat)
        diff = float(np.max(np.abs(new - old)) / np.max(np.abs(old)))
        name = f"{kernel_size}x{kernel_size}, {batch}x{size}x{size}x{c_in} -> {c_out}"
        print(f"{name}: dilated {old_ms:.1f} ms, phases {new_ms:.1f} ms, ratio "
              f"{new_ms / old_ms:.2f}, max relative difference {diff:.1e}", flush=True)
        results[name] = dict(dilated_ms=round(old_ms, 2), phases_ms=round(new_ms, 2),
                             ratio=round(new_ms / old_ms, 3), max_rel_diff=diff)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
