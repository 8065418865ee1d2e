"""The learned codec as one Flax module: transforms, hyperprior, and the entropy model of y.

Images enter and leave in [-1, 1] (uint8 / 127.5 - 1), NHWC, with H and W multiples of
``PAD_MULTIPLE``. The pieces are exposed as methods so that the coding path (``codec.py``)
can run the decoder's computation step by step with ``model.apply(..., method=...)``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from laplace_codec.factorized_prior import FactorizedPrior
from laplace_codec.hyperprior import MeanScaleHyperprior, ste_round
from laplace_codec.laplacian_entropy import LaplacianEntropyModel
from laplace_codec.transforms import (AnalysisTransform, HyperAnalysis, HyperSynthesis,
                                      SynthesisTransform)

PAD_MULTIPLE = 64  # y is at H/16 and z at H/64
ENTROPY_MODELS = {"hyperprior": MeanScaleHyperprior, "laplacian": LaplacianEntropyModel}


class CompressionModel(nn.Module):
    N: int = 192
    M: int = 256
    res_blocks: int = 1
    entropy: str = "hyperprior"
    entropy_options: tuple = ()  # (name, value) pairs for the entropy model of y

    def setup(self):
        if self.entropy not in ENTROPY_MODELS:
            raise ValueError(f"unknown model.entropy {self.entropy!r}; choose one of "
                             f"{sorted(ENTROPY_MODELS)}")
        self.g_a = AnalysisTransform(self.N, self.M, self.res_blocks)
        self.g_s = SynthesisTransform(self.N, 3, self.res_blocks)
        self.h_a = HyperAnalysis(self.N)
        self.h_s = HyperSynthesis(self.N, 2 * self.M)
        self.z_prior = FactorizedPrior(self.N)
        self.y_model = ENTROPY_MODELS[self.entropy](self.M, **dict(self.entropy_options))

    def __call__(self, x: jax.Array, train: bool = False) -> dict[str, jax.Array]:
        """Training forward: reconstruction and the likelihoods of y and z."""
        y = self.g_a(x)
        z = self.h_a(y)
        if train:
            noise = jax.random.uniform(self.make_rng("noise"), z.shape, z.dtype, -0.5, 0.5)
            z_likelihood = self.z_prior(z + noise)
        else:
            z_likelihood = self.z_prior(jnp.round(z))
        z_hat = ste_round(z)
        y_hat, y_likelihood = self.y_model(y, self.h_s(z_hat), train)
        return dict(x_hat=self.g_s(y_hat), y_hat=y_hat,
                    y_likelihood=y_likelihood, z_likelihood=z_likelihood)

    # The coding path, piece by piece.
    def analyze(self, x: jax.Array):
        y = self.g_a(x)
        return y, self.h_a(y)

    def hyper(self, z_hat: jax.Array) -> jax.Array:
        return self.h_s(z_hat)

    def step_params(self, key: int, arg, hyper: jax.Array, y_hat: jax.Array):
        return self.y_model.step_params(key, arg, hyper, y_hat)

    def synthesize(self, y_hat: jax.Array) -> jax.Array:
        return self.g_s(y_hat)

    def z_logits_cdf(self, v: jax.Array) -> jax.Array:
        return self.z_prior.logits_cdf(v)


def from_config(model_config: ml_collections.ConfigDict) -> CompressionModel:
    """The model of ``config.model``; ``config.model.<entropy>`` holds that entropy model's
    options (for example ``config.model.laplacian.position``)."""
    if model_config.entropy not in ENTROPY_MODELS:
        raise ValueError(f"unknown model.entropy {model_config.entropy!r}; choose one of "
                         f"{sorted(ENTROPY_MODELS)}")
    options = model_config.get(model_config.entropy)
    options = tuple(sorted(options.to_dict().items())) if options is not None else ()
    return CompressionModel(N=model_config.N, M=model_config.M,
                            res_blocks=model_config.res_blocks, entropy=model_config.entropy,
                            entropy_options=options)


def entropy_model(model: CompressionModel):
    """An unbound instance of the model's entropy model (for its coding structure)."""
    return ENTROPY_MODELS[model.entropy](model.M, **dict(model.entropy_options))


def coding_steps(model: CompressionModel, latent_shape: tuple[int, int, int]):
    return entropy_model(model).coding_steps(latent_shape)
