"""The conditional blurring-diffusion decoder: a noise-prediction U-Net conditioned on t and on
a pyramid of y_hat features (paper section 3.3 and its appendix; the design of CDC, Yang &
Mandt 2022, which the paper's code follows).

The pyramid is the synthesis transform ``g_s`` itself (``SynthesisTransform(pyramid=True)``):
its features at H/8, H/4, H/2 and its image at H. So a diffusion codec holds every weight of
an MSE codec of the same sizes, and ``train.init_from`` can start one from the other; the U-Net
then learns what the MSE image lacks.

- ``DenoisingUNet``: ``phi_theta(z_t, t, y_hat)`` of eq. 11. Levels at H, H/2, H/4, H/8; each
  level of the downward path takes the condition features of its resolution (concatenated),
  residual blocks with a time embedding, linear attention where configured, and sub-pixel
  upsampling (conv + depth-to-space) on the way up.
- ``DiffusionDecoder``: the U-Net with its :class:`~laplace_codec.models.decoders.blur_diffusion.Schedule`
  and default sampling settings, and (``prior_std > 0``) the preconditioning below.

Preconditioning (``prior_std = s``; 0 gives the bare U-Net; ``prior_cutoff`` shapes s by
frequency, :func:`prior_spectrum`). Per DCT frequency f, with
``a = alpha_vec_t[f]``, ``sigma = sigma_t`` and ``m = V^T x_mse`` the MSE image of the
condition, the decoder returns

    eps_hat = sigma (f_z - a m) / (a^2 s^2 + sigma^2)  +  a s / sqrt(a^2 s^2 + sigma^2) * U

with ``U`` the U-Net's output in DCT space. The first term is the exact noise prediction if
x were ``x_mse`` plus white noise of std s (Gaussian conditioning); the U-Net learns what
it misses, with a target of unit scale. Why: ``x0_hat = (f_z - sigma eps_hat) / a``
(eq. 3) multiplies an error of a bare U-Net by ``sigma / a``, up to 1e3 at the blurred
frequencies and 1e4 at t = 1, and samples of briefly trained decoders diverge (measured: a
tiny decoder's DDIM trajectory grows from |z| = 1 to 1e3). Here an error of U reaches
``x0_hat`` multiplied by ``sigma s / sqrt(a^2 s^2 + sigma^2) <= s`` at every frequency and t,
and an untrained U-Net already decodes to about ``x_mse``. The process, the loss (eps-MSE)
and the samplers are the paper's; only the network's parameterization changes.

All widths come from ``config.model.diffusion``.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from laplace_codec.models.decoders import blur_diffusion
from laplace_codec.models.layers import Conv, depth_to_space


def timestep_embedding(t: jax.Array, dim: int, scale: float = 1000.0) -> jax.Array:
    """Sinusoidal embedding of continuous t in [0, 1] (as 1000 t, the DDPM convention): (B, dim)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(10000.0) * jnp.arange(half, dtype=jnp.float32) / half)
    args = scale * t[:, None] * freqs[None]
    return jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=-1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=math.gcd(channels, 8))


class TimeResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the time embedding added in between, identity (or 1x1) skip."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array, temb: jax.Array) -> jax.Array:
        h = Conv(self.features, (3, 3))(nn.silu(_norm(x.shape[-1])(x)))
        h = h + nn.Dense(self.features)(nn.silu(temb))[:, None, None, :]
        h = Conv(self.features, (3, 3), kernel_init=nn.initializers.zeros)(
            nn.silu(_norm(self.features)(h)))
        skip = x if x.shape[-1] == self.features else Conv(self.features, (1, 1))(x)
        return skip + h


class LinearAttention(nn.Module):
    """Linear attention (Shen et al. 2021, as in CDC): softmax over channels for queries and
    over positions for keys, so the cost grows linearly with the number of pixels."""

    heads: int = 4
    head_dim: int = 32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, c = x.shape
        qkv = nn.Conv(3 * self.heads * self.head_dim, (1, 1), use_bias=False)(_norm(c)(x))
        q, k, v = jnp.split(qkv.reshape(b, h * w, 3, self.heads, self.head_dim), 3, axis=2)
        q = jax.nn.softmax(q[:, :, 0], axis=-1) * self.head_dim ** -0.5
        k = jax.nn.softmax(k[:, :, 0], axis=1)
        context = jnp.einsum("bnhd,bnhe->bhde", k, v[:, :, 0])
        out = jnp.einsum("bnhd,bhde->bnhe", q, context).reshape(b, h, w, -1)
        return x + Conv(c, (1, 1), kernel_init=nn.initializers.zeros)(out)


