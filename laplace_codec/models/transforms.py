"""Analysis and synthesis transforms: ``g_a``, ``g_s`` (image <-> y) and ``h_a``, ``h_s``
(y <-> z), as in the mean-scale hyperprior of Minnen et al. 2018 with residual blocks.

Shapes (NHWC): x (B, H, W, 3) -> y (B, H/16, W/16, M) -> z (B, H/64, W/64, N).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from laplace_codec.models.layers import GDN, Conv, Down, ResBlock, Up


class AnalysisTransform(nn.Module):
    """``g_a``: four stride-2 stages; GDN and ``res_blocks`` residual blocks after each but
    the last (res_blocks = 0 is the transform of Balle et al. 2018 and Minnen et al. 2018)."""

    N: int
    M: int
    res_blocks: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(3):
            x = GDN()(Down(self.N)(x))
            for _ in range(self.res_blocks):
                x = ResBlock(self.N)(x)
        return Down(self.M)(x)


class SynthesisTransform(nn.Module):
    """``g_s``: mirror of ``g_a`` with sub-pixel upsampling and inverse GDN; output in
    image space. With ``pyramid``, returns ``[x_hat, features at H/2, H/4, H/8]``: the
    conditioning pyramid of the diffusion decoder."""

    N: int
    out_channels: int = 3
    res_blocks: int = 1

    @nn.compact
    def __call__(self, y_hat: jax.Array, pyramid: bool = False):
        x, features = y_hat, []
        for _ in range(3):
            x = GDN(inverse=True)(Up(self.N)(x))
            for _ in range(self.res_blocks):
                x = ResBlock(self.N)(x)
            features.append(x)
        x = Up(self.out_channels)(x)
        return [x] + features[::-1] if pyramid else x


class HyperAnalysis(nn.Module):
    """``h_a``: y -> z, two stride-2 stages."""

    N: int

    @nn.compact
    def __call__(self, y: jax.Array) -> jax.Array:
        x = nn.leaky_relu(Conv(self.N, (3, 3))(y))
        x = nn.leaky_relu(Down(self.N)(x))
        return Down(self.N)(x)


class HyperSynthesis(nn.Module):
    """``h_s``: z_hat -> hyper features at the resolution of y (``features`` channels)."""

    N: int
    features: int

    @nn.compact
    def __call__(self, z_hat: jax.Array) -> jax.Array:
        x = nn.leaky_relu(Up(self.N)(z_hat))
        x = nn.leaky_relu(Up(self.N * 3 // 2)(x))
        return Conv(self.features, (3, 3))(x)
