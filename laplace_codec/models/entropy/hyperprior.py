"""The mean-scale hyperprior entropy model for y (Minnen et al. 2018, without context).

This is the baseline row of every comparison and the simplest instance of the entropy-model
interface that the codec drives:

- ``__call__(y, hyper, train)`` is the training forward: it returns ``y_hat`` for the
  decoder (mean-shifted rounding with a straight-through gradient) and the likelihood of
  every element (of ``y + u``, u ~ U(-1/2, 1/2), in training; of ``y_hat`` otherwise);
- ``coding_steps(shape)`` lists the coding steps, each a :class:`CodingStep` whose ``index``
  selects (numpy indexing of a (h, w, M) array) the elements coded together;
  ``step_params(key, arg, hyper, y_hat)`` gives (mu, sigma) over all of y for that step (or
  only the selected elements, for a ``local`` step) from ``hyper`` and the elements of
  ``y_hat`` decoded in earlier steps only (``key`` is static under jit, ``arg`` a traced
  integer, so many similar steps share one compiled function).

Here there is a single step: every element's parameters come from the hyper features alone.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec.models.entropy import gaussian_conditional as gc


class CodingStep(NamedTuple):
    key: int  # static: selects the computation (compiled once per key)
    arg: int  # dynamic: for instance a position in serial decoding
    index: object  # numpy index into (h, w, M): a boolean mask or a tuple of slices
    local: bool = False  # step_params returns only the selected elements, not all of y


def ste_round(x: jax.Array) -> jax.Array:
    """Rounding whose gradient is the identity (straight-through estimator)."""
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


class MeanScaleHyperprior(nn.Module):
    M: int
    hidden: int = 0

    def setup(self):
        self.param_0 = nn.Conv(self.hidden or 2 * self.M, (1, 1))
        self.param_1 = nn.Conv(2 * self.M, (1, 1))

    def _params(self, hyper: jax.Array):
        out = self.param_1(nn.leaky_relu(self.param_0(hyper)))
        mu, raw = jnp.split(out, 2, axis=-1)
        return mu, gc.sigma_from_raw(raw)

    def __call__(self, y: jax.Array, hyper: jax.Array, train: bool):
        mu, sigma = self._params(hyper)
        y_hat = ste_round(y - mu) + mu
        if train:
            noise = jax.random.uniform(self.make_rng("noise"), y.shape, y.dtype, -0.5, 0.5)
            lik = gc.likelihood(y + noise, mu, sigma)
        else:
            lik = gc.likelihood(jax.lax.stop_gradient(y_hat), mu, sigma)
        return y_hat, lik

    def coding_steps(self, shape: tuple[int, int, int]) -> list[CodingStep]:
        return [CodingStep(0, 0, np.ones(shape, bool))]

    def step_params(self, key: int, arg, hyper: jax.Array, y_hat: jax.Array):
        del key, arg, y_hat  # one step, conditioned on the hyper features only
        return self._params(hyper)
