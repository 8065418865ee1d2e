"""Would Winograd's minimal filtering make the 3x3 convolutions cheaper? (issue 21's throughput.)

F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016)
computes each 2x2 output tile of a 3x3 convolution from a 4x4 input tile with 16 products
instead of 36: the input tiles and the kernel are transformed (``B^T d B``, ``G g G^T``),
multiplied as 16 matrix products over channels, and transformed back (``A^T m A``). Here it is
written with slices and sums that XLA:CPU fuses, with a gradient of its own (the input gradient
is itself a Winograd convolution with the flipped kernel; the kernel gradient XLA's), and timed
against ``layers.plain_conv`` (forward, and forward with both gradients), one core:

    taskset -c 0 python benchmarks/winograd_conv.py

at the 3x3 layers of the synthesis transforms: ``layers.Up``'s 96 -> 384 (sub-pixel) at the CPU
hyperprior's and the campaign's sizes, and a residual block's 96 -> 96. Checks the values
against ``layers.conv`` first.
"""

from __future__ import annotations

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec.models import layers

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.transposed_upsampling import parse_repeats, time_layer  # noqa: E402

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], np.float32)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)
LAYERS = [(8, 8, 128, 384), (8, 16, 96, 384), (8, 32, 96, 384), (2, 64, 96, 384),
          (8, 64, 96, 96)]  # (batch, size, C_in, C_out)


def _combine(matrix, parts):
    """``sum_u matrix[a, u] parts[u]`` for each row a, skipping the zeros."""
    return [sum(m * p for m, p in zip(row, parts) if m) for row in matrix]


def winograd(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``SAME`` stride-1 3x3 convolution of NHWC ``x`` (even H and W) by F(2x2, 3x3)."""
    b, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    tiles = [[xp[:, u:u + h:2, v:v + w:2] for v in range(4)] for u in range(4)]
    rows = [_combine(B_T, [tiles[u][v] for u in range(4)]) for v in range(4)]  # [v][a]
    v_tiles = jnp.stack([t for a in range(4) for t in _combine(B_T, [rows[v][a] for v in range(4)])])
    u_kernel = jnp.einsum("au,uvio,bv->abio", G, kernel, G).reshape(16, c, -1)
    m = jax.lax.dot_general(v_tiles.reshape(16, -1, c), u_kernel, (((2,), (1,)), ((0,), (0,))))
    m = m.reshape(4, 4, b, h // 2, w // 2, -1)
    cols = [_combine(A_T, [m[a, e] for a in range(4)]) for e in range(4)]  # [e][r]
    out = [_combine(A_T, [cols[e][r] for e in range(4)]) for r in range(2)]  # [r][s]
    out = jnp.stack([jnp.stack(out[r], 3) for r in range(2)], 2)  # (B, H/2, 2, W/2, 2, C_out)
    return out.reshape(b, h, w, -1)


@jax.custom_vjp
def winograd_conv(x, kernel):
    return winograd(x, kernel)


def _fwd(x, kernel):
    return winograd(x, kernel), (x, kernel)


def _bwd(residuals, g):
    x, kernel = residuals
    x_grad = winograd(g, jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2))
    _, vjp = jax.vjp(lambda k: layers.conv(x, k, 1, "SAME"), kernel)
    return x_grad, vjp(g)[0]


winograd_conv.defvjp(_fwd, _bwd)


def check():
    keys = jax.random.split(jax.random.PRNGKey(1))
    x, kernel = jax.random.normal(keys[0], (2, 8, 8, 5)), jax.random.normal(keys[1], (3, 3, 5, 7))
    errors = [float(jnp.max(jnp.abs(winograd_conv(x, kernel) - layers.conv(x, kernel, 1, "SAME"))))]
    ours, ref = (jax.grad(lambda v, k, f=f: jnp.sum(jnp.sin(f(v, k))), argnums=(0, 1))(x, kernel)
                 for f in (winograd_conv, lambda v, k: layers.conv(v, k, 1, "SAME")))
    errors += [float(jnp.max(jnp.abs(a - b))) for a, b in zip(ours, ref)]
    if max(errors) > 1e-3:
        raise AssertionError(f"Winograd differs from the direct convolution: {errors}")


def main():
    repeats = parse_repeats(__doc__, default=15)
    check()
    keys = jax.random.split(jax.random.PRNGKey(0))
    for batch, size, c_in, c_out in LAYERS:
        x = jax.random.normal(keys[0], (batch, size, size, c_in))
        kernel = 0.05 * jax.random.normal(keys[1], (3, 3, c_in, c_out))
        times = [*time_layer(layers.plain_conv, (x, kernel), repeats),
                 *time_layer(winograd_conv, (x, kernel), repeats)]
        print(f"{batch}x{size}x{size}x{c_in} -> {c_out}: direct forward {times[0]:.1f} ms, with "
              f"gradients {times[1]:.1f} ms; Winograd {times[2]:.1f}, {times[3]:.1f} ms; ratios "
              f"{times[2] / times[0]:.2f}, {times[3] / times[1]:.2f}", flush=True)


if __name__ == "__main__":
    main()
