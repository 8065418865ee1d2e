"""Blurring diffusion in DCT space (paper sections 3.1-3.3; Hoogeboom & Salimans 2022).

Images live in [-1, 1], NHWC. With ``V^T`` the orthonormal 2-D DCT-II over (H, W) and
``f = V^T z`` the frequency representation, for continuous t in [0, 1]:

- noise (eq. 7, variance-preserving cosine): ``alpha_t = cos(pi t / 2)``,
  ``sigma_t^2 = 1 - alpha_t^2``, the same scalar sigma_t on every frequency;
- blur (eqs. 5-6): ``sigma_B(t) = sigma_B_max sin(pi t / 2)^2``, ``tau_t = sigma_B(t)^2 / 2``,
  ``d_t = (1 - d_min) exp(-lam tau_t) + d_min`` with ``lam[i, j] = (pi i / H)^2 + (pi j / W)^2``;
- per-frequency signal scale ``alpha_vec_t = alpha_t d_t`` (eq. 7);
- forward process (eq. 1): ``f_t = alpha_vec_t f_x + sigma_t eps_f``, i.e.
  ``z_t = V(alpha_vec_t V^T x) + sigma_t eps`` (the DCT is orthonormal, so white noise stays
  white);
- posterior for s < t (eq. 2), per frequency: ``alpha_ts = alpha_vec_t / alpha_vec_s``,
  ``sigma_ts^2 = sigma_t^2 - alpha_ts^2 sigma_s^2``,
  ``mu = (alpha_ts sigma_s^2 / sigma_t^2) f_t + (alpha_vec_s sigma_ts^2 / sigma_t^2) f_x``,
  ``var = sigma_ts^2 sigma_s^2 / sigma_t^2``;
- the network predicts eps; ``f_x_hat = (f_t - sigma_t V^T eps_hat) / alpha_vec_t`` (eq. 3).

sigma_B_max = 0 makes ``d_t = 1`` exactly, and everything reduces to a standard DDPM with a
cosine schedule. Divisions are guarded: ``alpha_t`` never goes below ``ALPHA_MIN`` (so t = 1 is
usable), ``sigma_t^2`` never below ``VAR_MIN``, and ``sigma_ts^2`` is clipped at 0.

Samplers (``sample``): ``"ancestral"`` draws from the posterior at every step, over any number
of equal steps (T = 500 in the paper; fewer steps are strided posterior steps of the same
process); ``"ddim"`` is the deterministic eta = 0 variant, ``f_s = alpha_vec_s f_x_hat +
sigma_s eps_hat_f``. Both clip the predicted image to [-1, 1] before using it, as DDPM does,
unless ``clip=False`` (a decoder's ``clip_x0``): near black or white, clipping a noisy x0_hat
moves its mean, a colour cast that the unclipped steps do not have. Given ``x0_dc`` (the
DC coefficient of an image, :func:`dc_coefficient`), every step takes x0_hat's DC from it:
the image mean is the one frequency the blur never touches, and a decoder conditioned on an
MSE image knows it better than a sample does (``DiffusionDecoder.dc_from_mse``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

ALPHA_MIN = 1e-4
VAR_MIN = 1e-12
SAMPLERS = ("ancestral", "ddim")


def dct2(x: jax.Array) -> jax.Array:
    """Orthonormal 2-D DCT-II over the spatial axes of an NHWC batch (``V^T x``)."""
    return jax.scipy.fft.dctn(x, type=2, axes=(1, 2), norm="ortho")


def idct2(f: jax.Array) -> jax.Array:
    """Inverse of :func:`dct2` (``V f``)."""
    return jax.scipy.fft.idctn(f, type=2, axes=(1, 2), norm="ortho")


def dc_coefficient(x: jax.Array) -> jax.Array:
    """The DC coefficient of :func:`dct2` (frequency (0, 0), ``sqrt(H W)`` times the mean of
    each image's channel) as a (B, 1, 1, C) array."""
    return jnp.sum(x, axis=(1, 2), keepdims=True) * jax.lax.rsqrt(
        jnp.float32(x.shape[1] * x.shape[2]))


def with_dc(f: jax.Array, dc: jax.Array) -> jax.Array:
    """The DCT coefficients ``f`` (B, H, W, C) with their DC replaced by ``dc`` (B, 1, 1, C)."""
    return f.at[:, :1, :1, :].set(dc)


def squared_frequencies(height: int, width: int) -> jax.Array:
    """``lam[i, j] = (pi i / H)^2 + (pi j / W)^2`` as an (H, W, 1) array."""
    fi = jnp.pi * jnp.arange(height, dtype=jnp.float32) / height
    fj = jnp.pi * jnp.arange(width, dtype=jnp.float32) / width
    return (fi[:, None] ** 2 + fj[None, :] ** 2)[:, :, None]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Noise and blur schedules; ``sigma_b_max`` is the maximum blur (paper default 25)."""

    sigma_b_max: float = 25.0
    d_min: float = 0.001

    def __post_init__(self):
        if not self.sigma_b_max >= 0:
            raise ValueError(f"sigma_b_max must be >= 0, got {self.sigma_b_max}")
        if not 0 < self.d_min < 1:
            raise ValueError(f"d_min must be in (0, 1), got {self.d_min}")

    @staticmethod
    def alpha_sigma2(t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Scalar cosine schedule (alpha_t, sigma_t^2) with the guards; t of any shape."""
        alpha = jnp.maximum(jnp.cos(0.5 * jnp.pi * t), ALPHA_MIN)
        return alpha, jnp.maximum(1.0 - alpha * alpha, 0.0)

    def blur(self, t: jax.Array, lam: jax.Array) -> jax.Array:
        """``d_t`` (eq. 6 with d_min) for t of shape (B,): (B, H, W, 1)."""
        sigma_b = self.sigma_b_max * jnp.sin(0.5 * jnp.pi * t) ** 2
        tau = (0.5 * sigma_b * sigma_b)[:, None, None, None]
        d = (1.0 - self.d_min) * jnp.exp(-lam[None] * tau) + self.d_min
        return jnp.where(tau == 0.0, 1.0, d)  # exactly 1 without blur, despite rounding

    def coefficients(self, t: jax.Array, lam: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(alpha_vec_t of shape (B, H, W, 1), sigma_t^2 of shape (B, 1, 1, 1))."""
        alpha, sigma2 = self.alpha_sigma2(t)
        alpha_vec = alpha[:, None, None, None] * self.blur(t, lam)
        return alpha_vec, sigma2[:, None, None, None]

    def snr(self, t: jax.Array, lam: jax.Array) -> jax.Array:
        """Signal-to-noise ratio per frequency, ``S_t[f] = alpha_vec_t[f]^2 / sigma_t^2``:
        (B, H, W, 1) for t of shape (B,)."""
        alpha_vec, sigma2 = self.coefficients(t, lam)
        return jnp.square(alpha_vec) / jnp.maximum(sigma2, VAR_MIN)


def _times(t, batch: int) -> jax.Array:
    t = jnp.asarray(t, jnp.float32)
    return jnp.broadcast_to(t, (batch,)) if t.ndim == 0 else t


def diffuse(x: jax.Array, t, eps: jax.Array, schedule: Schedule) -> jax.Array:
    """``z_t = V(alpha_vec_t V^T x) + sigma_t eps`` (eq. 1 in pixel space)."""
    t = _times(t, x.shape[0])
    alpha_vec, sigma2 = schedule.coefficients(t, squared_frequencies(*x.shape[1:3]))
    return idct2(alpha_vec * dct2(x)) + jnp.sqrt(sigma2) * eps


def predict_x0(z_t: jax.Array, t, eps_hat: jax.Array, schedule: Schedule,
               clip: bool = True) -> jax.Array:
    """The one-step reconstruction ``x0_hat = V((V^T z_t - sigma_t V^T eps_hat) / alpha_vec_t)``
    (eq. 3; the x0_hat of the LPIPS term, eq. 12), clipped to [-1, 1] when ``clip``."""
    t = _times(t, z_t.shape[0])
    alpha_vec, sigma2 = schedule.coefficients(t, squared_frequencies(*z_t.shape[1:3]))
    x0 = idct2(dct2(z_t - jnp.sqrt(sigma2) * eps_hat) / alpha_vec)
    return jnp.clip(x0, -1.0, 1.0) if clip else x0


def lpips_weight(t: jax.Array, height: int, width: int, schedule: Schedule,
                 snr_cap: float) -> jax.Array:
    """Weight of the LPIPS term of eq. 12 at t (shape (B,)): ``min(S_t, cap) / cap`` with
    ``S_t = min_f alpha_vec_t[f]^2 / sigma_t^2`` the signal-to-noise ratio of the most blurred
    frequency (the highest); ``snr_cap = 0`` gives weight 1 (eq. 12 as printed).

    Why: ``x0_hat`` (eq. 3) divides by ``alpha_vec_t``, so an error in ``eps_hat`` reaches
    ``x0_hat`` multiplied by ``sigma_t / alpha_vec_t[f]``: up to 1e7 near t = 1, and about 300
    already at t = 0.2 with sigma_B_max = 25. Unweighted, the LPIPS gradient of those steps
    swamps the eps-MSE (measured: eps-MSE stays above 1, worse than predicting zero, and
    samples are noise). With this weight the amplification is at most ``1 / sqrt(cap)``,
    since ``min(S, cap) / (cap sqrt(S)) <= 1 / sqrt(cap)`` (the min-SNR rule of Hang et al.
    2023, which CDC also offers for its perceptual term)."""
    if not snr_cap >= 0:
        raise ValueError(f"loss.lpips_snr_cap must be >= 0 (0: unweighted), got {snr_cap}")
    t = _times(t, jnp.shape(t)[0] if jnp.ndim(t) else 1)
    if snr_cap == 0:
        return jnp.ones_like(t)
    lam_max = squared_frequencies(height, width)[-1:, -1:]  # the highest frequency
    snr = schedule.snr(t, lam_max)[:, 0, 0, 0]
    return jnp.minimum(snr, snr_cap) / snr_cap


def eps_loss_weight(t: jax.Array, height: int, width: int, schedule: Schedule,
                    cap: float) -> jax.Array:
    """Per-frequency weight of the eps loss, (B, H, W, 1): ``min(max(1, 1 / S_t[f]), cap)``
    with ``S_t[f] = alpha_vec_t[f]^2 / sigma_t^2``; ``cap = 0`` gives 1 (the plain eps-MSE).

    Why: an eps error in frequency f reaches the image estimate ``x0_hat`` (eq. 3) multiplied
    by ``1 / sqrt(S_t[f])``, so the eps-MSE barely sees x0 errors at low SNR (measured on the
    bundled decoders: docs/RESULTS.md, "Why more sampling steps hurt"). ``max(1, 1 / S)`` is
    the truncated-SNR weighting of Salimans & Ho (2022) written on eps: the x0-MSE where the
    noise dominates, the eps-MSE elsewhere. Blur drives ``S_t[f]`` of the high frequencies
    towards 0 (their signal is gone, not merely noisy), hence the cap."""
    if not cap >= 0:
        raise ValueError(f"loss.eps_weight_cap must be >= 0 (0: the plain eps-MSE), got {cap}")
    t = _times(t, jnp.shape(t)[0] if jnp.ndim(t) else 1)
    if cap == 0:
        return jnp.ones((t.shape[0], height, width, 1))
    inverse_snr = 1.0 / schedule.snr(t, squared_frequencies(height, width))
    return jnp.clip(inverse_snr, 1.0, max(cap, 1.0))


def posterior(f_t: jax.Array, f_x: jax.Array, t, s, schedule: Schedule):
    """Mean and variance of ``q(f_s | f_t, f_x)`` for s < t, per frequency (eq. 2)."""
    t, s = _times(t, f_t.shape[0]), _times(s, f_t.shape[0])
    lam = squared_frequencies(*f_t.shape[1:3])
    alpha_t, sigma2_t = schedule.coefficients(t, lam)
    alpha_s, sigma2_s = schedule.coefficients(s, lam)
    sigma2_t = jnp.maximum(sigma2_t, VAR_MIN)
    alpha_ts = alpha_t / alpha_s
    sigma2_ts = jnp.maximum(sigma2_t - alpha_ts * alpha_ts * sigma2_s, 0.0)
    mean = (alpha_ts * sigma2_s / sigma2_t) * f_t + (alpha_s * sigma2_ts / sigma2_t) * f_x
    return mean, sigma2_ts * sigma2_s / sigma2_t


EpsFn = Callable[[jax.Array, jax.Array], jax.Array]  # (z_t, t of shape (B,)) -> eps_hat


def check_temperature(temperature) -> float:
    """``temperature`` as a float, or a ValueError saying what it must be."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not 0 <= temperature <= 1:
        raise ValueError(f"the sampling temperature must be a number in [0, 1] (1: the "
                         f"model's own distribution), got {temperature!r}")
    return float(temperature)


def _scaled(noise: jax.Array, temperature: float) -> jax.Array:
    # Temperature 1 leaves the draw (and the graph) exactly as before the option existed.
    return noise if temperature == 1 else temperature * noise


def initial_noise(rng: jax.Array, shape: tuple[int, int, int, int], temperature: float = 1.0):
    """(z_1 ~ N(0, temperature^2 I) of ``shape``, the key of the steps' noise): how
    :func:`sample` starts."""
    temperature = check_temperature(temperature)
    rng, init = jax.random.split(rng)
    return _scaled(jax.random.normal(init, shape, jnp.float32), temperature), rng


def step_noise(rng: jax.Array, k, shape: tuple[int, int, int, int],
               temperature: float = 1.0) -> jax.Array:
    """The ancestral sampler's N(0, temperature^2 I) draw at step k (from t = k / steps),
    keyed by ``rng`` of :func:`initial_noise`."""
    temperature = check_temperature(temperature)
    return _scaled(jax.random.normal(jax.random.fold_in(rng, k), shape, jnp.float32),
                   temperature)


def denoise_step(eps_fn: EpsFn, z: jax.Array, k, steps: int, schedule: Schedule,
                 sampler: str, noise: jax.Array | None = None, clip: bool = True,
                 lam: jax.Array | None = None, x0_dc: jax.Array | None = None):
    """One step of :func:`sample`, from t = k / steps to s = (k - 1) / steps: (z_s, x0_hat).

    ``z`` is the whole image or, for tiled sampling, one window of it (the DCT is then the
    window's own). ``noise`` is the ancestral sampler's draw of this step
    (:func:`step_noise`, or its crop to the window); DDIM takes none. ``lam`` is
    :func:`squared_frequencies` of z's size when the caller holds it (:func:`sample` computes
    it once, outside its loop, which also keeps the bits of earlier releases' samples).
    ``x0_dc`` (B, 1, 1, C), when given, replaces the DC coefficient of x0_hat (after the
    clip), so the step moves z's DC towards it; the last step lands on it exactly.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
    if (noise is None) != (sampler == "ddim"):
        raise ValueError(f"the {sampler} sampler takes "
                         + ("no noise" if sampler == "ddim" else "this step's noise"))
    if x0_dc is not None and tuple(x0_dc.shape) != (z.shape[0], 1, 1, z.shape[3]):
        raise ValueError(f"x0_dc must have the shape (batch, 1, 1, channels) = "
                         f"{(z.shape[0], 1, 1, z.shape[3])} of z's DC coefficient "
                         f"(dc_coefficient of an image), got {tuple(x0_dc.shape)}")
    batch = z.shape[0]
    lam = squared_frequencies(z.shape[1], z.shape[2]) if lam is None else lam
    t = jnp.full((batch,), k / steps, jnp.float32)
    s = jnp.full((batch,), (k - 1) / steps, jnp.float32)
    eps_hat = eps_fn(z, t)
    alpha_t, sigma2_t = schedule.coefficients(t, lam)
    f_t = dct2(z)
    f_x = (f_t - jnp.sqrt(sigma2_t) * dct2(eps_hat)) / alpha_t
    if clip:
        f_x = dct2(jnp.clip(idct2(f_x), -1.0, 1.0))
    if x0_dc is not None:
        f_x = with_dc(f_x, x0_dc)
    if sampler == "ancestral":
        mean, var = posterior(f_t, f_x, t, s, schedule)
        f_s = mean + jnp.sqrt(var) * noise
    else:
        alpha_s, sigma2_s = schedule.coefficients(s, lam)
        eps_f = (f_t - alpha_t * f_x) / jnp.sqrt(jnp.maximum(sigma2_t, VAR_MIN))
        f_s = alpha_s * f_x + jnp.sqrt(sigma2_s) * eps_f
    x0 = idct2(f_x)
    return idct2(f_s), x0


def sample(eps_fn: EpsFn, shape: tuple[int, int, int, int], rng: jax.Array, steps: int,
           schedule: Schedule, sampler: str = "ancestral", clip: bool = True,
           return_trajectory: bool = False, temperature: float = 1.0,
           x0_dc: jax.Array | None = None):
    """Samples x from z_1 ~ N(0, I) with ``steps`` equal steps t = k / steps -> (k - 1) / steps.

    ``eps_fn`` is the (conditioned) noise prediction network. With ``return_trajectory`` the
    predicted image of every step is returned as well, (steps, B, H, W, C), coarse to fine.
    The result depends only on (rng, steps, sampler), the temperature and the network, so
    decoding is reproducible from the seed and step count stored in a file.

    ``temperature`` scales every random draw (z_1 and the ancestral sampler's noise): 1
    samples the model's own distribution, 0 follows its mean path from z_1 = 0. Below 1 a
    many-step sample keeps less of the noise that an undertrained network cannot turn into
    detail (docs/RESULTS.md, "Why more sampling steps hurt").

    ``x0_dc`` (B, 1, 1, C; :func:`dc_coefficient` of an image of ``shape``) fixes the DC of
    every step's x0_hat, and so the sample's per-channel mean (before the final clip).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    z, rng = initial_noise(rng, shape, temperature)
    lam = squared_frequencies(shape[1], shape[2])

    def step(z, k):
        noise = step_noise(rng, k, shape, temperature) if sampler == "ancestral" else None
        z_s, x0 = denoise_step(eps_fn, z, k, steps, schedule, sampler, noise, clip, lam,
                               x0_dc)
        return z_s, x0 if return_trajectory else None

    z, trajectory = jax.lax.scan(step, z, jnp.arange(steps, 0, -1))
    # The last step (s = 0) has zero posterior variance and alpha_vec_0 = 1: z is x0_hat.
    x = jnp.clip(z, -1.0, 1.0) if clip else z
    return (x, trajectory) if return_trajectory else x
