"""The Laplacian-guided entropy model (paper section 3.4, Fig. 2).

y is split along channels into chunks (uneven: 16, 16, 32, 64, M - 128, as in ELIC; or five
even chunks). Chunk j is coded in two steps over a checkerboard of its positions:

- **anchors** ((row + col) even): (mu, sigma) from the hyper features and the *channel
  context*, a small conv network over all earlier chunks of y_hat;
- **non-anchors**: additionally from the *local context*, a checkerboard-masked 5x5 conv
  over the chunk's decoded anchors, and the *global context*, Swin blocks (W-MSA then
  SW-MSA) over the local context and the anchors, in which every query attends only to
  anchor keys and the logits carry the chunk's own relative position bias (the learnable
  Laplacian ``A_j^2 exp(-(|dx| + |dy|) / (2 sigma_j^2))`` of eq. 15-16, or the ablations).

Causality holds by construction: the anchor parameters of chunk j read ``y_hat[..., :start_j]``
only, and the non-anchor parameters read in addition ``y_hat_j * anchor_mask``, whose
forbidden entries are multiplied by an exact zero; masked attention keys get exactly zero
weight. ``spatial = "none"`` gives the channel-only model (one step per chunk), ``"local"``
drops the transformer, and ``"serial"`` replaces the checkerboard by a raster-order masked
5x5 context (Minnen et al. 2018 within each chunk), decoded one position at a time: the slow
baseline of the paper's latency comparison (Table 2). Its training forward feeds
``round(y)`` to the context, as CompressAI's autoregressive model does, since mean-shifted
rounding would need the parameters it is computing.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec.models import layers
from laplace_codec.models.entropy import gaussian_conditional as gc
from laplace_codec.models.entropy.base import CodingStep, ste_round
from laplace_codec.models.entropy.window_attention import POSITION_ENCODINGS, SwinBlock

PAPER_CHUNKS = (16, 16, 32, 64)  # then M - 128
SPATIAL_CONTEXTS = ("none", "local", "local_global", "serial")
GROUPINGS = ("uneven", "even")


def chunk_sizes(M: int, grouping: str) -> tuple[int, ...]:
    """Channel chunk sizes: the paper's 16, 16, 32, 64, M - 128 (scaled by M / 256 when
    M <= 128), or five chunks as equal as possible."""
    if grouping == "even":
        if M < 5:
            raise ValueError(f"even grouping needs M >= 5, got {M}")
        return tuple(M // 5 + (1 if i < M % 5 else 0) for i in range(5))
    if grouping != "uneven":
        raise ValueError(f"unknown grouping {grouping!r}; choose one of {GROUPINGS}")
    if M > 128:
        return (*PAPER_CHUNKS, M - 128)
    if M % 16:
        raise ValueError(f"uneven grouping needs M > 128 or M a multiple of 16, got {M}")
    return (M // 16, M // 16, M // 8, M // 4, M // 2)


def anchor_mask(height: int, width: int) -> np.ndarray:
    """Checkerboard: True at anchors, the positions with (row + col) even."""
    return (np.add.outer(np.arange(height), np.arange(width)) % 2) == 0


def checkerboard_kernel_mask(size: int = 5) -> np.ndarray:
    """Kernel taps at odd Manhattan offsets from the centre: at a non-anchor they all land
    on anchors (and never on the position itself)."""
    return (np.add.outer(np.arange(size), np.arange(size)) % 2) == 1


def raster_kernel_mask(size: int = 5) -> np.ndarray:
    """Kernel taps strictly before the centre in raster order (mask 'A' of PixelCNN)."""
    mask = np.zeros((size, size), bool)
    mask[: size // 2] = True
    mask[size // 2, : size // 2] = True
    return mask


def _conv(x: jax.Array, kernel: jax.Array, padding: str) -> jax.Array:
    if padding == "SAME":  # the same convolution, with an input gradient XLA:CPU runs fast
        return layers.plain_conv(x, kernel)
    return layers.conv(x, kernel, 1, padding)


class MaskedConv(nn.Module):
    """A 'SAME' convolution whose kernel is multiplied by a fixed 0/1 mask."""

    in_channels: int
    features: int
    mask: np.ndarray

    def setup(self):
        k = self.mask.shape[0]
        self.kernel = self.param("kernel", nn.initializers.lecun_normal(),
                                 (k, k, self.in_channels, self.features))
        self.bias = self.param("bias", nn.initializers.zeros, (self.features,))

    def masked_kernel(self) -> jax.Array:
        return self.kernel * jnp.asarray(self.mask, self.kernel.dtype)[:, :, None, None]

    def __call__(self, x: jax.Array) -> jax.Array:
        return _conv(x, self.masked_kernel(), "SAME") + self.bias

    def at(self, patch: jax.Array) -> jax.Array:
        """The output at the centre of a (1, k, k, C) patch of the zero-padded input."""
        return _conv(patch, self.masked_kernel(), "VALID") + self.bias


class ParamNet(nn.Module):
    """1x1 convolutions from context features to (mu, sigma) of ``channels`` channels."""

    channels: int
    width: int

    @nn.compact
    def __call__(self, x: jax.Array):
        x = nn.leaky_relu(layers.Conv(self.width, (1, 1))(x))
        x = nn.leaky_relu(layers.Conv(self.width, (1, 1))(x))
        mu, raw = jnp.split(layers.Conv(2 * self.channels, (1, 1))(x), 2, axis=-1)
        return mu, gc.sigma_from_raw(raw)


class ChannelContext(nn.Module):
    """Two 3x3 'SAME' convolutions over the earlier chunks of y_hat."""

    in_channels: int
    width: int

    def setup(self):
        init = nn.initializers.lecun_normal()
        self.k1 = self.param("kernel_1", init, (3, 3, self.in_channels, self.width))
        self.b1 = self.param("bias_1", nn.initializers.zeros, (self.width,))
        self.k2 = self.param("kernel_2", init, (3, 3, self.width, self.width))
        self.b2 = self.param("bias_2", nn.initializers.zeros, (self.width,))

    def __call__(self, y_prev: jax.Array) -> jax.Array:
        x = nn.leaky_relu(_conv(y_prev, self.k1, "SAME") + self.b1)
        return _conv(x, self.k2, "SAME") + self.b2

    def at(self, patch: jax.Array, inside: jax.Array) -> jax.Array:
        """The output at the centre of a (1, 5, 5, C) patch of the zero-padded input;
        ``inside`` (3, 3) marks the centre's neighbours that lie in the image (outside, the
        hidden layer is zero padding, as in the 'SAME' convolution)."""
        x = nn.leaky_relu(_conv(patch, self.k1, "VALID") + self.b1)
        x = x * inside[None, :, :, None]
        return _conv(x, self.k2, "VALID") + self.b2


class GlobalContext(nn.Module):
    """Swin W-MSA then SW-MSA over [local context, anchors]; queries see anchor keys only."""

    dim: int
    heads: int
    window: int
    position: str

    @nn.compact
    def __call__(self, local: jax.Array, y_anchor: jax.Array, anchors: jax.Array,
                 rolled: bool = False):
        t = nn.Dense(self.dim, name="embed")(jnp.concatenate([local, y_anchor], axis=-1))
        key_valid = jnp.broadcast_to(anchors, t.shape[:3])
        for i, shift in enumerate((0, self.window // 2)):
            t = SwinBlock(self.dim, self.heads, self.window, shift, self.position,
                          name=f"block_{i}")(t, key_valid, rolled=rolled)
        return t


class LaplacianEntropyModel(nn.Module):
    M: int
    grouping: str = "uneven"
    spatial: str = "local_global"
    position: str = "laplacian"
    window: int = 8
    heads: int = 4
    width: int = 192
    attention_dim: int = 128

    def setup(self):
        if self.spatial not in SPATIAL_CONTEXTS:
            raise ValueError(f"unknown spatial context {self.spatial!r}; choose one of "
                             f"{SPATIAL_CONTEXTS}")
        if self.position not in POSITION_ENCODINGS:
            raise ValueError(f"unknown position encoding {self.position!r}; choose one of "
                             f"{POSITION_ENCODINGS}")
        sizes = chunk_sizes(self.M, self.grouping)
        self.channel_ctx = [ChannelContext(start, self.width) for start, _ in self.chunks()[1:]]
        self.anchor_net = [ParamNet(c, self.width) for c in sizes]
        if self.spatial == "serial":
            self.serial_ctx = [MaskedConv(c, self.width, raster_kernel_mask()) for c in sizes]
            self.serial_net = [ParamNet(c, self.width) for c in sizes]
        elif self.spatial != "none":
            self.local_ctx = [MaskedConv(c, self.width, checkerboard_kernel_mask())
                              for c in sizes]
            self.nonanchor_net = [ParamNet(c, self.width) for c in sizes]
        if self.spatial == "local_global":
            self.global_ctx = [GlobalContext(self.attention_dim, self.heads, self.window,
                                             self.position) for _ in sizes]

    # -------------------------------------------------------------- structure
    def chunks(self) -> list[tuple[int, int]]:
        """(start, stop) channel range of each chunk."""
        sizes = chunk_sizes(self.M, self.grouping)
        starts = np.cumsum((0,) + sizes[:-1])
        return [(int(s), int(s + c)) for s, c in zip(starts, sizes)]

    def steps_per_chunk(self) -> int:
        return 1 if self.spatial in ("none", "serial") else 2

    def coding_steps(self, shape: tuple[int, int, int]) -> list[CodingStep]:
        """Per chunk: anchors then non-anchors (one step for channel-only; one step per
        position, in raster order, for the serial context)."""
        h, w, m = shape
        anchors = anchor_mask(h, w)[..., None]
        steps = []
        for j, (start, stop) in enumerate(self.chunks()):
            if self.spatial == "serial":
                steps += [CodingStep(j, p, (p // w, p % w, slice(start, stop)), local=True)
                          for p in range(h * w)]
                continue
            channels = np.zeros((1, 1, m), bool)
            channels[..., start:stop] = True
            if self.spatial == "none":
                steps.append(CodingStep(j, 0, np.broadcast_to(channels, shape).copy()))
            else:
                steps.append(CodingStep(2 * j, 0, anchors & channels))
                steps.append(CodingStep(2 * j + 1, 0, ~anchors & channels))
        return steps

    # -------------------------------------------------------------- parameters
    def chunk_params(self, j: int, phase: int, hyper: jax.Array, y_hat: jax.Array,
                     rolled: bool = False):
        """(mu, sigma) of chunk j over every position; phase 0 is valid at the anchors (or
        everywhere for the channel-only model), phase 1 at the non-anchors. ``rolled``: the
        shifted attention windows by a cyclic roll (the training forward; equal values up to
        float rounding, window_attention.py); coding leaves it off."""
        start, stop = self.chunks()[j]
        base = [hyper]
        if j > 0:
            base.append(self.channel_ctx[j - 1](y_hat[..., :start]))
        base = jnp.concatenate(base, axis=-1)
        if self.spatial == "serial":
            serial = self.serial_ctx[j](y_hat[..., start:stop])
            return self.serial_net[j](jnp.concatenate([base, serial], axis=-1))
        if phase == 0:
            return self.anchor_net[j](base)
        anchors = jnp.asarray(anchor_mask(*y_hat.shape[1:3]))[None, :, :, None]
        y_anchor = y_hat[..., start:stop] * anchors
        local = self.local_ctx[j](y_anchor)
        context = [base, local]
        if self.spatial == "local_global":
            context.append(self.global_ctx[j](local, y_anchor, anchors[..., 0], rolled=rolled))
        return self.nonanchor_net[j](jnp.concatenate(context, axis=-1))

    def step_params(self, key: int, arg, hyper: jax.Array, y_hat: jax.Array):
        """(mu, sigma) over all of y for a coding step (valid where its index selects).

        For the serial context, ``arg`` is the position and only its chunk's elements there
        are computed, from 5x5 neighbourhoods: decoding visits every position, so that is
        what a competent serial decoder does."""
        if self.spatial == "serial":
            return self.serial_params_at(key, arg, hyper, y_hat)
        j, phase = divmod(key, self.steps_per_chunk())
        mu, sigma = self.chunk_params(j, phase, hyper, y_hat)
        start, stop = self.chunks()[j]
        pad = ((0, 0), (0, 0), (0, 0), (start, self.M - stop))
        return jnp.pad(mu, pad), jnp.pad(sigma, pad, constant_values=1.0)

    def serial_params_at(self, j: int, position, hyper: jax.Array, y_hat: jax.Array):
        """(mu, sigma), each (chunk channels,), of chunk j at one position (row-major)."""
        start, stop = self.chunks()[j]
        h, w = y_hat.shape[1:3]
        r, c = position // w, position % w
        padded = jnp.pad(y_hat, ((0, 0), (2, 2), (2, 2), (0, 0)))
        window = jax.lax.dynamic_slice(padded, (0, r, c, 0), (1, 5, 5, self.M))
        features = [jax.lax.dynamic_slice(hyper, (0, r, c, 0), (1, 1, 1, hyper.shape[-1]))]
        if j > 0:
            rows, cols = r - 1 + jnp.arange(3), c - 1 + jnp.arange(3)
            inside = (((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None])
            features.append(self.channel_ctx[j - 1].at(window[..., :start],
                                                       inside.astype(y_hat.dtype)))
        features.append(self.serial_ctx[j].at(window[..., start:stop]))
        mu, sigma = self.serial_net[j](jnp.concatenate(features, axis=-1))
        return mu[0, 0, 0], sigma[0, 0, 0]

    # -------------------------------------------------------------- training forward
    def __call__(self, y: jax.Array, hyper: jax.Array, train: bool, round_fn=None):
        """y_hat (mean-shifted rounding, straight-through) and likelihoods, chunk by chunk
        with the same parameter computation as coding. ``round_fn`` (encoder-side
        refinement) replaces the rounding, and the likelihoods are then those of its y_hat,
        gradients included."""
        rnd = ste_round if round_fn is None else round_fn
        y_hat = jnp.zeros_like(y)
        likelihoods = []
        anchors = jnp.asarray(anchor_mask(*y.shape[1:3]))[None, :, :, None]
        for j, (start, stop) in enumerate(self.chunks()):
            y_j = y[..., start:stop]
            if self.spatial == "serial":
                context = y_hat.at[..., start:stop].set(ste_round(y_j))
                mu, sigma = self.chunk_params(j, 0, hyper, context)
            else:
                mu, sigma = self.chunk_params(j, 0, hyper, y_hat)
            if self.spatial not in ("none", "serial"):
                y_hat_anchor = (rnd(y_j - mu) + mu) * anchors
                partial = y_hat.at[..., start:stop].set(y_hat_anchor)
                mu_n, sigma_n = self.chunk_params(j, 1, hyper, partial, rolled=True)
                mu = jnp.where(anchors, mu, mu_n)
                sigma = jnp.where(anchors, sigma, sigma_n)
            y_hat_j = rnd(y_j - mu) + mu
            if round_fn is not None:
                likelihoods.append(gc.likelihood(y_hat_j, mu, sigma))
            elif train:
                noise = jax.random.uniform(self.make_rng("noise"), y_j.shape, y_j.dtype,
                                           -0.5, 0.5)
                likelihoods.append(gc.likelihood(y_j + noise, mu, sigma))
            else:
                likelihoods.append(gc.likelihood(jax.lax.stop_gradient(y_hat_j), mu, sigma))
            y_hat = y_hat.at[..., start:stop].set(y_hat_j)
        return y_hat, jnp.concatenate(likelihoods, axis=-1)
