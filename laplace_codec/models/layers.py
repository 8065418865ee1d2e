"""Building blocks shared by the transforms: convolutions, residual blocks and sub-pixel
upsampling.

Upsampling is a convolution followed by depth-to-space (Shi et al. 2016), never
``nn.ConvTranspose``: on XLA:CPU the transposed convolution's gradient is two orders of
magnitude slower than the same layer written this way (30-40 s against 0.2 s for one
layer's gradient, measured when this project started).

``Conv`` is ``nn.Conv`` (same parameters, names and initialisation, so checkpoints are
interchangeable) with gradients that XLA:CPU computes faster; the forward pass is the same
convolution. Two of its rules are slow there (``benchmarks/train_step_vs_compressai.py``):
the gradient of a strided convolution with respect to its input, an input-dilated
convolution (five times slower than the forward convolution of the same size, measured for a
5x5 stride-2 layer at 64x64x96), and the bias gradient, a reduction over batch and pixels
(21 ms for an 8x32x32x384 output). ``strided_conv`` computes the first as a stride-1
convolution followed by depth-to-space, ``add_bias`` the second as a matrix product.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def depth_to_space(x: jax.Array, block: int) -> jax.Array:
    """Rearranges (B, H, W, C * block^2) into (B, H * block, W * block, C)."""
    b, h, w, c = x.shape
    if c % (block * block):
        raise ValueError(f"depth_to_space needs channels divisible by {block * block}, got {c}")
    c_out = c // (block * block)
    x = x.reshape(b, h, w, block, block, c_out)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * block, w * block, c_out)


def _conv(x: jax.Array, kernel: jax.Array, stride: int, padding) -> jax.Array:
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), padding,
                                        dimension_numbers=_DIMENSIONS)


def _input_gradient_kernel(kernel: jax.Array, stride: int, low: int):
    """The stride-1 kernel whose output, after depth-to-space by ``stride``, is the input
    gradient of a stride-``stride`` convolution padded by ``low`` before each axis.

    With ``o[i] = sum_t x[s i + t - low] k[t]``, the gradient at ``x[s m + p]`` (phase p) is
    ``sum_u g[m + u] k[p + low - s u]^T`` over the taps u with ``0 <= p + low - s u < K``.
    Returns (kernel of shape (U, U, C_out, s * s * C_in), padding of g)."""
    size = kernel.shape[0]
    u_low = -((size - 1 - low) // stride)  # smallest u with p + low - s u <= K - 1 at p = 0
    u_high = (stride - 1 + low) // stride
    taps = np.arange(u_low, u_high + 1)
    # index[u, p]: k's tap for gradient tap u and phase p (masked where there is none)
    index = np.arange(stride)[None, :] + low - stride * taps[:, None]
    valid = (index >= 0) & (index < size)
    index = np.where(valid, index, 0)
    k = jnp.transpose(kernel, (0, 1, 3, 2))  # (K, K, C_out, C_in)
    k = k[index[:, :, None, None], index[None, None, :, :]]  # (U, P, U, P, C_out, C_in)
    mask = (valid[:, :, None, None] & valid[None, None, :, :]).astype(kernel.dtype)
    k = k * mask[..., None, None]
    c_out, c_in = k.shape[-2:]
    k = jnp.transpose(k, (0, 2, 4, 1, 3, 5)).reshape(len(taps), len(taps), c_out,
                                                  stride * stride * c_in)
    return k, (-int(taps[0]), int(taps[-1]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def strided_conv(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """``SAME`` convolution of NHWC ``x`` with an odd square kernel at ``stride``; on even
    H and W its input gradient is a stride-1 convolution and depth-to-space (same values)."""
    return _conv(x, kernel, stride, "SAME")


def _strided_conv_fwd(x, kernel, stride):
    return _conv(x, kernel, stride, "SAME"), (x, kernel)


def _strided_conv_bwd(stride, residuals, g):
    x, kernel = residuals
    _, vjp = jax.vjp(lambda k: _conv(x, k, stride, "SAME"), kernel)
    (kernel_grad,) = vjp(g)
    size, h, w = kernel.shape[0], x.shape[1], x.shape[2]
    if h % stride or w % stride or size % 2 == 0 or size < stride:
        _, vjp_x = jax.vjp(lambda v: _conv(v, kernel, stride, "SAME"), x)
        return vjp_x(g)[0], kernel_grad
    low = (size - stride) // 2  # SAME pads (K - s) in all when s divides H, low half first
    k, (pad_low, pad_high) = _input_gradient_kernel(kernel, stride, low)
    x_grad = depth_to_space(_conv(g, k, 1, ((pad_low, pad_high), (pad_low, pad_high))), stride)
    return x_grad, kernel_grad


strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


@jax.custom_vjp
def add_bias(x: jax.Array, bias: jax.Array) -> jax.Array:
    """``x + bias`` over the last axis; the bias gradient is a matrix product."""
    return x + bias


def _add_bias_fwd(x, bias):
    return x + bias, None


def _add_bias_bwd(_, g):
    flat = g.reshape(-1, g.shape[-1])
    return g, jnp.ones((flat.shape[0],), g.dtype) @ flat


add_bias.defvjp(_add_bias_fwd, _add_bias_bwd)


class Conv(nn.Module):
    """``nn.Conv`` with ``SAME`` padding (the same parameters under the same names) whose
    gradients run faster on XLA:CPU (module docstring)."""

    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.strides[0] != self.strides[1] or self.kernel_size[0] != self.kernel_size[1]:
            raise ValueError(f"Conv takes square kernels and strides, got {self.kernel_size} "
                             f"and {self.strides}")
        kernel = self.param("kernel", nn.initializers.lecun_normal(),
                            (*self.kernel_size, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        if self.strides[0] == 1:
            y = _conv(x, kernel, 1, "SAME")
        else:
            y = strided_conv(x, kernel, self.strides[0])
        return add_bias(y, bias)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a LeakyReLU between them and an identity skip."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = Conv(self.features, (3, 3))(nn.leaky_relu(x))
        h = Conv(self.features, (3, 3))(nn.leaky_relu(h))
        return x + h


class Down(nn.Module):
    """Stride-2 5x5 convolution: halves H and W."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return Conv(self.features, (5, 5), strides=(2, 2))(x)


class Up(nn.Module):
    """Sub-pixel convolution: a 3x3 conv to 4x the channels, then depth-to-space by 2."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return depth_to_space(Conv(4 * self.features, (3, 3))(x), 2)


class GDN(nn.Module):
    """Generalized divisive normalization (Balle et al. 2016), per pixel over channels:
    ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)``, or its approximate inverse
    (multiplying instead of dividing) when ``inverse``. beta and gamma stay non-negative
    through squared reparameterization."""

    inverse: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        beta = self.param("beta", nn.initializers.ones, (c,))
        gamma = self.param("gamma", lambda key, shape: 0.1 * jnp.eye(shape[0]), (c, c))
        norm = jnp.sqrt(jnp.square(beta) + 1e-6 + jnp.square(x) @ jnp.square(gamma))
        return x * norm if self.inverse else x / norm
