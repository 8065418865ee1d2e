"""The entropy-model interface that the codec drives, and what every entropy model shares.

An entropy model of y (``hyperprior.MeanScaleHyperprior``, ``laplacian.LaplacianEntropyModel``)
is a Flax module with:

- ``__call__(y, hyper, train)``, the training forward: it returns ``y_hat`` for the decoder
  (mean-shifted rounding ``round(y - mu) + mu`` with a straight-through gradient,
  :func:`ste_round`) and the likelihood of every element (of ``y + u``, u ~ U(-1/2, 1/2), in
  training; of ``y_hat`` otherwise), bounded below by ``LIKELIHOOD_BOUND``;
- ``coding_steps(shape)``, the coding steps, each a :class:`CodingStep` whose ``index``
  selects (numpy indexing of a (h, w, M) array) the elements coded together;
- ``step_params(key, arg, hyper, y_hat)``, the (mu, sigma) over all of y for that step (or
  only the selected elements, for a ``local`` step) from ``hyper`` and the elements of
  ``y_hat`` decoded in earlier steps only (``key`` is static under jit, ``arg`` a traced
  integer, so many similar steps share one compiled function).

Causality is what makes the codec decodable: a step's parameters may depend only on z_hat
and on elements of earlier steps (tests/test_laplacian_entropy.py changes forbidden inputs
and shows that the parameters do not move).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

# The smallest likelihood of any element (of y or z): bounds the rate of an element at
# about 30 bits, so that one outlier cannot make the training loss infinite.
LIKELIHOOD_BOUND = 1e-9


class CodingStep(NamedTuple):
    key: int  # static: selects the computation (compiled once per key)
    arg: int  # dynamic: for instance a position in serial decoding
    index: object  # numpy index into (h, w, M): a boolean mask or a tuple of slices
    local: bool = False  # step_params returns only the selected elements, not all of y


def ste_round(x: jax.Array) -> jax.Array:
    """Rounding whose gradient is the identity (straight-through estimator)."""
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def sga_round(x: jax.Array, key: jax.Array, tau) -> jax.Array:
    """Stochastic Gumbel annealing (Yang et al., "Improving Inference for Neural Image
    Compression", NeurIPS 2020, section 3.3): a relaxed random choice between floor(x) and
    ceil(x), the nearer one likelier, with logits ``-atanh(distance) / tau`` and a
    Gumbel-softmax sample at temperature ``tau``. As tau falls to 0 it becomes rounding;
    unlike rounding, its value and gradient see how far x is from each integer."""
    floor = jnp.floor(x)
    r = x - floor
    distance = jnp.clip(jnp.stack([r, 1 - r], axis=-1), 0.0, 1 - 1e-5)
    logits = -jnp.arctanh(distance) / tau
    weights = jax.nn.softmax((logits + jax.random.gumbel(key, logits.shape)) / tau, axis=-1)
    return floor + weights[..., 1]
