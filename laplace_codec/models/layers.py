"""Building blocks shared by the transforms: residual blocks and sub-pixel upsampling.

Upsampling is a convolution followed by depth-to-space (Shi et al. 2016), never
``nn.ConvTranspose``: on XLA:CPU the transposed convolution's gradient is two orders of
magnitude slower than the same layer written this way (30-40 s against 0.2 s for one
layer's gradient, measured when this project started).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def depth_to_space(x: jax.Array, block: int) -> jax.Array:
    """Rearranges (B, H, W, C * block^2) into (B, H * block, W * block, C)."""
    b, h, w, c = x.shape
    if c % (block * block):
        raise ValueError(f"depth_to_space needs channels divisible by {block * block}, got {c}")
    c_out = c // (block * block)
    x = x.reshape(b, h, w, block, block, c_out)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * block, w * block, c_out)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a LeakyReLU between them and an identity skip."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Conv(self.features, (3, 3))(nn.leaky_relu(x))
        h = nn.Conv(self.features, (3, 3))(nn.leaky_relu(h))
        return x + h


class Down(nn.Module):
    """Stride-2 5x5 convolution: halves H and W."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Conv(self.features, (5, 5), strides=(2, 2))(x)


class Up(nn.Module):
    """Sub-pixel convolution: a 3x3 conv to 4x the channels, then depth-to-space by 2."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return depth_to_space(nn.Conv(4 * self.features, (3, 3))(x), 2)


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
