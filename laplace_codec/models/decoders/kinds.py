"""The decoder kinds of ``model.decoder``, as objects: what an MSE codec and a diffusion codec
do differently, each in one class, where the model, training, the codec and the CLI ask for
it (instead of comparing the name).

- :class:`MSEKind` (``"mse"``): the synthesis transform ``g_s`` gives the image; trained on
  ``D + lmbda R`` (eq. 8).
- :class:`DiffusionKind` (``"diffusion"``): the conditional blurring-diffusion decoder ``phi``
  (:class:`~laplace_codec.models.decoders.unet.DiffusionDecoder`), conditioned on the ``g_s``
  pyramid and trained on the noise-prediction loss (eqs. 11-12); its image is sampled
  (eq. 13) with a seed, a step count and a sampler that every file records.

``decoder_for(model)`` is the kind of a ``CompressionModel`` (its ``decoder`` name and
``decoder_options``); ``decoder_kind(name)`` is the class of a name and ``kind_of_sampler``
the class of a file's sampler field, for what has no model (a zoo entry, a header). These are
plain Python objects; the Flax modules they make or run belong to the model.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from laplace_codec.models import perceptual
from laplace_codec.models.decoders import blur_diffusion
from laplace_codec.models.decoders.unet import DiffusionDecoder, preconditioned_x0, unet_target


class DecoderKind:
    """What depends on the decoder kind; one instance per (name, options)."""

    name: str  # as stored in configs (``config.model.decoder``) and zoo JSON
    label: str  # in messages ("a model with a <label> decoder")
    modules: frozenset = frozenset()  # top-level modules it adds to the model (freezable)
    samples: bool = False  # its image is sampled with a (seed, steps, sampler) of the file
    steps: int | None = None  # default sampling settings (None: it does not sample)
    sampler: str | None = None

    def __init__(self, options: tuple = ()):
        self.options = options  # (name, value) pairs: ``CompressionModel.decoder_options``

    @classmethod
    def config_options(cls, model_config) -> tuple:
        """``decoder_options`` of ``config.model`` (hashable (name, value) pairs)."""
        return ()

    def make_modules(self) -> dict[str, nn.Module]:
        """The modules it adds, by attribute name; called in ``CompressionModel.setup``."""
        return {}

    def forward(self, module, x: jax.Array, y_hat: jax.Array, train: bool) -> dict:
        """The decoder's part of the training forward (``module`` is the bound model)."""
        raise NotImplementedError

    def loss(self, out: dict, x: jax.Array, rate_term: jax.Array, loss_config,
             weight: jax.Array):
        """(loss, mse, extra metrics) of the forward output ``out`` for the images ``x`` in
        [-1, 1]; ``rate_term`` is lambda R, already weighted (per image for a variable-rate
        model, whose lambda depends on each image's quality); ``weight`` (B,) weights each
        image's distortion terms (``gain.loss_weight``; ones for a fixed-rate model), and
        ``rate_term`` already holds it. ``mse`` is unweighted."""
        raise NotImplementedError

    def reconstruct(self, model, variables, y_hat: jax.Array, rng: jax.Array,
                    steps: int | None = None, sampler: str | None = None,
                    quality=None) -> jax.Array:
        """The decoder's image of the coded y_hat, in [-1, 1]; ``rng``, ``steps`` and
        ``sampler`` apply to a decoder that samples, ``quality`` to a variable-rate model."""
        raise NotImplementedError

    def option(self, name: str):
        """One option of the diffusion decoder (its configured value or the default)."""
        raise ValueError(f"this model has an {self.label} decoder, not a diffusion decoder")

    def sample(self, model, variables, y_hat, rng, steps, sampler, return_trajectory=False,
               quality=None):
        self.option("sampler")  # raises: this decoder does not sample

    def sample_step(self, model, variables, y_hat, z, k, steps, sampler, noise=None,
                    quality=None):
        self.option("sampler")  # raises: this decoder does not sample

    def require_sampling(self, model_name: str) -> None:
        """Raises unless the decoder samples (so that steps and a sampler apply to it)."""
        if not self.samples:
            raise ValueError(f"model {model_name} has an {self.label} decoder: sampling steps "
                             f"and samplers apply to diffusion decoders only")

    def header_fields(self, seed: int, steps: int | None, sampler: str | None,
                      samplers: tuple) -> dict:
        """The header's decoder fields (``bitstream.Header``); ``samplers`` are the format's
        sampler codes (``bitstream.SAMPLERS``, "none" first)."""
        raise NotImplementedError

    @classmethod
    def describe(cls, seed: int, steps: int, sampler: str) -> str:
        """The header's decoder fields as ``laplace-codec info`` prints them."""
        raise NotImplementedError

    @classmethod
    def summary(cls, model_config: dict) -> str:
        """The decoder column of ``laplace-codec models`` for a zoo entry's ``config.model``."""
        return cls.name


