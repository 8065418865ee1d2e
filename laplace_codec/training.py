"""Training: ``train_and_evaluate(config, workdir)``, called by ``train.py``.

Objective (paper eq. before 12, with D the MSE of images in [-1, 1]):
``L = D + lmbda * R``, R in bits per pixel from the likelihoods of y and z.

The train step is ``jax.jit`` with shardings on a device mesh (a ``data`` axis over all
devices: batches split along it, state replicated), so the same code runs on this CPU and
on many accelerators. Checkpoints (with coding tables) are written by orbax every
``train.checkpoint_every`` steps and at the end; a restarted run resumes from the latest one,
with the data pipeline repositioned at that step.
"""

from __future__ import annotations

import functools
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from laplace_codec import checkpoint, data
from laplace_codec import model as model_lib
from laplace_codec.tables import CodingTables, build_tables


def learning_rate_schedule(optim: ml_collections.ConfigDict, num_steps: int):
    """Constant, then a cosine decay to ``final_learning_rate`` over the last part of training."""
    start = int(optim.decay_start * num_steps)
    return optax.join_schedules([
        optax.constant_schedule(optim.learning_rate),
        optax.cosine_decay_schedule(optim.learning_rate, max(num_steps - start, 1),
                                    alpha=optim.final_learning_rate / optim.learning_rate),
    ], [start])


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    tx = optax.chain(optax.clip_by_global_norm(config.optim.grad_clip),
                     optax.adam(learning_rate_schedule(config.optim, config.train.num_steps)))
    # A non-finite gradient leaves the parameters untouched (the step is counted as skipped).
    return optax.apply_if_finite(tx, max_consecutive_errors=config.optim.get("max_nonfinite", 20))


def rate_distortion(model, params, batch: jax.Array, rng: jax.Array, lmbda: float):
    """Loss and metrics of one uint8 batch; batch values are mapped to [-1, 1]."""
    x = batch.astype(jnp.float32) / 127.5 - 1.0
    out = model.apply({"params": params}, x, train=True, rngs={"noise": rng})
    num_pixels = x.shape[0] * x.shape[1] * x.shape[2]
    bits_y = -jnp.sum(jnp.log2(out["y_likelihood"]))
    bits_z = -jnp.sum(jnp.log2(out["z_likelihood"]))
    bpp = (bits_y + bits_z) / num_pixels
    mse = jnp.mean(jnp.square(out["x_hat"] - x))
    loss = mse + lmbda * bpp
    psnr = 10.0 * jnp.log10(4.0 / jnp.maximum(mse, 1e-10))  # peak-to-peak 2 in [-1, 1]
    return loss, dict(loss=loss, bpp=bpp, bpp_z=bits_z / num_pixels, mse=mse, psnr=psnr)


def make_mesh() -> Mesh:
    return Mesh(np.asarray(jax.devices()), ("data",))


def init_state(model, config, rng):
    crop = config.data.crop
    params_rng, noise_rng, rng = jax.random.split(rng, 3)
    variables = model.init({"params": params_rng, "noise": noise_rng},
                           jnp.zeros((1, crop, crop, 3)), train=True)
    tx = make_optimizer(config)
    return dict(params=variables["params"], opt_state=tx.init(variables["params"]),
                step=jnp.asarray(0, jnp.int32), rng=rng)


def make_train_step(model, config, mesh: Mesh):
    tx = make_optimizer(config)
    lmbda = config.loss.lmbda
    replicated = NamedSharding(mesh, P())
    batch_sharding = NamedSharding(mesh, P("data"))

    def step_fn(state, batch):
        rng = jax.random.fold_in(state["rng"], state["step"])
        grad_fn = jax.value_and_grad(
            lambda p: rate_distortion(model, p, batch, rng, lmbda), has_aux=True)
        (_, metrics), grads = grad_fn(state["params"])
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics["grad_norm"] = optax.global_norm(grads)
        metrics["skipped_steps"] = opt_state.total_notfinite
        return dict(params=params, opt_state=opt_state, step=state["step"] + 1,
                    rng=state["rng"]), metrics

    # Donating the state halves its memory, but on XLA:CPU (jaxlib 0.5.3) an executable with
    # donated buffers reloaded from the persistent compilation cache corrupts its outputs or
    # aborts (seen here), so donation is for accelerators only.
    donate = (0,) if jax.default_backend() != "cpu" else ()
    return jax.jit(step_fn, in_shardings=(replicated, batch_sharding),
                   out_shardings=(replicated, replicated), donate_argnums=donate), batch_sharding


