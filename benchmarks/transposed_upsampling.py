"""Would CompressAI's upsampling layer make our training step cheaper? (issue 21's throughput.)

The synthesis transforms upsample with ``layers.Up``: a 3x3 convolution to four times the
channels, then depth-to-space, 36 multiply-adds per input pixel and channel pair. CompressAI's
mean-scale hyperprior, the throughput peer of ``train_step_vs_compressai.py``, uses a 5x5
transposed convolution at stride 2, which needs 25: its four output phases see 3x3, 3x2, 2x3
and 2x2 taps of the input. This times, forward and gradient (input, kernel and bias), the
sub-pixel layer against that transposed convolution written as those four stride-1
convolutions and depth-to-space (0.69x the FLOPs; ``nn.ConvTranspose`` itself is two orders of
magnitude slower to differentiate on XLA:CPU), at the layer sizes of the CPU hyperprior's
g_s (batch 8, 128x128 crops) and the campaign's (batch 2, 256x256):

    taskset -c 0 python benchmarks/transposed_upsampling.py

Prints one line per layer with the medians and their ratios (transposed / sub-pixel).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec.models import layers

# Per output phase (0: even, 1: odd) of a 5x5 stride-2 transposed convolution, the kernel taps
# in the order of the input offsets they meet and the padding before and after: the even
# outputs see inputs m-1, m, m+1 through taps 4, 2, 0; the odd ones inputs m, m+1 through 3, 1.
PHASES = {0: ([4, 2, 0], (1, 1)), 1: ([3, 1], (0, 1))}
LAYERS = [  # (batch, input size, C_in, C_out)
    (8, 8, 128, 96), (8, 16, 96, 96), (8, 32, 96, 96), (8, 64, 96, 3),
    (2, 16, 128, 96), (2, 32, 96, 96), (2, 64, 96, 96), (2, 128, 96, 3)]


def subpixel(x, kernel, bias):
    return layers.depth_to_space(layers.add_bias(layers.plain_conv(x, kernel), bias), 2)


def transposed(x, kernel, bias):
    outs = []
    for a in (0, 1):
        for b in (0, 1):
            (rows, pad_a), (cols, pad_b) = PHASES[a], PHASES[b]
            k = kernel[jnp.array(rows)][:, jnp.array(cols)]
            outs.append(layers.conv(x, k, 1, (pad_a, pad_b)))
    return layers.depth_to_space(layers.add_bias(jnp.concatenate(outs, -1), jnp.tile(bias, 4)), 2)


def check_against_lax():
    """``transposed`` is a 5x5 stride-2 transposed convolution (PyTorch's ``ConvTranspose2d(k=5,
    s=2, p=2, output_padding=1)``): lax's, with the kernel flipped and padded (2, 3)."""
    keys = jax.random.split(jax.random.PRNGKey(1))
    x, kernel = jax.random.normal(keys[0], (1, 6, 6, 4)), jax.random.normal(keys[1], (5, 5, 4, 3))
    ref = jax.lax.conv_transpose(x, jnp.flip(kernel, (0, 1)), (2, 2), ((2, 3), (2, 3)),
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    err = float(jnp.max(jnp.abs(ref - transposed(x, kernel, jnp.zeros(3)))))
    if err > 1e-4:
        raise AssertionError(f"the phase convolutions differ from lax.conv_transpose by {err}")


def median_ms(fn, args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def time_layer(layer, args: tuple, repeats: int) -> tuple[float, float]:
    """Median milliseconds of ``layer(*args)``, and of its forward with the gradients of a
    sum of squares with respect to every argument."""
    grad = jax.grad(lambda *a: jnp.sum(jnp.square(layer(*a))), argnums=tuple(range(len(args))))
    return median_ms(jax.jit(layer), args, repeats), median_ms(jax.jit(grad), args, repeats)


def parse_repeats(doc: str, default: int) -> int:
    """``--repeats`` of a layer benchmark's command line (at least 1); ``doc``: its docstring."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=default)
    repeats = parser.parse_args().repeats
    if repeats < 1:
        parser.error(f"--repeats must be at least 1, got {repeats}")
    return repeats


def main():
    repeats = parse_repeats(__doc__, default=20)
    check_against_lax()
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    for batch, size, c_in, c_out in LAYERS:
        x = jax.random.normal(keys[0], (batch, size, size, c_in))
        k3 = 0.05 * jax.random.normal(keys[1], (3, 3, c_in, 4 * c_out))
        k5 = 0.05 * jax.random.normal(keys[2], (5, 5, c_in, c_out))
        sf, sg = time_layer(subpixel, (x, k3, jnp.zeros((4 * c_out,))), repeats)
        tf, tg = time_layer(transposed, (x, k5, jnp.zeros((c_out,))), repeats)
        print(f"{batch}x{size}x{size}x{c_in} -> {c_out}: sub-pixel forward {sf:.1f} ms, gradient "
              f"{sg:.1f} ms; transposed {tf:.1f}, {tg:.1f} ms; ratios {tf / sf:.2f}, {tg / sg:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
