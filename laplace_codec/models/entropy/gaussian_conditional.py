"""Gaussian conditional for y: discretized likelihood and the fixed scale quantizer.

Each element of y is modelled as a Gaussian with its own mean ``mu`` and scale ``sigma``
convolved with a unit-width uniform (Balle et al. 2018; Minnen et al. 2018): the likelihood
of ``y_hat`` is ``Phi((y_hat - mu + 1/2) / sigma) - Phi((y_hat - mu - 1/2) / sigma)``.

For range coding, sigma is mapped to one of ``num_scales`` log-spaced table scales by fixed
bin edges (the geometric midpoints between neighbouring scales). The edges are stored with
the coding tables, so encoder and decoder index identically.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from laplace_codec.models.entropy.base import LIKELIHOOD_BOUND

SCALE_MIN = 0.11
SCALE_MAX = 256.0
NUM_SCALES = 64


def scale_table(num_scales: int = NUM_SCALES, scale_min: float = SCALE_MIN,
                scale_max: float = SCALE_MAX) -> np.ndarray:
    """The table scales: ``num_scales`` values log-spaced in [scale_min, scale_max]."""
    if not 0 < scale_min < scale_max or num_scales < 2:
        raise ValueError(
            f"scale table needs 0 < scale_min < scale_max and num_scales >= 2, got "
            f"{scale_min}, {scale_max}, {num_scales}")
    return np.exp(np.linspace(np.log(scale_min), np.log(scale_max), num_scales))


def scale_bin_edges(scales: np.ndarray) -> np.ndarray:
    """Float32 edges between neighbouring table scales (their geometric means)."""
    return np.sqrt(scales[1:] * scales[:-1]).astype(np.float32)


def scale_to_index(sigma: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the table scale nearest (in log) to each sigma, by fixed float32 edges."""
    return np.searchsorted(edges, np.asarray(sigma, np.float32), side="right").astype(np.int32)


def sigma_from_raw(raw: jax.Array) -> jax.Array:
    """Maps an unconstrained network output to a scale bounded below by SCALE_MIN."""
    return SCALE_MIN + jax.nn.softplus(raw)


def _std_normal_cdf(x: jax.Array) -> jax.Array:
    return 0.5 * jax.lax.erfc(-x * np.float32(np.sqrt(0.5)))


def likelihood(y: jax.Array, mu: jax.Array, sigma: jax.Array) -> jax.Array:
    """Mass of the unit bin around ``y`` under N(mu, sigma^2) (eq. 1 of Minnen et al.)."""
    sigma = jnp.clip(sigma, SCALE_MIN, SCALE_MAX)
    v = jnp.abs(y - mu)
    # Both tails evaluated on the left side of the Gaussian, where erfc is accurate.
    upper = _std_normal_cdf((0.5 - v) / sigma)
    lower = _std_normal_cdf((-0.5 - v) / sigma)
    return jnp.maximum(upper - lower, LIKELIHOOD_BOUND)


def mass(v: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
    """The same bin mass as :func:`likelihood`, in float64 numpy, for a residual ``v = y -
    mu`` (the coding tables' rows and the encoder's rate estimate); not bounded below."""
    s = np.clip(np.asarray(sigma, np.float64), SCALE_MIN, SCALE_MAX)
    a = np.abs(np.asarray(v, np.float64))
    return special.ndtr((0.5 - a) / s) - special.ndtr((-0.5 - a) / s)
