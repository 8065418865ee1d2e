"""Encoder-side refinement: the latents of one image optimised for that image's own
rate-distortion loss, with the decoder and the entropy model fixed (Campos et al., "Content
Adaptive Optimization for Neural Image Compression", CVPR-W 2019; Yang et al., "Improving
Inference for Neural Image Compression", NeurIPS 2020).

Starting from the analysis transform's ``y`` and ``z``, Adam minimises the training loss of
the image, ``D(x, g_s(y_hat)) + lmbda R(y, z)`` (eq. 8), with one of two relaxations of
the rounding of y (``ROUNDINGS``):

- ``"noise"``: as in training, rounding with a straight-through gradient for what the
  decoder sees and uniform noise for the rates;
- ``"sga"``: stochastic Gumbel annealing (Yang et al. 2020, ``entropy.base.sga_round``) for
  both, its temperature falling from 0.5 to ``TAU_END`` over the steps, so that the loss
  approaches that of the rounded latents the file will hold.

z keeps the training relaxation. The refined latents are then coded exactly as unrefined
ones, so the decoder reads the file unchanged. The random numbers come from a fixed key per
step, so the same image, model and number of steps give the same latents, hence the same
bytes.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import optax

from laplace_codec.models.entropy.base import sga_round

LEARNING_RATE = 5e-3
# The "best compression" setting (``compress --refine best``): on the default model, 20 steps
# saved 4.7% of the bits at equal PSNR (BD-rate, Kodak) in about 27 s per 768x512 image on
# a 2-core CPU, and 50 steps saved less (docs/RESULTS.md, "Encoder-side refinement").
BEST_STEPS = 20
ROUNDINGS = ("noise", "sga")
ROUNDING = "noise"
# The learning rate over the steps: constant, or a cosine decay from LEARNING_RATE to 0, so
# that the last steps settle instead of oscillating around the optimum.
SCHEDULES = ("constant", "cosine")
SCHEDULE = "constant"
TAU_START, TAU_END = 0.5, 0.05  # SGA's temperature, annealed exponentially over the steps


def temperature(i, steps: int):
    """SGA's temperature at step i of ``steps``: TAU_START at the first step, TAU_END at the
    last, exponential in between."""
    return TAU_START * jnp.exp(math.log(TAU_END / TAU_START) * i / max(steps - 1, 1))


@functools.lru_cache(maxsize=8)
def _compiled(model, steps: int, learning_rate: float, rounding: str, schedule: str):
    """The jitted refinement loop of ``model`` for ``steps`` Adam steps (one per shape)."""
    tx = optax.adam(learning_rate if schedule == "constant"
                    else optax.cosine_decay_schedule(learning_rate, steps))

    def loss_fn(latents, params, x, quality, lmbda, key, i):
        y, z = latents
        round_fn = None
        if rounding == "sga":
            sga_key, tau = jax.random.fold_in(key, 1), temperature(i, steps)
            calls = itertools.count()

            def round_fn(v):  # one key per call (chunks, anchors), fixed at trace time
                return sga_round(v, jax.random.fold_in(sga_key, next(calls)), tau)

        out = model.apply(params, x, y, z, True, quality, round_fn,
                          method=model.from_latents, rngs={"noise": key})
        bits = -(jnp.sum(jnp.log2(out["y_likelihood"])) + jnp.sum(jnp.log2(out["z_likelihood"])))
        bpp = bits / (x.shape[0] * x.shape[1] * x.shape[2])
        return jnp.mean(jnp.square(out["x_hat"] - x)) + lmbda * bpp

    grad_fn = jax.grad(loss_fn)

    def run(params, x, y, z, quality, lmbda):
        def body(i, carry):
            latents, opt_state = carry
            key = jax.random.fold_in(jax.random.PRNGKey(0), i)
            grads = grad_fn(latents, params, x, quality, lmbda, key, i)
            updates, opt_state = tx.update(grads, opt_state, latents)
            return optax.apply_updates(latents, updates), opt_state

        latents = (y, z)
        latents, _ = jax.lax.fori_loop(0, steps, body, (latents, tx.init(latents)))
        return latents

    return jax.jit(run)


def refine_latents(model, params, x: jax.Array, y: jax.Array, z: jax.Array, quality,
                   lmbda: float, steps: int, learning_rate: float | None = None,
                   rounding: str | None = None, schedule: str | None = None):
    """(y, z) after ``steps`` Adam steps on the image's loss; ``x`` in [-1, 1] (1, H, W, 3),
    ``y`` and ``z`` the (gained) latents of ``x``, ``params`` the codec's variables,
    ``rounding`` one of ``ROUNDINGS`` (default ``ROUNDING``), ``schedule`` one of
    ``SCHEDULES`` (default ``SCHEDULE``), ``learning_rate`` its peak (default
    ``LEARNING_RATE``)."""
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"refinement steps must be a positive integer, got {steps!r}")
    rounding = ROUNDING if rounding is None else rounding
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown refinement rounding {rounding!r}; choose one of {ROUNDINGS}")
    schedule = SCHEDULE if schedule is None else schedule
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown refinement schedule {schedule!r}; choose one of {SCHEDULES}")
    learning_rate = LEARNING_RATE if learning_rate is None else float(learning_rate)
    if not learning_rate > 0:
        raise ValueError(f"refinement learning rate must be positive, got {learning_rate!r}")
    run = _compiled(model, steps, learning_rate, rounding, schedule)
    return run(params, x, jnp.asarray(y), jnp.asarray(z), quality, jnp.float32(lmbda))
