"""Swin window attention with a key mask and a choice of relative position bias.

Used by the Laplacian-guided entropy model's global spatial context (paper section 3.4.2,
Fig. 2b): W-MSA then SW-MSA blocks over a latent feature map, where a query attends only to
keys marked valid (the decoded anchors of the checkerboard; never padding), and the logits
get a relative position bias (eq. 15):

- ``none``: no bias (the MEM-style transformer context);
- ``relative``: Swin's learned table, one value per offset (dy, dx) in [-(w-1), w-1]^2 and head;
- ``diamond``: Entroformer's diamond table, one learned value per offset with
  |dx| + |dy| <= 2 and one shared value for every offset beyond, per head;
- ``laplacian``: ``A^2 exp(-(|dx| + |dy|) / (2 sigma^2))`` with learnable scalars A, sigma
  (eq. 16, Fig. 3), shared by the heads.

Shifted windows are made by padding, not by a cyclic roll: the map is padded by ``shift`` at
the top and left and up to a multiple of the window at the bottom and right; padding is
never a valid key. So a window never mixes positions that are not neighbours, and sizes that
are not multiples of the window, or smaller than one window, need no special case.

``rolled=True`` computes the same attention with Swin's cyclic roll instead (the training
forward, on maps whose sides are multiples of the window): the map is rolled by ``shift``
and a key counts for a query only if it comes from the same padded window, so every window
holds the same tokens at the same relative offsets and the values agree up to float
rounding, over (H/w)(W/w) windows instead of (H/w + 1)(W/w + 1): a quarter of the tokens on
a training crop's 8 x 8 latent. Coding keeps the padded form, the computation that every
file so far was written with.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

POSITION_ENCODINGS = ("none", "relative", "diamond", "laplacian")
DIAMOND_RADIUS = 2


def window_offsets(window: int) -> tuple[np.ndarray, np.ndarray]:
    """(dy, dx) of every (query, key) pair of a window, each (w^2, w^2), raster order."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij"), -1)
    coords = coords.reshape(-1, 2)
    delta = coords[None, :, :] - coords[:, None, :]  # key minus query
    return delta[..., 0], delta[..., 1]


def relative_index(window: int) -> np.ndarray:
    """Swin's table index of each pair: (dy + w - 1) * (2w - 1) + (dx + w - 1)."""
    dy, dx = window_offsets(window)
    return (dy + window - 1) * (2 * window - 1) + (dx + window - 1)


def diamond_index(window: int) -> np.ndarray:
    """Index of each pair into the diamond table: offsets with |dy| + |dx| <= 2 in raster
    order of (dy, dx), then one shared bucket for every farther offset."""
    offsets = [(a, b) for a in range(-DIAMOND_RADIUS, DIAMOND_RADIUS + 1)
               for b in range(-DIAMOND_RADIUS, DIAMOND_RADIUS + 1)
               if abs(a) + abs(b) <= DIAMOND_RADIUS]
    lookup = {o: i for i, o in enumerate(offsets)}
    dy, dx = window_offsets(window)
    far = len(offsets)
    return np.vectorize(lambda a, b: lookup.get((a, b), far))(dy, dx)


def laplacian_bias(amplitude: jax.Array, sigma: jax.Array, window: int) -> jax.Array:
    """``P[p, q] = A^2 exp(-(|dx| + |dy|) / (2 sigma^2))`` for a w x w window (eq. 16)."""
    dy, dx = window_offsets(window)
    distance = jnp.asarray(np.abs(dy) + np.abs(dx), jnp.float32)
    return amplitude ** 2 * jnp.exp(-distance / (2.0 * sigma ** 2 + 1e-6))


class PositionBias(nn.Module):
    """The (heads, w^2, w^2) bias added to the attention logits of every window."""

    kind: str
    window: int
    heads: int

    @nn.compact
    def __call__(self) -> jax.Array:
        w2 = self.window * self.window
        if self.kind == "none":
            return jnp.zeros((self.heads, w2, w2))
        if self.kind == "relative":
            table = self.param("table", nn.initializers.truncated_normal(0.02),
                               ((2 * self.window - 1) ** 2, self.heads))
            return table[relative_index(self.window)].transpose(2, 0, 1)
        if self.kind == "diamond":
            table = self.param("table", nn.initializers.truncated_normal(0.02),
                               (diamond_index(self.window).max() + 1, self.heads))
            return table[diamond_index(self.window)].transpose(2, 0, 1)
        if self.kind == "laplacian":
            amplitude = self.param("amplitude", nn.initializers.ones, ())
            sigma = self.param("sigma", nn.initializers.constant(2.0), ())
            bias = laplacian_bias(amplitude, sigma, self.window)
            return jnp.broadcast_to(bias, (self.heads, w2, w2))
        raise ValueError(f"unknown position encoding {self.kind!r}; choose one of "
                         f"{POSITION_ENCODINGS}")