MERGES = ("concat", "add")
# DenoisingUNet's cheaper wiring, as model.diffusion options.
CHEAP = dict(condition="add", skips="add", upsample_kernel=1)


def _merge(how: str, h: jax.Array, other: jax.Array, project: bool) -> jax.Array:
    """``other`` joined to ``h``: concatenated, or added (after a 1x1 convolution to h's
    channels when ``project``: the condition features, whose scale is not the U-Net's)."""
    if how == "concat":
        return jnp.concatenate([h, other], axis=-1)
    if project:
        other = Conv(h.shape[-1], (1, 1))(other)
    return h + other


class DenoisingUNet(nn.Module):
    """Predicts eps from (z_t, t, condition pyramid); output initialised to zero."""

    width: int = 64
    multipliers: tuple = (1, 2, 3, 4)
    res_blocks: int = 1
    attention_levels: tuple = (3,)
    heads: int = 4
    head_dim: int = 32
    # The cheaper wiring (``CHEAP``; the defaults are the bundled decoders'): the condition
    # features of H/2..H/8 projected (1x1) and added after the downsampling instead of
    # concatenated, the skips added instead of concatenated, and sub-pixel upsampling by a
    # 1x1 instead of a 3x3 convolution.
    condition: str = "concat"
    skips: str = "concat"
    upsample_kernel: int = 3

    @nn.compact
    def __call__(self, z_t: jax.Array, t: jax.Array, cond: list[jax.Array]) -> jax.Array:
        for name, value in (("condition", self.condition), ("skips", self.skips)):
            if value not in MERGES:
                raise ValueError(f"model.diffusion.{name} must be one of {MERGES}, got {value!r}")
        if self.upsample_kernel not in (1, 3):
            raise ValueError(f"model.diffusion.upsample_kernel must be 1 or 3, got "
                             f"{self.upsample_kernel!r}")
        levels = len(self.multipliers)
        if levels != 4:
            raise ValueError(f"model.diffusion.multipliers needs one entry per U-Net level "
                             f"(H, H/2, H/4, H/8), got {levels}")
        if len(cond) != levels:
            raise ValueError(f"the U-Net has {levels} levels but the condition pyramid has "
                             f"{len(cond)} scales")
        temb = timestep_embedding(t, self.width)
        temb = nn.Dense(4 * self.width)(nn.silu(nn.Dense(4 * self.width)(temb)))

        h = Conv(self.width, (3, 3))(jnp.concatenate([z_t, cond[0]], axis=-1))
        skips = []
        for i, mult in enumerate(self.multipliers):
            if i > 0:
                h = Conv(h.shape[-1], (3, 3), strides=(2, 2))(h)
                h = _merge(self.condition, h, cond[i], project=True)
            for _ in range(self.res_blocks):
                h = TimeResBlock(self.width * mult)(h, temb)
                if i in self.attention_levels:
                    h = LinearAttention(self.heads, self.head_dim)(h)
            skips.append(h)

        h = TimeResBlock(h.shape[-1])(h, temb)
        h = LinearAttention(self.heads, self.head_dim)(h)
        h = TimeResBlock(h.shape[-1])(h, temb)

        for i in reversed(range(levels)):
            h = _merge(self.skips, h, skips.pop(), project=False)
            for _ in range(self.res_blocks):
                h = TimeResBlock(self.width * self.multipliers[i])(h, temb)
                if i in self.attention_levels:
                    h = LinearAttention(self.heads, self.head_dim)(h)
            if i > 0:
                k = (self.upsample_kernel,) * 2
                h = depth_to_space(Conv(4 * self.width * self.multipliers[i - 1], k)(h), 2)
        h = nn.silu(_norm(h.shape[-1])(h))
        return Conv(z_t.shape[-1], (3, 3), kernel_init=nn.initializers.zeros)(h)


