"""Learned factorized prior for the hyper-latent z (Balle et al. 2018, appendix 6.1).

Each channel has its own univariate cumulative distribution ``c(v)``, a monotone function
built from a small network whose matrices are kept positive with softplus. The likelihood of
an integer ``z_hat`` (or of ``z + u`` with uniform noise in training) is the mass of the
unit interval around it, ``c(z + 1/2) - c(z - 1/2)``.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec.models.entropy.base import LIKELIHOOD_BOUND


def _uniform_centered(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, minval=-0.5, maxval=0.5)


class FactorizedPrior(nn.Module):
    """Per-channel density model for z; ``__call__`` returns likelihoods of shape ``z.shape``."""

    channels: int
    filters: Sequence[int] = (3, 3, 3)
    init_scale: float = 10.0

    def setup(self):
        dims = (1, *self.filters, 1)
        scale = self.init_scale ** (1.0 / (len(dims) - 1))
        matrices, biases, factors = [], [], []
        for k in range(len(dims) - 1):
            init = float(np.log(np.expm1(1.0 / scale / dims[k + 1])))
            matrices.append(self.param(
                f"matrix_{k}", nn.initializers.constant(init),
                (self.channels, dims[k + 1], dims[k])))
            biases.append(self.param(
                f"bias_{k}", _uniform_centered,
                (self.channels, dims[k + 1], 1)))
            if k < len(dims) - 2:
                factors.append(self.param(
                    f"factor_{k}", nn.initializers.zeros, (self.channels, dims[k + 1], 1)))
        self.matrices, self.biases, self.factors = matrices, biases, factors

    def logits_cdf(self, v: jax.Array) -> jax.Array:
        """Logit of the cumulative ``c(v)`` for ``v`` of shape (channels, n)."""
        x = v[:, None, :]
        for k, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            x = jnp.matmul(jax.nn.softplus(matrix), x) + bias
            if k < len(self.factors):
                x = x + jnp.tanh(self.factors[k]) * jnp.tanh(x)
        return x[:, 0, :]

    def __call__(self, z: jax.Array) -> jax.Array:
        """Likelihood of each element of ``z`` (..., channels) under the unit-bin mass."""
        shape = z.shape
        v = z.reshape(-1, self.channels).T
        lower = self.logits_cdf(v - 0.5)
        upper = self.logits_cdf(v + 0.5)
        # Evaluate on the side of the median where the sigmoids do not saturate to 1.
        sign = jax.lax.stop_gradient(-jnp.sign(lower + upper))
        likelihood = jnp.abs(jax.nn.sigmoid(sign * upper) - jax.nn.sigmoid(sign * lower))
        likelihood = jnp.maximum(likelihood, LIKELIHOOD_BOUND)
        return likelihood.T.reshape(shape)
