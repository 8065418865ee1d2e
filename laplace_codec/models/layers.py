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
A third: the kernel gradient of a convolution with few output channels (the synthesis
transform's last layer, 96 -> 12 channels at 64x64) makes XLA transpose its 96-channel input
to channels-first, fused with the depth-to-space and inverse GDN that produce it (31 ms per
step); ``narrow_conv`` computes it as one matrix product with the shifted copies of the
small output gradient instead. A fourth: the kernel gradient of a strided convolution, a
window-dilated convolution that ran at half the forward's speed for the 5x5 stride-2 layers
at batch 2 (59 ms of the campaign's 546 ms step for one of them); ``strided_conv`` computes it
as the stride-1 kernel gradients of the input's polyphase parts (``_kernel_grad_by_phase``).
A fifth: the input gradient of a stride-1 convolution is a convolution with the kernel
flipped and its channel axes swapped, which XLA:CPU folds into the convolution's dimension
labels (kernel "01oi"); inside a loop with constant weights (encoder-side refinement) it then
ran on a generic path 14 times slower than the forward convolution, 1.08 s of a 2.7 s step.
``plain_conv`` and ``narrow_conv`` build that kernel themselves (``_input_gradient_s1``), and
the entropy models' convolutions are these too.
"""

from __future__ import annotations

import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")
# A stride-1 convolution whose size^2 * C_out is at most NARROW * C_in (the synthesis
# transform's last layer) takes its kernel gradient as a matrix product (narrow_conv).
NARROW = 2


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def depth_to_space(x: jax.Array, block: int) -> jax.Array:
    """Rearranges (B, H, W, C * block^2) into (B, H * block, W * block, C); its gradient is
    ``space_to_depth``."""
    b, h, w, c = x.shape
    if c % (block * block):
        raise ValueError(f"depth_to_space needs channels divisible by {block * block}, got {c}")
    c_out = c // (block * block)
    x = x.reshape(b, h, w, block, block, c_out)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * block, w * block, c_out)


def space_to_depth(x: jax.Array, block: int) -> jax.Array:
    """The inverse of ``depth_to_space``: (B, H, W, C) -> (B, H / block, W / block, C block^2),
    as strided slices stacked on channels. The transpose that autodiff makes of
    depth_to_space's reshape and transpose is fused by XLA:CPU into the element-wise loops of
    the layer before (inverse GDN's gradient) and recomputed for each consumer: in the
    synthesis transform's Up layers, 12 ms twice at 128x128x96 (batch 2) where the slices take
    a few; on a Up + inverse GDN + Up stack at 64x64x96, 132 ms instead of 154-163 for the
    gradient."""
    b, h, w, c = x.shape
    if h % block or w % block:
        raise ValueError(f"space_to_depth needs H and W divisible by {block}, got {h}x{w}")
    return jnp.concatenate([x[:, i::block, j::block] for i in range(block)
                            for j in range(block)], axis=-1)


def _depth_to_space_fwd(x, block):
    return depth_to_space(x, block), None


def _depth_to_space_bwd(block, _, g):
    return (space_to_depth(g, block),)


depth_to_space.defvjp(_depth_to_space_fwd, _depth_to_space_bwd)


def conv(x: jax.Array, kernel: jax.Array, stride: int, padding) -> jax.Array:
    """NHWC ``x`` convolved with an HWIO ``kernel`` (``padding`` as in ``lax``), with
    autodiff's gradients: the layers below wrap it with faster ones."""
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), padding,
                                        dimension_numbers=_DIMENSIONS)


def _input_gradient_kernel(kernel: jax.Array, stride: int, low: int):
    """The stride-1 kernel whose output, after depth-to-space by ``stride``, is the input
    gradient of a stride-``stride`` convolution padded by ``low`` before each axis.

    With ``o[i] = sum_t x[s i + t - low] k[t]``, the gradient at ``x[s m + p]`` (phase p) is
    ``sum_u g[m + u] k[p + low - s u]^T`` over the taps u with ``0 <= p + low - s u < K``.
    Counting the taps down from the last, ``v = u_high - u``, the tap index is
    ``base + s v + p``: a contiguous run of the zero-padded kernel, reshaped to (v, p) and
    reversed along v. Slices and reshapes only (a gather here cost ~4 ms per layer on
    XLA:CPU). Returns (kernel of shape (U, U, C_out, s * s * C_in), padding of g)."""
    size = kernel.shape[0]
    u_low = -((size - 1 - low) // stride)  # smallest u with p + low - s u <= K - 1 at p = 0
    u_high = (stride - 1 + low) // stride
    taps = u_high - u_low + 1
    base = low - stride * u_high
    before, after = max(0, -base), max(0, base + stride * taps - size)
    k = jnp.pad(kernel, ((before, after), (before, after), (0, 0), (0, 0)))
    start = base + before
    k = k[start:start + stride * taps, start:start + stride * taps]
    c_in, c_out = kernel.shape[2:]
    k = k.reshape(taps, stride, taps, stride, c_in, c_out)[::-1, :, ::-1]  # (U, P, U, P, ...)
    k = jnp.transpose(k, (0, 2, 5, 1, 3, 4)).reshape(taps, taps, c_out, stride * stride * c_in)
    return k, (-u_low, u_high)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def strided_conv(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """``SAME`` convolution of NHWC ``x`` with an odd square kernel at ``stride``; on even
    H and W its input gradient is a stride-1 convolution and depth-to-space (same values)."""
    return conv(x, kernel, stride, "SAME")


def _strided_conv_fwd(x, kernel, stride):
    return conv(x, kernel, stride, "SAME"), (x, kernel)


def _kernel_grad_by_phase(x: jax.Array, g: jax.Array, size: int, stride: int,
                          low: int) -> jax.Array:
    """Kernel gradient of a stride-``stride`` convolution of ``x`` padded by ``low`` before
    each axis (and ``size - stride - low`` after), as stride-1 kernel gradients of its
    polyphase parts.

    With ``o[i] = sum_t x_pad[s i + t] k[t]`` and the taps ``t = s u + a``, the output is
    ``sum_a sum_u x_a[i + u] k[s u + a]`` where ``x_a = x_pad[a::s]``: for each phase (a, b)
    of the two axes, the gradient of the taps ``k[a::s, b::s]`` is that of a stride-1 VALID
    convolution of ``x_ab``. XLA:CPU runs those as plain convolutions; the strided rule
    (a window-dilated convolution) ran 2.2x slower for the 5x5 stride-2 layer at 128x128x96
    (``benchmarks/strided_kernel_grad.py``, where the two gave bit-identical gradients)."""
    high = size - stride - low
    x_pad = jnp.pad(x, ((0, 0), (low, high), (low, high), (0, 0)))
    h_out, w_out = g.shape[1:3]
    kernel_grad = jnp.zeros((size, size, x.shape[-1], g.shape[-1]), g.dtype)
    for a in range(stride):
        for b in range(stride):
            taps_a, taps_b = len(range(a, size, stride)), len(range(b, size, stride))
            x_ab = x_pad[:, a::stride, b::stride][:, :h_out + taps_a - 1, :w_out + taps_b - 1]
            _, vjp = jax.vjp(lambda k: conv(x_ab, k, 1, "VALID"),  # noqa: B023 (used at once)
                             jnp.zeros((taps_a, taps_b) + kernel_grad.shape[2:], g.dtype))
            kernel_grad = kernel_grad.at[a::stride, b::stride].set(vjp(g)[0])
    return kernel_grad


def _strided_conv_bwd(stride, residuals, g):
    x, kernel = residuals
    size, h, w = kernel.shape[0], x.shape[1], x.shape[2]
    if h % stride or w % stride or size % 2 == 0 or size < stride:
        _, vjp = jax.vjp(lambda v, k: conv(v, k, stride, "SAME"), x, kernel)
        return vjp(g)
    low = (size - stride) // 2  # SAME pads (K - s) in all when s divides H, low half first
    k, (pad_low, pad_high) = _input_gradient_kernel(kernel, stride, low)
    x_grad = depth_to_space(conv(g, k, 1, ((pad_low, pad_high), (pad_low, pad_high))), stride)
    return x_grad, _kernel_grad_by_phase(x, g, size, stride, low)


strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


def _kernel_grad_stacked(x: jax.Array, g: jax.Array, size: int) -> jax.Array:
    """Kernel gradient of a ``SAME`` stride-1 convolution as one matrix product of x (pixels,
    C_in) with the size^2 shifted copies of g stacked on channels (pixels, size^2 C_out)."""
    lo = (size - 1) // 2
    h, w, c_out = g.shape[1:]
    gp = jnp.pad(g, ((0, 0), (size - 1 - lo, lo), (size - 1 - lo, lo), (0, 0)))
    stacked = jnp.concatenate([gp[:, size - 1 - i:size - 1 - i + h, size - 1 - j:size - 1 - j + w]
                               for i in range(size) for j in range(size)], axis=-1)
    k = jax.lax.dot_general(x.reshape(-1, x.shape[-1]), stacked.reshape(-1, size * size * c_out),
                            (((0,), (0,)), ((), ())))
    return k.reshape(x.shape[-1], size, size, c_out).transpose(1, 2, 0, 3)


def _input_gradient_s1(g: jax.Array, kernel: jax.Array) -> jax.Array:
    """Input gradient of a ``SAME`` stride-1 convolution with an odd kernel: ``g`` convolved
    with the kernel flipped in space and transposed to (H, W, C_out, C_in), materialised."""
    flipped = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)
    return conv(g, flipped, 1, "SAME")


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _stride1_conv(x: jax.Array, kernel: jax.Array, narrow: bool) -> jax.Array:
    return conv(x, kernel, 1, "SAME")


def _stride1_conv_fwd(x, kernel, narrow):
    return conv(x, kernel, 1, "SAME"), (x, kernel)


def _stride1_conv_bwd(narrow, residuals, g):
    x, kernel = residuals
    if kernel.shape[0] % 2:
        x_grad = _input_gradient_s1(g, kernel)
    else:
        _, vjp_x = jax.vjp(lambda v: conv(v, kernel, 1, "SAME"), x)
        x_grad = vjp_x(g)[0]
    if narrow:
        return x_grad, _kernel_grad_stacked(x, g, kernel.shape[0])
    _, vjp_k = jax.vjp(lambda k: conv(x, k, 1, "SAME"), kernel)
    return x_grad, vjp_k(g)[0]


_stride1_conv.defvjp(_stride1_conv_fwd, _stride1_conv_bwd)


def plain_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``SAME`` stride-1 convolution whose input gradient (odd kernels) is
    ``_input_gradient_s1``."""
    return _stride1_conv(x, kernel, False)


def narrow_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``plain_conv`` whose kernel gradient is ``_kernel_grad_stacked``."""
    return _stride1_conv(x, kernel, True)


@jax.custom_vjp
def add_bias(x: jax.Array, bias: jax.Array) -> jax.Array:
    """``x + bias`` over the last axis; the bias gradient is a matrix product."""
    return x + bias


def _add_bias_fwd(x, bias):
    return x + bias, None


def _add_bias_bwd(_, g):
    flat = g.reshape(-1, g.shape[-1])
    # A matrix of ones, not a vector: XLA:CPU fuses the producers of g into a
    # matrix-vector product and runs it as a slow loop (16 ms for one layer of the CPU
    # model); a matrix product reads g once, materialised.
    return g, (jnp.ones((8, flat.shape[0]), g.dtype) @ flat)[0]


add_bias.defvjp(_add_bias_fwd, _add_bias_bwd)


class Conv(nn.Module):
    """``nn.Conv`` with ``SAME`` padding (the same parameters under the same names) whose
    gradients run faster on XLA:CPU (module docstring)."""

    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    kernel_init: Callable = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.strides[0] != self.strides[1] or self.kernel_size[0] != self.kernel_size[1]:
            raise ValueError(f"Conv takes square kernels and strides, got {self.kernel_size} "
                             f"and {self.strides}")
        kernel = self.param("kernel", self.kernel_init,
                            (*self.kernel_size, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        narrow = self.kernel_size[0] ** 2 * self.features <= NARROW * x.shape[-1]
        if self.strides[0] == 1 and narrow:
            y = narrow_conv(x, kernel)
        elif self.strides[0] == 1:
            y = plain_conv(x, kernel)
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
        # As a (pixels, C) matrix: XLA:CPU differentiates the 2-D product several times
        # faster than the same product over (B, H, W, C) (benchmarks/train_step_vs_compressai.py).
        flat = x.reshape(-1, c)
        norm = jnp.sqrt(jnp.square(beta) + 1e-6 + jnp.square(flat) @ jnp.square(gamma))
        return (flat * norm if self.inverse else flat / norm).reshape(x.shape)