class MSEKind(DecoderKind):
    """``g_s(y_hat)`` is the image, trained on the MSE."""

    name, label = "mse", "MSE"

    def forward(self, module, x, y_hat, train):
        return dict(x_hat=module.g_s(y_hat))

    def loss(self, out, x, rate_term, loss_config, weight):
        """``L = D + lmbda R`` (eq. 8), D the MSE of images in [-1, 1]."""
        mse_each = jnp.mean(jnp.square(out["x_hat"] - x), axis=(1, 2, 3))
        return jnp.mean(weight * mse_each) + rate_term, jnp.mean(mse_each), {}

    def reconstruct(self, model, variables, y_hat, rng, steps=None, sampler=None,
                    quality=None):
        return model.apply(variables, y_hat, quality, method=model.synthesize)

    def header_fields(self, seed, steps, sampler, samplers):
        return dict(decoder_seed=0, decoder_steps=0, decoder_sampler=samplers.index("none"))

    @classmethod
    def describe(cls, seed, steps, sampler):
        return "MSE synthesis"


class DiffusionKind(DecoderKind):
    """``phi`` predicts the noise given the ``g_s`` pyramid; the image is sampled."""

    name, label = "diffusion", "diffusion"
    modules = frozenset({"phi"})
    samples = True

    def __init__(self, options: tuple = ()):
        super().__init__(options)
        # A detached module (parent=None): only its settings are read, from anywhere.
        self.settings = DiffusionDecoder.from_options(dict(options), parent=None)
        self.steps, self.sampler = self.settings.steps, self.settings.sampler

    @classmethod
    def config_options(cls, model_config):
        if model_config.get("diffusion") is None:
            raise ValueError("model.decoder is 'diffusion' but config.model.diffusion is "
                             "missing; start from configs/diffusion.py")
        return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                            for k, v in model_config.diffusion.to_dict().items()))

    def make_modules(self):
        return {"phi": DiffusionDecoder.from_options(dict(self.options))}

    def forward(self, module, x, y_hat, train):
        """In training (eq. 11-12), the noise ``eps`` drawn for a random t, its prediction
        ``eps_hat`` from z_t, and the one-step reconstruction ``x0_hat``; random numbers come
        from the ``noise`` RNG stream. Nothing otherwise (the image is sampled)."""
        if not train:
            return {}
        rng = module.make_rng("noise")
        t = jax.random.uniform(jax.random.fold_in(rng, 1), (x.shape[0],))
        eps = jax.random.normal(jax.random.fold_in(rng, 2), x.shape, x.dtype)
        schedule = module.phi.schedule
        z_t = blur_diffusion.diffuse(x, t, eps, schedule)
        cond = module.g_s(y_hat, pyramid=True)
        eps_hat, u = module.phi(z_t, t, cond, return_unet=True)
        out = dict(t=t, eps=eps, eps_hat=eps_hat, unet=u)
        phi = module.phi
        if phi.prior_std:
            out["unet_target"] = unet_target(x, cond[0], eps, t, schedule, phi.prior_std,
                                             phi.prior_cutoff)
            out["x0_hat"] = jnp.clip(preconditioned_x0(z_t, t, cond[0], u, schedule,
                                                       phi.prior_std, phi.prior_cutoff), -1, 1)
        else:
            out["x0_hat"] = blur_diffusion.predict_x0(z_t, t, eps_hat, schedule)
        return out

    def loss(self, out, x, rate_term, loss_config, weight):
        """``L = lmbda R + ||eps - eps_hat||^2 + beta w(t) LPIPS(x, x0_hat)`` (eqs. 11-12),
        ``w(t)`` of ``blur_diffusion.lpips_weight`` (``loss.lpips_snr_cap``). With
        ``loss.eps_weight_cap`` > 0 the eps term is weighted per frequency by
        ``blur_diffusion.eps_loss_weight``; with ``loss.unet_target`` it is the U-Net's own
        error against ``unet.unet_target`` (``eps_mse`` stays the unweighted figure). ``mse``
        is that of the one-step reconstruction x0_hat (a training signal, not the sampled
        image's)."""
        mse = jnp.mean(jnp.square(out["x0_hat"] - x))
        error = out["eps"] - out["eps_hat"]
        eps_mse = jnp.mean(jnp.square(error))
        squared = jnp.square(error)
        cap = loss_config.get("eps_weight_cap", 0.0)
        if loss_config.get("unet_target", False):
            if cap:
                raise ValueError("loss.unet_target and loss.eps_weight_cap are two weightings "
                                 "of the eps loss; set one (eps_weight_cap = 0)")
            if "unet_target" not in out:
                raise ValueError("loss.unet_target needs the preconditioning: set "
                                 "model.diffusion.prior_std > 0")
            squared = jnp.square(out["unet"] - out["unet_target"])
        elif cap:
            frequency_weight = blur_diffusion.eps_loss_weight(
                out["t"], x.shape[1], x.shape[2], self.settings.schedule, cap)
            # The DCT is orthonormal: with weight 1 this is eps_mse exactly (up to rounding).
            squared = frequency_weight * jnp.square(blur_diffusion.dct2(error))
        eps_term = jnp.mean(weight * jnp.mean(squared, axis=(1, 2, 3)))
        beta = loss_config.get("beta", 0.0)
        t_weight, lpips = jnp.zeros(x.shape[:1]), jnp.zeros(())
        if beta:
            t_weight = blur_diffusion.lpips_weight(
                out["t"], x.shape[1], x.shape[2], self.settings.schedule,
                loss_config.get("lpips_snr_cap", 0.0))
            lpips = jnp.mean(weight * t_weight * perceptual.lpips_distance(
                x, out["x0_hat"], loss_config.get("lpips_net", "alexnet")))
        loss = rate_term + eps_term + beta * lpips
        return loss, mse, dict(eps_mse=eps_mse, lpips=lpips, lpips_weight=jnp.mean(t_weight))

    def option(self, name):
        return getattr(self.settings, name)

    def sample(self, model, variables, y_hat, rng, steps, sampler, return_trajectory=False,
               quality=None):
        """The image for the coded y_hat (in [-1, 1]): the condition pyramid once, then
        ``steps`` steps of ``sampler`` from z_1 ~ N(0, I) drawn from ``rng`` (eq. 13), the
        draws scaled by the decoder's ``temperature`` (and, with its ``dc_from_mse``, each
        x0_hat's DC that of the MSE image ``cond[0]``)."""
        b, h, w, _ = y_hat.shape
        cond = model.apply(variables, y_hat, quality, method=model.condition)
        out = blur_diffusion.sample(_eps_fn(model, variables, cond), (b, 16 * h, 16 * w, 3),
                                    rng, steps, self.settings.schedule, sampler,
                                    self.settings.clip_x0, return_trajectory,
                                    self.settings.temperature, self._x0_dc(cond))
        x, trajectory = out if return_trajectory else (out, None)
        x = jnp.clip(x, -1.0, 1.0)  # the image, whether or not the steps clip x0_hat
        return (x, trajectory) if return_trajectory else x

    def sample_step(self, model, variables, y_hat, z, k, steps, sampler, noise=None,
                    quality=None):
        """One step of :meth:`sample` (``blur_diffusion.denoise_step``) on an image or a window
        of one: z at t = k / steps and the y_hat under it (16x smaller) -> z at
        (k - 1) / steps. The condition pyramid is that of this y_hat."""
        cond = model.apply(variables, y_hat, quality, method=model.condition)
        return blur_diffusion.denoise_step(_eps_fn(model, variables, cond), z, k, steps,
                                           self.settings.schedule, sampler, noise,
                                           self.settings.clip_x0, x0_dc=self._x0_dc(cond))[0]

    def _x0_dc(self, cond):
        """The DC that sampling imposes on x0_hat: the MSE image's (``cond[0]``) when the
        decoder's ``dc_from_mse``, else None (the U-Net's own)."""
        return blur_diffusion.dc_coefficient(cond[0]) if self.settings.dc_from_mse else None

    def reconstruct(self, model, variables, y_hat, rng, steps=None, sampler=None,
                    quality=None):
        return self.sample(model, variables, y_hat, rng,
                           self.steps if steps is None else steps,
                           self.sampler if sampler is None else sampler, quality=quality)

    def header_fields(self, seed, steps, sampler, samplers):
        return dict(decoder_seed=seed, decoder_steps=steps,
                    decoder_sampler=samplers.index(sampler))

    @classmethod
    def describe(cls, seed, steps, sampler):
        return f"diffusion, {sampler} sampler, {steps} steps, seed {seed}"

    @classmethod
    def summary(cls, model_config):
        """With its decoding default (``export --steps/--sampler``)."""
        sampling = model_config["diffusion"]
        return f"{cls.name} ({sampling['steps']} {sampling['sampler']})"


def _eps_fn(model, variables, cond):
    """phi_theta(z_t, t, y_hat) of eq. 11, given the condition pyramid of y_hat."""

    def eps_fn(z_t, t):
        return model.apply(variables, z_t, t, cond, method=model.denoise)

    return eps_fn


DECODERS = {kind.name: kind for kind in (MSEKind, DiffusionKind)}


def decoder_kind(name: str) -> type[DecoderKind]:
    """The class of a ``model.decoder`` name."""
    if name not in DECODERS:
        raise ValueError(f"unknown model.decoder {name!r}; choose one of {tuple(DECODERS)}")
    return DECODERS[name]


def kind_of_sampler(sampler: str) -> type[DecoderKind]:
    """The class of a file's header sampler field ("none": the MSE decoder)."""
    return MSEKind if sampler == "none" else DiffusionKind


@functools.cache
def _kind(name: str, options: tuple) -> DecoderKind:
    return decoder_kind(name)(options)


def decoder_for(model) -> DecoderKind:
    """The decoder kind of a ``CompressionModel`` (bound or not)."""
    return _kind(model.decoder, model.decoder_options)