def _partition(x: jax.Array, window: int) -> jax.Array:
    """(B, H, W, C) with H, W multiples of the window -> (B, nH * nW, w^2, C)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, -1, window * window, c)


def _merge(x: jax.Array, window: int, h: int, w: int) -> jax.Array:
    b, _, _, c = x.shape
    x = x.reshape(b, h // window, w // window, window, window, c)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)


def _rolled_regions(h: int, w: int, window: int, shift: int) -> np.ndarray:
    """(nW, T, T) bool: whether two tokens of a window of the map rolled by ``shift`` came
    from the same window of the padded map (only the first row and column of windows hold
    two or four such regions: rolled rows < shift wrapped around from the bottom)."""
    rows, cols = np.meshgrid(np.arange(h) < shift, np.arange(w) < shift, indexing="ij")
    region = (2 * rows + cols).reshape(h // window, window, w // window, window)
    region = region.transpose(0, 2, 1, 3).reshape(-1, window * window)
    return region[:, :, None] == region[:, None, :]


def _pad(x: jax.Array, window: int, shift: int, value=0):
    _, h, w, _ = x.shape
    bottom = (-(h + shift)) % window
    right = (-(w + shift)) % window
    return jnp.pad(x, ((0, 0), (shift, bottom), (shift, right), (0, 0)), constant_values=value)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside (optionally shifted) windows, with a key mask."""

    dim: int
    heads: int
    window: int
    shift: int
    position: str

    @nn.compact
    def __call__(self, x: jax.Array, key_valid: jax.Array, return_weights: bool = False,
                 rolled: bool = False):
        """``x`` (B, H, W, C); ``key_valid`` (B, H, W) bool. Returns (B, H, W, C).
        ``rolled``: Swin's cyclic roll where the sides are multiples of the window (module
        docstring)."""
        if self.dim % self.heads:
            raise ValueError(f"attention width {self.dim} is not divisible by {self.heads} heads")
        b, h, w, _ = x.shape
        shift, window = self.shift, self.window
        rolled = rolled and shift > 0 and h % window == 0 and w % window == 0
        if rolled:
            xp = jnp.roll(x, (shift, shift), axis=(1, 2))
            valid = jnp.roll(key_valid, (shift, shift), axis=(1, 2))[..., None]
        else:
            xp = _pad(x, window, shift)
            valid = _pad(key_valid[..., None], window, shift, False)
        hp, wp = xp.shape[1:3]
        tokens = _partition(xp, window)  # (B, nW, T, C)
        key_ok = _partition(valid, window)[:, :, None, None, :, 0]  # (B, nW, 1, 1, T)
        if rolled:
            key_ok = key_ok & _rolled_regions(h, w, window, shift)[None, :, None]
        d = self.dim // self.heads
        qkv = nn.Dense(3 * self.dim, name="qkv")(tokens)
        q, k, v = jnp.split(qkv.reshape(*qkv.shape[:-1], 3 * self.heads, d), 3, axis=-2)
        logits = jnp.einsum("bnqhd,bnkhd->bnhqk", q, k) / np.sqrt(d)
        logits = logits + PositionBias(self.position, window, self.heads)()
        # Masked keys get exactly zero weight (not merely a small one), so that their values
        # cannot reach the output even in the last bit: this is what keeps decoding causal.
        # Adding -1e30 gives exactly -1e30 for any finite logit below 1e22 (the same values
        # as a select, whose gradient XLA:CPU computes several times slower).
        logits = logits + jnp.where(key_ok, 0.0, -1e30)
        weights = jax.nn.softmax(logits, axis=-1) * key_ok
        out = jnp.einsum("bnhqk,bnkhd->bnqhd", weights, v).reshape(*tokens.shape[:-1], self.dim)
        out = nn.Dense(self.dim, name="proj")(out)
        out = _merge(out, window, hp, wp)
        if rolled:
            out = jnp.roll(out, (-shift, -shift), axis=(1, 2))
        else:
            out = out[:, shift:shift + h, shift:shift + w]
        if return_weights:
            return out, weights
        return out


class SwinBlock(nn.Module):
    """Pre-norm transformer block: window attention then an MLP, both residual."""

    dim: int
    heads: int
    window: int
    shift: int
    position: str
    mlp_ratio: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, key_valid: jax.Array, rolled: bool = False) -> jax.Array:
        x = x + WindowAttention(self.dim, self.heads, self.window, self.shift, self.position,
                                name="attention")(nn.LayerNorm()(x), key_valid, rolled=rolled)
        h = nn.Dense(self.mlp_ratio * self.dim)(nn.LayerNorm()(x))
        return x + nn.Dense(self.dim)(nn.gelu(h))