@functools.cache
def _logits_fn(model: model_lib.CompressionModel):
    return jax.jit(lambda p, v: model.apply({"params": p}, v, method=model.z_logits_cdf))


def tables_for(model: model_lib.CompressionModel, params) -> CodingTables:
    """Builds the coding tables of trained parameters (once; saved with the checkpoint)."""
    logits = _logits_fn(model)
    return build_tables(lambda v: np.asarray(logits(params, jnp.asarray(v))), model.N)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains (or resumes) the model of ``config`` in ``workdir``; returns the last metrics."""
    from clu import metric_writers, periodic_actions

    os.makedirs(workdir, exist_ok=True)
    model = model_lib.from_config(config.model)
    mesh = make_mesh()
    if config.data.batch_size % mesh.size:
        raise ValueError(f"data.batch_size {config.data.batch_size} must be a multiple of the "
                         f"{mesh.size} devices")
    train_step, batch_sharding = make_train_step(model, config, mesh)
    state = init_state(model, config, jax.random.PRNGKey(config.seed))
    mngr = checkpoint.manager(os.path.join(workdir, "checkpoints"),
                              max_to_keep=config.train.keep_checkpoints)
    start = mngr.latest_step() or 0
    if start:
        state = checkpoint.restore_state(mngr, start, state)
        print(f"resumed from step {start} in {workdir}", flush=True)
    state = jax.device_put(state, NamedSharding(mesh, P()))

    is_main = jax.process_index() == 0
    writer = metric_writers.create_default_writer(workdir, just_logging=not is_main)
    if start == 0:
        writer.write_hparams(_flatten(config))
    num_steps = config.train.num_steps
    report = periodic_actions.ReportProgress(num_train_steps=num_steps, writer=writer)
    batches = data.make_dataset(config.data, config.seed, start, jax.process_index(),
                                jax.process_count())

    def save(step):
        params = jax.device_get(state["params"])
        tables = tables_for(model, params)
        checkpoint.save(mngr, step, jax.device_get(state), tables.to_dict(), config)

    metrics, history = None, []
    t_start = time.time()
    for step in range(start + 1, num_steps + 1):
        batch = jax.make_array_from_process_local_data(batch_sharding, next(batches))
        state, metrics = train_step(state, batch)
        report(step)
        if step % config.train.log_every == 0 or step == num_steps:
            metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
            history.append((step, metrics))
            writer.write_scalars(step, metrics)
            print(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
                  flush=True)
        if step % config.train.checkpoint_every == 0 and step != num_steps:
            save(step)
    if num_steps > start:
        save(num_steps)
    mngr.wait_until_finished()
    writer.flush()
    if metrics is not None and not isinstance(metrics.get("loss"), float):
        metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
    elapsed = time.time() - t_start
    return dict(last=metrics, history=history, seconds=elapsed, steps=num_steps - start)


def _flatten(config: ml_collections.ConfigDict, prefix: str = "") -> dict:
    out = {}
    for k, v in config.items():
        if isinstance(v, ml_collections.ConfigDict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def summary_line(summary: dict) -> str:
    last = summary["last"]
    if last is None:
        return "nothing to train: the workdir already holds the final step"
    return (f"trained {summary['steps']} steps in {summary['seconds']:.1f} s: "
            f"loss {last['loss']:.4f}, {last['bpp']:.3f} bpp, PSNR {last['psnr']:.2f} dB "
            f"(training batch, noisy rate)")
