"""Gain units: one model for a continuous range of rates (Cui et al., "Asymmetric Gained
Deep Image Compression With Continuous Rate Adaptation", CVPR 2021).

A variable-rate model is trained for ``L`` rate levels with lambdas ``lmbdas`` (largest
first: level 1 spends the fewest bits). Level ``l`` owns a gain vector ``g_l`` and an
inverse gain vector ``g'_l`` over the channels of a latent: the encoder scales ``y`` by
``g_l`` before quantisation, the decoder scales ``y_hat`` by ``g'_l`` after it (and the same
for ``z``), so a larger gain quantises more finely and spends more bits. Between two levels
the vectors are interpolated exponentially (eq. 9 of Cui et al.)::

    g_q = g_l ** (1 - f) * g_{l+1} ** f,   l = floor(q), f = q - l

for the *quality* ``q`` in ``[1, L]``: a continuous scale, higher is better. Its lambda
follows the same interpolation, on a log scale: ``lmbda(q) = lmbda_l ** (1 - f) *
lmbda_{l+1} ** f`` (``lmbda_for_quality``, and its inverse ``quality_for_lmbda``).

The vectors start at ``sqrt(lmbda_ref / lmbda_l)`` (and its inverse), with ``lmbda_ref`` the
geometric middle of the range: at high rate the best quantisation step of an MSE codec grows
as the square root of lambda, so a fixed-rate model trained at ``lmbda_ref`` starts every
level near its own rate.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def check_lmbdas(lmbdas: Sequence[float]) -> tuple[float, ...]:
    """The rate levels' lambdas as a tuple, refused unless positive and strictly falling."""
    lmbdas = tuple(float(v) for v in lmbdas)
    if len(lmbdas) < 2 or any(v <= 0 for v in lmbdas) or any(
            b >= a for a, b in zip(lmbdas, lmbdas[1:])):
        raise ValueError(f"model.rate_lmbdas must hold at least two positive lambdas, largest "
                         f"first (level 1 spends the fewest bits), got {list(lmbdas)}")
    return lmbdas


def quality_range(lmbdas: Sequence[float]) -> tuple[float, float]:
    return 1.0, float(len(lmbdas))


def reference_lmbda(lmbdas: Sequence[float]) -> float:
    """The geometric middle of the levels' lambdas (where the gains start at 1)."""
    return math.exp(sum(math.log(v) for v in lmbdas) / len(lmbdas))


def loss_weight(q, lmbdas: Sequence[float], power: float):
    """Each training image's weight on its loss ``D + lmbda R``: ``(lmbda_ref / lmbda(q)) **
    power``. Power 0 weights every rate alike in the units of eq. 8 (MSE), where a
    low-rate image's loss is several times a high-rate one's; power 1 is ``lmbda_ref (D /
    lmbda + R)``, the units of bits (the form of Cui et al. and CompressAI, ``R + lmbda' D``),
    which weights high rates most."""
    if power == 0:
        return jnp.ones(jnp.shape(q), jnp.float32)
    return (reference_lmbda(lmbdas) / lmbda_for_quality(q, lmbdas)) ** power


def check_quality(quality, lmbdas: Sequence[float]) -> float:
    """``quality`` as a float32-exact Python float inside the model's range, or a ValueError."""
    low, high = quality_range(lmbdas)
    try:
        q = float(np.float32(quality))
    except (TypeError, ValueError):
        raise ValueError(f"quality must be a number in [{low:g}, {high:g}], got "
                         f"{quality!r}") from None
    if not low <= q <= high:
        raise ValueError(f"quality {quality!r} is outside this model's range [{low:g}, "
                         f"{high:g}] (higher is better)")
    return q


DEFAULT_LMBDA = 0.01  # the paper's ablation setting


def default_quality(lmbdas: Sequence[float]) -> float:
    """The quality of lambda 0.01 when the range holds it, else the middle of the range."""
    lmbdas = check_lmbdas(lmbdas)
    if lmbdas[-1] <= DEFAULT_LMBDA <= lmbdas[0]:
        return float(np.float32(quality_for_lmbda(DEFAULT_LMBDA, lmbdas)))
    return (1.0 + len(lmbdas)) / 2


def _split(q, levels: int):
    """(lower level index from 0, fraction) of quality ``q`` in [1, levels]."""
    pos = jnp.clip(jnp.asarray(q, jnp.float32) - 1.0, 0.0, levels - 1.0)
    low = jnp.minimum(jnp.floor(pos), levels - 2).astype(jnp.int32)
    return low, pos - low


def lmbda_for_quality(q, lmbdas: Sequence[float]):
    """The lambda a quality trains for: log-linear between the levels' lambdas."""
    logs = jnp.log(jnp.asarray(lmbdas, jnp.float32))
    low, frac = _split(q, len(lmbdas))
    return jnp.exp(logs[low] * (1 - frac) + logs[low + 1] * frac)


def quality_for_lmbda(lmbda: float, lmbdas: Sequence[float]) -> float:
    """The quality whose interpolated lambda is ``lmbda`` (inside the levels' range)."""
    lmbdas = check_lmbdas(lmbdas)
    if not (isinstance(lmbda, (int, float)) and lmbdas[-1] <= lmbda <= lmbdas[0]):
        raise ValueError(f"lambda {lmbda!r} is outside this model's range [{lmbdas[-1]:g}, "
                         f"{lmbdas[0]:g}]")
    for i, (a, b) in enumerate(zip(lmbdas, lmbdas[1:])):
        if b <= lmbda <= a:
            return 1.0 + i + math.log(a / lmbda) / math.log(a / b)
    raise AssertionError("unreachable")


class GainUnit(nn.Module):
    """Per-level gain and inverse gain vectors over ``channels``, interpolated at a quality."""

    lmbdas: tuple[float, ...]
    channels: int

    def setup(self):
        ref = reference_lmbda(self.lmbdas)
        start = np.array([math.sqrt(ref / v) for v in self.lmbdas], np.float32)

        def init(scale):
            return lambda key, shape: jnp.broadcast_to(jnp.asarray(scale)[:, None], shape)

        # Stored as logarithms: positive by construction, and eq. 9's geometric
        # interpolation becomes a linear one.
        self.log_gain = self.param("log_gain", init(np.log(start)),
                                   (len(self.lmbdas), self.channels))
        self.log_inverse = self.param("log_inverse", init(-np.log(start)),
                                      (len(self.lmbdas), self.channels))

    def _at(self, table: jax.Array, q) -> jax.Array:
        """exp of the interpolated row for each quality in ``q`` (scalar or (B,)): (B, 1, 1, C)."""
        low, frac = _split(jnp.atleast_1d(q), len(self.lmbdas))
        row = table[low] * (1 - frac)[:, None] + table[low + 1] * frac[:, None]
        return jnp.exp(row)[:, None, None, :]

    def gain(self, q) -> jax.Array:
        return self._at(self.log_gain, q)

    def inverse(self, q) -> jax.Array:
        return self._at(self.log_inverse, q)

    def __call__(self, q):
        return self.gain(q), self.inverse(q)
