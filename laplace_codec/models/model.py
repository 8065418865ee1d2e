"""The learned codec as one Flax module: transforms, hyperprior, and the entropy model of y.

Images enter and leave in [-1, 1] (uint8 / 127.5 - 1), NHWC, with H and W multiples of
``PAD_MULTIPLE``. The pieces are exposed as methods so that the coding path (``codec.py``)
can run the decoder's computation step by step with ``model.apply(..., method=...)``.

Two decoders (``model.decoder``): ``"mse"``, the synthesis transform ``g_s`` trained on the
MSE, and ``"diffusion"``, the conditional blurring-diffusion decoder ``phi``
(``decoders/unet.py``) trained on the noise-prediction loss and conditioned on the
``g_s`` pyramid, whose image is sampled (``sample_image``). What differs between them is the
decoder kind's (``decoders/kinds.py``, ``decoder_for(model)``).

A variable-rate model (``model.rate_lmbdas``, largest lambda first) adds gain units on y
and z (``gain.py``, Cui et al. 2021): every method of the coding path then takes the
``quality`` in ``[1, len(rate_lmbdas)]`` (a scalar, or one per image in training), y and z
are coded in the gained domain, and the decoder sees ``y_hat`` times the inverse gain. A
fixed-rate model (``rate_lmbdas = ()``) takes ``quality=None``.
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
from laplace_codec.models.gain import GainUnit, check_lmbdas
from laplace_codec.models.gain import default_quality as default_quality_of
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
    N: int = 192  # channels of g_a and g_s (and of h_a, h_s and z unless N_hyper is set)
    M: int = 256  # channels of y
    N_hyper: int = 0  # channels of h_a, h_s and z; 0: N (a model widened by training/widen.py)
    res_blocks: int = 1
    entropy: str = "hyperprior"
    entropy_options: tuple = ()  # (name, value) pairs for the entropy model of y
    decoder: str = "mse"
    decoder_options: tuple = ()  # (name, value) pairs for the diffusion decoder
    rate_lmbdas: tuple = ()  # variable rate: the gain levels' lambdas, largest first

    def setup(self):
        if self.entropy not in ENTROPY_MODELS:
            raise ValueError(f"unknown model.entropy {self.entropy!r}; choose one of "
                             f"{sorted(ENTROPY_MODELS)}")
        decoder = decoder_for(self)  # raises for an unknown model.decoder
        self.g_a = AnalysisTransform(self.N, self.M, self.res_blocks)
        self.g_s = SynthesisTransform(self.N, 3, self.res_blocks)
        for name, module in decoder.make_modules().items():  # phi: a diffusion decoder's
            setattr(self, name, module)
        self.h_a = HyperAnalysis(self.z_channels)
        self.h_s = HyperSynthesis(self.z_channels, 2 * self.M)
        self.z_prior = FactorizedPrior(self.z_channels)
        self.y_model = ENTROPY_MODELS[self.entropy](self.M, **dict(self.entropy_options))
        if self.rate_lmbdas:
            self.y_gain = GainUnit(check_lmbdas(self.rate_lmbdas), self.M)
            self.z_gain = GainUnit(self.rate_lmbdas, self.z_channels)

    @property
    def z_channels(self) -> int:
        """Channels of z (and the width of ``h_a``, ``h_s``)."""
        return self.N_hyper or self.N

    @property
    def variable_rate(self) -> bool:
        return bool(self.rate_lmbdas)

    def _check_quality(self, quality) -> None:
        if self.variable_rate and quality is None:
            raise ValueError("a variable-rate model needs a quality")
        if not self.variable_rate and quality is not None:
            raise ValueError("this model has a fixed rate: it takes no quality")

    def y_from_x(self, x: jax.Array, quality=None) -> jax.Array:
        """``g_a(x)``, gained: the y that is quantised and coded."""
        self._check_quality(quality)
        y = self.g_a(x)
        return y * self.y_gain.gain(quality) if self.variable_rate else y

    def z_from_y(self, y: jax.Array, quality=None) -> jax.Array:
        z = self.h_a(y)
        return z * self.z_gain.gain(quality) if self.variable_rate else z

    def decoder_latent(self, y_hat: jax.Array, quality=None) -> jax.Array:
        """What the decoder sees of the coded ``y_hat``: times the inverse gain."""
        self._check_quality(quality)
        return y_hat * self.y_gain.inverse(quality) if self.variable_rate else y_hat

    def __call__(self, x: jax.Array, train: bool = False,
                 quality=None) -> dict[str, jax.Array]:
        """Training forward: the likelihoods of y and z, and the decoder's output: the
        reconstruction ``x_hat`` (MSE decoder), or (diffusion decoder, eq. 11-12) the noise
        ``eps`` drawn for a random t, its prediction ``eps_hat`` from z_t, and the one-step
        reconstruction ``x0_hat`` (clipped to [-1, 1]). Random numbers come from the
        ``noise`` RNG stream. The decoder's part is its kind's (``kinds.py``). ``y_hat`` is
        the coded (gained) latent; a variable-rate model takes one quality per image."""
        y = self.y_from_x(x, quality)
        return self.from_latents(x, y, self.z_from_y(y, quality), train, quality)

    def from_latents(self, x: jax.Array, y: jax.Array, z: jax.Array, train: bool = False,
                     quality=None, round_fn=None) -> dict[str, jax.Array]:
        """The forward of ``__call__`` from given (gained) latents ``y`` and ``z`` of the
        images ``x``: what encoder-side refinement optimises (``coding/refine.py``), which
        may replace the rounding of y by ``round_fn`` (``entropy.base.sga_round``)."""
        if train:
            noise = jax.random.uniform(self.make_rng("noise"), z.shape, z.dtype, -0.5, 0.5)
            z_likelihood = self.z_prior(z + noise)
        else:  # rounded (straight-through: refinement's exact loss has a gradient in z)
            z_likelihood = self.z_prior(ste_round(z))
        z_hat = ste_round(z)
        y_hat, y_likelihood = self.y_model(y, self.hyper(z_hat, quality), train, round_fn)
        out = dict(y_hat=y_hat, y_likelihood=y_likelihood, z_likelihood=z_likelihood)
        out.update(decoder_for(self).forward(self, x, self.decoder_latent(y_hat, quality),
                                             train))
        return out

    # The coding path, piece by piece.
    def analyze(self, x: jax.Array, quality=None):
        y = self.y_from_x(x, quality)
        return y, self.z_from_y(y, quality)

    def hyper(self, z_hat: jax.Array, quality=None) -> jax.Array:
        """``h_s`` of the coded ``z_hat`` (times the inverse gain of z)."""
        if self.variable_rate:
            z_hat = z_hat * self.z_gain.inverse(quality)
        return self.h_s(z_hat)

    def step_params(self, key: int, arg, hyper: jax.Array, y_hat: jax.Array):
        return self.y_model.step_params(key, arg, hyper, y_hat)

    def synthesize(self, y_hat: jax.Array, quality=None) -> jax.Array:
        """The MSE decoder's image of the coded ``y_hat`` (for a diffusion codec, the image
        its sampling starts from as a condition, not its output)."""
        return self.g_s(self.decoder_latent(y_hat, quality))

    def condition(self, y_hat: jax.Array, quality=None) -> list[jax.Array]:
        """The diffusion decoder's conditioning: the ``g_s`` pyramid at H, H/2, H/4, H/8."""
        return self.g_s(self.decoder_latent(y_hat, quality), pyramid=True)

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
    rate_lmbdas = tuple(model_config.get("rate_lmbdas", ()) or ())
    return CompressionModel(N=model_config.N, M=model_config.M,
                            N_hyper=model_config.get("N_hyper", 0) or 0,
                            res_blocks=model_config.res_blocks, entropy=model_config.entropy,
                            entropy_options=options, decoder=decoder.name,
                            decoder_options=decoder.config_options(model_config),
                            rate_lmbdas=check_lmbdas(rate_lmbdas) if rate_lmbdas else ())


