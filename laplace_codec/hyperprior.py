"""The mean-scale hyperprior entropy model for y (Minnen et al. 2018, without context).

This is the baseline row of every comparison and the simplest instance of the entropy-model
interface that the codec drives:

- ``__call__(y, hyper, train)`` is the training forward: it returns ``y_hat`` for the
  decoder (mean-shifted rounding with a straight-through gradient) and the likelihood of
  every element (of ``y + u``, u ~ U(-1/2, 1/2), in training; of ``y_hat`` otherwise);
- ``coding_masks(shape)`` lists the coding steps, each a boolean mask over (h, w, M) of the
  elements coded together; ``step_params(k, hyper, y_hat)`` gives (mu, sigma) for step k
  from ``hyper`` and the elements of ``y_hat`` decoded in earlier steps only.

Here there is a single step: every element's parameters come from the hyper features alone.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec import gaussian_conditional as gc


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

    @staticmethod
    def coding_masks(shape: tuple[int, int, int]) -> list[np.ndarray]:
        return [np.ones(shape, bool)]

    def step_params(self, k: int, hyper: jax.Array, y_hat: jax.Array):
        del k, y_hat  # one step, conditioned on the hyper features only
        return self._params(hyper)
