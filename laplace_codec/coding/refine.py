"""Encoder-side refinement: the latents of one image optimised for that image's own
rate-distortion loss, with the decoder and the entropy model fixed (Campos et al., "Content
Adaptive Optimization for Neural Image Compression", CVPR-W 2019; Yang et al., "Improving
Inference for Neural Image Compression", NeurIPS 2020).

Starting from the analysis transform's ``y`` and ``z``, Adam (or ``OPTIMIZERS``' other)
minimises the training loss of the image, ``D(x, g_s(y_hat)) + lmbda R(y, z)`` (eq. 8), with
one of three treatments of the rounding of y (``ROUNDINGS``):

- ``"noise"``: as in training, rounding with a straight-through gradient for what the
  decoder sees and uniform noise for the rates;
- ``"sga"``: stochastic Gumbel annealing (Yang et al. 2020, ``entropy.base.sga_round``) for
  both, its temperature falling from 0.5 to ``TAU_END`` over the steps, so that the loss
  approaches that of the rounded latents the file will hold;
- ``"ste"``: no relaxation: the loss is that of the rounded y and z, exactly what the file
  will cost and show, with straight-through gradients. Being exact, it is deterministic, and
  the latents of the lowest loss seen (the first step's included) are the ones returned, so
  that refinement never does worse than none on its own loss.

With ``"noise"`` and ``"sga"`` z keeps the training relaxation, and ``KEEP_BEST`` chooses
among the steps by the exact loss. The refined latents are then coded exactly as unrefined
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

from laplace_codec.models.entropy.base import sga_round, ste_round

LEARNING_RATE = 5e-3
# The "best compression" setting (``compress --refine best``): on the default model (sixth
# export), with the best step kept, 80 steps saved 4.3% of the bits at equal PSNR (BD-rate,
# three Kodak images at three qualities; 20 steps 3.9%, 40 steps 4.2%), in 32 s per 768x512
# image on a 2-core AVX-512 CPU (60 s on one core); docs/RESULTS.md, "Encoder-side refinement".
BEST_STEPS = 80
ROUNDINGS = ("noise", "sga", "ste")
ROUNDING = "noise"
# The learning rate over the steps: constant, or a cosine decay from LEARNING_RATE to 0, so
# that the last steps settle instead of oscillating around the optimum.
SCHEDULES = ("constant", "cosine")
SCHEDULE = "constant"
TAU_START, TAU_END = 0.5, 0.05  # SGA's temperature, annealed exponentially over the steps
# The optimiser: Adam, whose early steps move every element by about the learning rate, or
# "nsgd", gradient descent with momentum on each latent's gradient divided by its RMS, which
# moves an element in proportion to how much the loss cares about it.
OPTIMIZERS = ("adam", "nsgd")
OPTIMIZER = "adam"
MOMENTUM = 0.9
# Return the latents of the lowest exact loss (that of the rounded latents, which the file
# costs and shows) among the start and every step, at the price of one forward pass per step
# (12% of the time), instead of the last step's: more steps never end worse, and on whole
# Kodak images 20 steps saved 3.7% instead of 3.3%. With "ste" the exact loss is the one
# optimised, and always kept.
KEEP_BEST = True


def _scale_by_rms():
    """Each latent's gradient over its root mean square (its RMS becomes 1)."""
    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda g: g / (jnp.sqrt(jnp.mean(jnp.square(g))) + 1e-30),
                            updates), state
    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def temperature(i, steps: int):
    """SGA's temperature at step i of ``steps``: TAU_START at the first step, TAU_END at the
    last, exponential in between."""
    return TAU_START * jnp.exp(math.log(TAU_END / TAU_START) * i / max(steps - 1, 1))