def default_quality(model: CompressionModel, batch: int | None = None):
    """None for a fixed-rate model; else its default quality (``gain.default_quality``),
    as a float or, with ``batch``, an array of one per image (for ``init`` and tracing)."""
    if not model.rate_lmbdas:
        return None
    q = default_quality_of(model.rate_lmbdas)
    return q if batch is None else jnp.full((batch,), q, jnp.float32)


def entropy_model(model: CompressionModel):
    """An unbound instance of the model's entropy model (for its coding structure)."""
    return ENTROPY_MODELS[model.entropy](model.M, **dict(model.entropy_options))


def coding_steps(model: CompressionModel, latent_shape: tuple[int, int, int]):
    return entropy_model(model).coding_steps(latent_shape)


def diffusion_option(model: CompressionModel, name: str):
    """One option of the model's diffusion decoder (its configured value or the default)."""
    return decoder_for(model).option(name)


def sample_image(model: CompressionModel, variables, y_hat: jax.Array, rng: jax.Array,
                 steps: int, sampler: str, return_trajectory: bool = False, quality=None):
    """The diffusion decoder's image for y_hat (in [-1, 1]): the condition pyramid once, then
    ``steps`` steps of ``sampler`` from z_1 ~ N(0, I) drawn from ``rng`` (eq. 13)."""
    return decoder_for(model).sample(model, variables, y_hat, rng, steps, sampler,
                                     return_trajectory=return_trajectory, quality=quality)


def sample_step(model: CompressionModel, variables, y_hat: jax.Array, z: jax.Array, k,
                steps: int, sampler: str, noise=None, quality=None) -> jax.Array:
    """One step of :func:`sample_image` on an image (or a window of one) z at t = k / steps,
    conditioned on the y_hat under it: z at (k - 1) / steps (tiled decoding of large
    images, ``coding/tiling.py``)."""
    return decoder_for(model).sample_step(model, variables, y_hat, z, k, steps, sampler,
                                          noise, quality)