class DiffusionDecoder(nn.Module):
    """``phi_theta``: the noise prediction of eq. 11 given the ``g_s`` pyramid of y_hat, with
    the schedule and the default sampling settings of the decoder."""

    sigma_b_max: float = 25.0
    d_min: float = 0.001
    prior_std: float = 0.0  # s of the preconditioning (module docstring); 0: bare U-Net
    prior_cutoff: float = 0.0  # r_0 of the prior's spectrum (prior_spectrum); 0: white
    # Sampling defaults (a file's header may override them): see blur_diffusion.sample.
    steps: int = 500
    sampler: str = "ancestral"
    # Whether each sampling step clips its x0_hat to [-1, 1] (blur_diffusion.denoise_step).
    # Clipping a noisy x0_hat near black or white moves its mean: it cast the samples of a
    # variable-rate decoder +0.4 levels blue where its MSE image was +0.1 (docs/RESULTS.md).
    clip_x0: bool = True
    # Scales the sampler's random draws (blur_diffusion.sample): 1 samples the model's own
    # distribution; below 1, many steps keep less of the noise a briefly trained U-Net has
    # not learnt to turn into detail (docs/RESULTS.md, "Why more sampling steps hurt").
    temperature: float = 1.0
    # Whether sampling takes x0_hat's DC coefficient (each image's or window's per-channel
    # mean) from the MSE image of the condition, the posterior mean, instead of the U-Net
    # (blur_diffusion.sample's x0_dc): the DC is never blurred, and a briefly trained U-Net
    # left it 0.2 levels green (docs/RESULTS.md). Decoding only; training does not read it.
    dc_from_mse: bool = False
    unet_options: tuple = ()  # (name, value) pairs of DenoisingUNet's fields

    @classmethod
    def from_options(cls, options: dict, **module_args) -> "DiffusionDecoder":
        """The decoder of the flat ``config.model.diffusion``: the schedule and sampling
        options are its own, the others (width, multipliers, ...) go to the U-Net.
        ``module_args`` go to the Flax module (``parent=None``: a detached instance that
        only answers its settings, which can be made inside another module's method)."""
        own, unet = _fields(cls) - {"unet_options"}, _fields(DenoisingUNet)
        unknown = sorted(set(options) - own - unet)
        if unknown:
            raise ValueError(f"unknown model.diffusion option(s) {unknown}; the options are "
                             f"{sorted(own | unet)}")
        if options.get("sampler", cls.sampler) not in blur_diffusion.SAMPLERS:
            raise ValueError(f"unknown model.diffusion.sampler {options['sampler']!r}; choose "
                             f"one of {blur_diffusion.SAMPLERS}")
        blur_diffusion.check_temperature(options.get("temperature", cls.temperature))
        as_tuple = lambda v: tuple(v) if isinstance(v, list) else v  # noqa: E731
        return cls(**{k: v for k, v in options.items() if k in own}, **module_args,
                   unet_options=tuple(sorted((k, as_tuple(v)) for k, v in options.items()
                                             if k in unet)))

    def setup(self):
        self.unet = DenoisingUNet(**dict(self.unet_options))

    @property
    def schedule(self) -> blur_diffusion.Schedule:
        return blur_diffusion.Schedule(self.sigma_b_max, self.d_min)

    def __call__(self, z_t: jax.Array, t: jax.Array, cond: list[jax.Array],
                 return_unet: bool = False):
        """``eps_hat``; with ``return_unet``, ``(eps_hat, U)`` (U: the U-Net's own output,
        what ``loss.unet_target`` trains against :func:`unet_target`)."""
        u = self.unet(z_t, t, cond)
        eps_hat = u if not self.prior_std else preconditioned_eps(
            z_t, t, cond[0], u, self.schedule, self.prior_std, self.prior_cutoff)
        return (eps_hat, u) if return_unet else eps_hat


def prior_spectrum(lam: jax.Array, prior_std: float, prior_cutoff: float = 0.0) -> jax.Array:
    """``s(f)``, the prior's std at each DCT frequency (``lam`` = |f|^2): ``prior_std`` at
    every frequency (white, ``prior_cutoff = 0``), or ``prior_std * min(1, r_0^2 / |f|^2)``
    with ``r_0 = prior_cutoff``: flat up to r_0 and then falling as 1/|f|^2, the shape of
    what an MSE decoder loses (measured on Kodak for laplacian-mse-vr: above |f| ~ 2.5 the
    MSE image keeps almost nothing and its residual is the image's own spectrum, which
    falls about as |f|^-2.5, within 10% of 1/|f|^2 above |f| = 2; below, the residual is
    roughly flat; docs/RESULTS.md, "A prior shaped like the residual")."""
    if prior_cutoff < 0:
        raise ValueError(f"prior_cutoff must be >= 0 (0: a white prior), got {prior_cutoff}")
    if not prior_cutoff:
        return jnp.full_like(lam, prior_std)
    return prior_std * jnp.minimum(1.0, prior_cutoff ** 2 / jnp.maximum(lam, 1e-12))