@functools.lru_cache(maxsize=8)
def _compiled(model, steps: int, learning_rate: float, rounding: str, schedule: str,
              optimizer: str, keep_best: bool):
    """The jitted refinement loop of ``model`` for ``steps`` steps (one per shape)."""
    rate = (learning_rate if schedule == "constant"
            else optax.cosine_decay_schedule(learning_rate, steps))
    tx = (optax.adam(rate) if optimizer == "adam" else
          optax.chain(_scale_by_rms(), optax.sgd(rate, momentum=MOMENTUM)))

    def loss_fn(latents, params, x, quality, lmbda, key, i, relaxation):
        y, z = latents
        round_fn, train = None, True
        if relaxation == "sga":
            sga_key, tau = jax.random.fold_in(key, 1), temperature(i, steps)
            calls = itertools.count()

            def round_fn(v):  # one key per call (chunks, anchors), fixed at trace time
                return sga_round(v, jax.random.fold_in(sga_key, next(calls)), tau)
        elif relaxation == "ste":
            round_fn, train = ste_round, False  # the rates of the rounded y and z

        out = model.apply(params, x, y, z, train, quality, round_fn,
                          method=model.from_latents, rngs={"noise": key})
        bits = -(jnp.sum(jnp.log2(out["y_likelihood"])) + jnp.sum(jnp.log2(out["z_likelihood"])))
        bpp = bits / (x.shape[0] * x.shape[1] * x.shape[2])
        return jnp.mean(jnp.square(out["x_hat"] - x)) + lmbda * bpp

    grad_fn = jax.value_and_grad(loss_fn)
    choose = keep_best or rounding == "ste"

    def exact_loss(latents, params, x, quality, lmbda):
        return loss_fn(latents, params, x, quality, lmbda, jax.random.PRNGKey(0), 0, "ste")

    def run(params, x, y, z, quality, lmbda):
        def body(i, carry):
            latents, opt_state, best, best_loss = carry
            key = jax.random.fold_in(jax.random.PRNGKey(0), i)
            loss, grads = grad_fn(latents, params, x, quality, lmbda, key, i, rounding)
            if choose:
                if rounding != "ste":  # the relaxed loss cannot choose: the file's own can
                    loss = exact_loss(latents, params, x, quality, lmbda)
                better = loss < best_loss
                best = jax.tree.map(lambda a, b: jnp.where(better, a, b), latents, best)
                best_loss = jnp.minimum(loss, best_loss)
            updates, opt_state = tx.update(grads, opt_state, latents)
            return optax.apply_updates(latents, updates), opt_state, best, best_loss

        latents = (y, z)
        latents, _, best, best_loss = jax.lax.fori_loop(
            0, steps, body, (latents, tx.init(latents), latents, jnp.float32(jnp.inf)))
        if not choose:
            return latents
        better = exact_loss(latents, params, x, quality, lmbda) < best_loss  # the last step's
        return jax.tree.map(lambda a, b: jnp.where(better, a, b), latents, best)

    return jax.jit(run)


def refine_latents(model, params, x: jax.Array, y: jax.Array, z: jax.Array, quality,
                   lmbda: float, steps: int, learning_rate: float | None = None,
                   rounding: str | None = None, schedule: str | None = None,
                   optimizer: str | None = None, keep_best: bool | None = None):
    """(y, z) after ``steps`` optimiser steps on the image's loss (or the best step's, with
    ``keep_best``); ``x`` in [-1, 1] (1, H, W, 3), ``y`` and ``z`` the (gained) latents of
    ``x``, ``params`` the codec's variables, ``rounding`` one of ``ROUNDINGS`` (default
    ``ROUNDING``), ``schedule`` one of ``SCHEDULES`` (default ``SCHEDULE``),
    ``learning_rate`` its peak (default ``LEARNING_RATE``), ``optimizer`` one of
    ``OPTIMIZERS`` (default ``OPTIMIZER``), ``keep_best`` default ``KEEP_BEST``."""
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
    optimizer = OPTIMIZER if optimizer is None else optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown refinement optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    keep_best = KEEP_BEST if keep_best is None else bool(keep_best)
    run = _compiled(model, steps, learning_rate, rounding, schedule, optimizer, keep_best)
    return run(params, x, jnp.asarray(y), jnp.asarray(z), quality, jnp.float32(lmbda))
