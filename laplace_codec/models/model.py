"""The learned codec as one Flax module: transforms, hyperprior, and the entropy model of y.

Images enter and leave in [-1, 1] (uint8 / 127.5 - 1), NHWC, with H and W multiples of
``PAD_MULTIPLE``. The pieces are exposed as methods so that the coding path (``codec.py``)
can run the decoder's computation step by step with ``model.apply(..., method=...)``.

Two decoders (``model.decoder``): ``"mse"``, the synthesis transform ``g_s`` trained on the
MSE, and ``"diffusion"``, the conditional blurring-diffusion decoder ``phi``
(``decoders/unet.py``) trained on the noise-prediction loss and conditioned on the
``g_s`` pyramid, whose image is sampled (``sample_image``). What differs between them is the
decoder kind's (``decoders/kinds.py``, ``decoder_for(model)``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from laplace_codec.models.decoders.kinds import decoder_for, decoder_kind
from laplace_codec.models.entropy.base import ste_round
from laplace_codec.models.entropy.factorized_prior import FactorizedPrior
from laplace_codec.models.entropy.hyperprior import MeanScaleHyperprior
from laplace_codec.models.entropy.laplacian import LaplacianEntropyModel
from laplace_codec.models.transforms import (
    AnalysisTransform,
    HyperAnalysis,
    HyperSynthesis,
    SynthesisTransform,
)

PAD_MULTIPLE = 64  # y is at H/16 and z at H/64


def from_uint8(x):
    """uint8 pixels (numpy or JAX) as the model's float32 input in [-1, 1]."""
    return x.astype("float32") / 127.5 - 1.0


def to_uint8(x):
    """The model's output in [-1, 1] as pixel values: rounded, clipped to [0, 255], still
    float (cast with ``.astype(np.uint8)``)."""
    return ((x + 1.0) * 127.5).round().clip(0, 255)

ENTROPY_MODELS = {"hyperprior": MeanScaleHyperprior, "laplacian": LaplacianEntropyModel}


class CompressionModel(nn.Module):
    N: int = 192
    M: int = 256
    res_blocks: int = 1
    entropy: str = "hyperprior"
    entropy_options: tuple = ()  # (name, value) pairs for the entropy model of y
    decoder: str = "mse"
    decoder_options: tuple = ()  # (name, value) pairs for the diffusion decoder

    def setup(self):
        if self.entropy not in ENTROPY_MODELS:
            raise ValueError(f"unknown model.entropy {self.entropy!r}; choose one of "
                             f"{sorted(ENTROPY_MODELS)}")
        decoder = decoder_for(self)  # raises for an unknown model.decoder
        self.g_a = AnalysisTransform(self.N, self.M, self.res_blocks)
        self.g_s = SynthesisTransform(self.N, 3, self.res_blocks)
        for name, module in decoder.make_modules().items():  # phi: a diffusion decoder's
            setattr(self, name, module)
        self.h_a = HyperAnalysis(self.N)
        self.h_s = HyperSynthesis(self.N, 2 * self.M)
        self.z_prior = FactorizedPrior(self.N)
        self.y_model = ENTROPY_MODELS[self.entropy](self.M, **dict(self.entropy_options))

    def __call__(self, x: jax.Array, train: bool = False) -> dict[str, jax.Array]:
        """Training forward: the likelihoods of y and z, and the decoder's output: the
        reconstruction ``x_hat`` (MSE decoder), or (diffusion decoder, eq. 11-12) the noise
        ``eps`` drawn for a random t, its prediction ``eps_hat`` from z_t, and the one-step
        reconstruction ``x0_hat`` (clipped to [-1, 1]). Random numbers come from the
        ``noise`` RNG stream. The decoder's part is its kind's (``kinds.py``)."""
        y = self.g_a(x)
        z = self.h_a(y)
        if train:
            noise = jax.random.uniform(self.make_rng("noise"), z.shape, z.dtype, -0.5, 0.5)
            z_likelihood = self.z_prior(z + noise)
        else:
            z_likelihood = self.z_prior(jnp.round(z))
        z_hat = ste_round(z)
        y_hat, y_likelihood = self.y_model(y, self.h_s(z_hat), train)
        out = dict(y_hat=y_hat, y_likelihood=y_likelihood, z_likelihood=z_likelihood)
        out.update(decoder_for(self).forward(self, x, y_hat, train))
        return out

    # The coding path, piece by piece.
    def analyze(self, x: jax.Array):
        y = self.g_a(x)
        return y, self.h_a(y)

    def hyper(self, z_hat: jax.Array) -> jax.Array:
        return self.h_s(z_hat)

    def step_params(self, key: int, arg, hyper: jax.Array, y_hat: jax.Array):
        return self.y_model.step_params(key, arg, hyper, y_hat)

    def synthesize(self, y_hat: jax.Array) -> jax.Array:
        """The MSE decoder's image (for a diffusion codec, the image its sampling starts from
    as a condition, not its output)."""
        return self.g_s(y_hat)

    def condition(self, y_hat: jax.Array) -> list[jax.Array]:
        """The diffusion decoder's conditioning: the ``g_s`` pyramid at H, H/2, H/4, H/8."""
        return self.g_s(y_hat, pyramid=True)

    def denoise(self, z_t: jax.Array, t: jax.Array, cond: list[jax.Array]) -> jax.Array:
        return self.phi(z_t, t, cond)

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
    decoder = decoder_kind(model_config.get("decoder", "mse"))
    return CompressionModel(N=model_config.N, M=model_config.M,
                            res_blocks=model_config.res_blocks, entropy=model_config.entropy,
                            entropy_options=options, decoder=decoder.name,
                            decoder_options=decoder.config_options(model_config))


def entropy_model(model: CompressionModel):
    """An unbound instance of the model's entropy model (for its coding structure)."""
    return ENTROPY_MODELS[model.entropy](model.M, **dict(model.entropy_options))


def coding_steps(model: CompressionModel, latent_shape: tuple[int, int, int]):
    return entropy_model(model).coding_steps(latent_shape)


def diffusion_option(model: CompressionModel, name: str):
    """One option of the model's diffusion decoder (its configured value or the default)."""
    return decoder_for(model).option(name)


def sample_image(model: CompressionModel, variables, y_hat: jax.Array, rng: jax.Array,
                 steps: int, sampler: str, return_trajectory: bool = False):
    """The diffusion decoder's image for y_hat (in [-1, 1]): the condition pyramid once, then
    ``steps`` steps of ``sampler`` from z_1 ~ N(0, I) drawn from ``rng`` (eq. 13)."""
    return decoder_for(model).sample(model, variables, y_hat, rng, steps, sampler,
                                     return_trajectory=return_trajectory)