def preconditioned_eps(z_t: jax.Array, t: jax.Array, x_mse: jax.Array, u: jax.Array,
                       schedule: blur_diffusion.Schedule, prior_std: float,
                       prior_cutoff: float = 0.0) -> jax.Array:
    """``eps_hat`` of the preconditioning in the module docstring, from the U-Net output u;
    ``s`` is :func:`prior_spectrum` of ``prior_std`` and ``prior_cutoff``."""
    lam = blur_diffusion.squared_frequencies(*z_t.shape[1:3])
    a, sigma2 = schedule.coefficients(t, lam)
    if prior_cutoff:  # a white prior stays a Python float: the bundled decoders' exact graph
        prior_std = prior_spectrum(lam, prior_std, prior_cutoff)
    denom = a * a * prior_std ** 2 + sigma2
    base = jnp.sqrt(sigma2) * (blur_diffusion.dct2(z_t) - a * blur_diffusion.dct2(x_mse))
    f_eps = base / denom + (a * prior_std) * jax.lax.rsqrt(denom) * blur_diffusion.dct2(u)
    return blur_diffusion.idct2(f_eps)


def preconditioned_x0(z_t: jax.Array, t: jax.Array, x_mse: jax.Array, u: jax.Array,
                      schedule: blur_diffusion.Schedule, prior_std: float,
                      prior_cutoff: float = 0.0) -> jax.Array:
    """The one-step reconstruction ``x0_hat`` (eq. 3) of :func:`preconditioned_eps`, written
    without dividing by ``a``: per DCT frequency, with ``D = a^2 s^2 + sigma^2``,

        x0_hat = (a s^2 f_z + sigma^2 m) / D  -  sigma s / sqrt(D) * U

    Why: eq. 3 subtracts two numbers of the size of the noise and divides by ``a``, which the
    blur and the schedule take to 1e-7 near t = 1, so float32 rounding alone moves its x0_hat
    by more than the image's range there; this form is exact to rounding at every t, so a
    loss on x0_hat (the LPIPS term of eq. 12) can be weighted at every t. Unclipped."""
    lam = blur_diffusion.squared_frequencies(*z_t.shape[1:3])
    a, sigma2 = schedule.coefficients(t, lam)
    s = prior_spectrum(lam, prior_std, prior_cutoff)
    denom = a * a * s * s + sigma2
    f_x0 = ((a * s * s) * blur_diffusion.dct2(z_t) + sigma2 * blur_diffusion.dct2(x_mse)) / denom \
        - (jnp.sqrt(sigma2) * s) * jax.lax.rsqrt(denom) * blur_diffusion.dct2(u)
    return blur_diffusion.idct2(f_x0)


def unet_target(x: jax.Array, x_mse: jax.Array, eps: jax.Array, t: jax.Array,
                schedule: blur_diffusion.Schedule, prior_std: float,
                prior_cutoff: float = 0.0) -> jax.Array:
    """The U-Net output U for which :func:`preconditioned_eps` returns exactly ``eps``, given
    the image x and the noise eps of ``z_t = diffuse(x, t, eps)``, in pixel space. Per DCT
    frequency, with ``D = a^2 s^2 + sigma^2``:

        U* = (a s eps - sigma (x - x_mse) / s) / sqrt(D)

    (solve the module docstring's ``eps_hat = eps`` for U, with ``f_z = a x + sigma eps``;
    written without dividing by a, which the blur takes to 1e-3 and below). Unit scale at
    every t and frequency: where the blur has taken the signal (``a << sigma``) it is
    ``-(x - x_mse) / s``, what the MSE image misses in units of the prior's std; at small t,
    eps. The loss ``|U - U*|^2`` weighs an eps error by ``1 / c^2 = D / (a s)^2``, which no
    capped SNR weight reaches (docs/RESULTS.md, "Does a capped SNR weighting repair the eps
    loss?"): the loss weighting of Karras et al. (2022) for a preconditioned network."""
    if not prior_std > 0:
        raise ValueError(f"unet_target needs the preconditioning (prior_std > 0), got "
                         f"prior_std = {prior_std}; without it the U-Net predicts eps itself")
    lam = blur_diffusion.squared_frequencies(*x.shape[1:3])
    a, sigma2 = schedule.coefficients(t, lam)
    s = prior_spectrum(lam, prior_std, prior_cutoff)
    sigma = jnp.sqrt(sigma2)
    f_target = ((a * s) * blur_diffusion.dct2(eps)
                - (sigma / s) * blur_diffusion.dct2(x - x_mse)) * jax.lax.rsqrt(a * a * s * s
                                                                            + sigma2)
    return blur_diffusion.idct2(f_target)


def _fields(module_class) -> set[str]:
    return {f.name for f in dataclasses.fields(module_class)} - {"parent", "name"}
