"""The mean-scale hyperprior entropy model for y (Minnen et al. 2018, without context):
the baseline row of every comparison and the simplest instance of the entropy-model
interface (``base.py``). There is a single coding step: every element's parameters come
from the hyper features alone.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec.models import layers
from laplace_codec.models.entropy import gaussian_conditional as gc
from laplace_codec.models.entropy.base import CodingStep, ste_round


class MeanScaleHyperprior(nn.Module):
    M: int
    hidden: int = 0

    def setup(self):
        self.param_0 = layers.Conv(self.hidden or 2 * self.M, (1, 1))
        self.param_1 = layers.Conv(2 * self.M, (1, 1))

    def _params(self, hyper: jax.Array):
        out = self.param_1(nn.leaky_relu(self.param_0(hyper)))
        mu, raw = jnp.split(out, 2, axis=-1)
        return mu, gc.sigma_from_raw(raw)

    def __call__(self, y: jax.Array, hyper: jax.Array, train: bool, round_fn=None):
        """y_hat (mean-shifted rounding, straight-through) and its likelihoods; ``round_fn``
        (encoder-side refinement) replaces the rounding, the likelihoods following it."""
        mu, sigma = self._params(hyper)
        y_hat = (ste_round if round_fn is None else round_fn)(y - mu) + mu
        if round_fn is not None:
            lik = gc.likelihood(y_hat, mu, sigma)
        elif train:
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
