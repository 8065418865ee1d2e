"""Training: ``train_and_evaluate(config, workdir)``, called by ``train.py``.

Objective, with R in bits per pixel from the likelihoods of y and z: for the MSE decoder
``L = D + lmbda * R`` with D the MSE of images in [-1, 1] (paper eq. 8); for the diffusion
decoder ``L = lmbda * R + ||eps - eps_hat||^2 + beta * w(t) LPIPS(x, x0_hat)`` (eqs. 11-12),
with ``w(t)`` of ``blur_diffusion.lpips_weight`` (``loss.lpips_snr_cap``; 0 gives w = 1, the
equation as printed, which does not train: see that function).

The train step is ``jax.jit`` with shardings on a device mesh (a ``data`` axis over all
devices, or ``mesh.devices`` of them): batches are split along it; the state is replicated,
or, with ``train.shard_params``, every large array of it (parameters, optimizer moments, EMA)
is split along its largest divisible axis (FSDP style) and XLA gathers what each step needs.
The same code runs on this CPU, on one accelerator, and on many hosts after
``jax.distributed.initialize()`` (``train.py --multihost``), each process reading its own
slice of every batch.

Logged metrics go to TensorBoard, to stdout and to ``metrics.jsonl`` in the workdir (one
record per logged step, exact floats). Checkpoints (with coding tables) are written by orbax every ``train.checkpoint_every`` steps
and at the end; a restarted run resumes from the latest one with the data pipeline at that
step and the same RNG stream, so it continues with the losses an uninterrupted run would
have had. A step whose loss or gradient is not finite leaves the state unchanged and is
counted; after ``optim.max_nonfinite`` such steps the run stops with a message.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import threading
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from laplace_codec import images as images_lib
from laplace_codec import zoo
from laplace_codec.atomic import atomic_write
from laplace_codec.coding import tf_backend
from laplace_codec.coding.tables import tables_for
from laplace_codec.errors import CheckpointError, InputError
from laplace_codec.models import gain
from laplace_codec.models import model as model_lib
from laplace_codec.training import checkpoint, data, optimizer, widen


class TrainingError(RuntimeError):
    """Training cannot go on (for instance, too many non-finite steps)."""


def rate_distortion(model, params, batch: jax.Array, rng: jax.Array,
                    loss_config: ml_collections.ConfigDict):
    """Loss and metrics of one uint8 batch; batch values are mapped to [-1, 1].

    A variable-rate model draws each image's quality uniformly from its range, and weights
    that image's rate by the quality's lambda (``gain.lmbda_for_quality``), so that every
    step trains every rate, and the image's whole loss by ``gain.loss_weight`` with power
    ``loss.quality_weight`` (0, the default: unweighted); a fixed-rate model uses
    ``loss_config.lmbda``. Diffusion models
    report ``mse``/``psnr`` of the one-step reconstruction x0_hat at the random t of each
    image (a training signal, not the sampled image's quality)."""
    x = model_lib.from_uint8(batch)
    quality, lmbda, weight = None, loss_config.lmbda, jnp.ones(x.shape[:1], jnp.float32)
    if model.rate_lmbdas:
        low, high = gain.quality_range(model.rate_lmbdas)
        quality = jax.random.uniform(jax.random.fold_in(rng, 7), (x.shape[0],),
                                     minval=low, maxval=high)
        lmbda = gain.lmbda_for_quality(quality, model.rate_lmbdas)
        weight = gain.loss_weight(quality, model.rate_lmbdas,
                                  loss_config.get("quality_weight", 0.0))
    out = model.apply({"params": params}, x, train=True, quality=quality,
                      rngs={"noise": rng})
    pixels = x.shape[1] * x.shape[2]
    bits_y = -jnp.sum(jnp.log2(out["y_likelihood"]), axis=(1, 2, 3))
    bits_z = -jnp.sum(jnp.log2(out["z_likelihood"]), axis=(1, 2, 3))
    bpp_each = (bits_y + bits_z) / pixels
    bpp = jnp.mean(bpp_each)
    rate_term = jnp.mean(weight * lmbda * bpp_each)
    # eq. 8 (MSE decoder) or eqs. 11-12 (diffusion decoder): the decoder kind's loss
    loss, mse, extra = model_lib.decoder_for(model).loss(out, x, rate_term, loss_config,
                                                         weight)
    bits_z = jnp.sum(bits_z)
    num_pixels = x.shape[0] * pixels
    psnr = 10.0 * jnp.log10(4.0 / jnp.maximum(mse, 1e-10))  # peak-to-peak 2 in [-1, 1]
    return loss, dict(loss=loss, bpp=bpp, bpp_z=bits_z / num_pixels, mse=mse, psnr=psnr,
                      **extra)


def make_mesh(num_devices: int = 0, devices=None) -> Mesh:
    """A 1-D mesh with axis ``data`` over ``num_devices`` devices (0: all of them)."""
    devices = list(devices if devices is not None else jax.devices())
    if num_devices:
        if num_devices > len(devices):
            raise ValueError(f"mesh.devices = {num_devices}, but only {len(devices)} devices")
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), ("data",))


def state_shardings(state, mesh: Mesh, shard_params: bool = False, min_size: int = 2**14):
    """Sharding of every state leaf: replicated, or (``shard_params``) split along the
    largest axis divisible by the mesh size for arrays of at least ``min_size`` elements."""

    def rule(leaf):
        shape = tuple(leaf.shape) if hasattr(leaf, "shape") else np.shape(leaf)
        if not shard_params or np.prod(shape, dtype=np.int64) < min_size:
            return NamedSharding(mesh, P())
        axes = [a for a in np.argsort(shape)[::-1] if shape[a] % mesh.size == 0]
        if not axes:
            return NamedSharding(mesh, P())
        spec = [None] * len(shape)
        spec[axes[0]] = "data"
        return NamedSharding(mesh, P(*spec))

    return jax.tree_util.tree_map(rule, state)


def _stored_init_from_steps(directory, step: int) -> str:
    """``train.init_from_steps`` of the config stored with checkpoint ``step`` ("" if none)."""
    try:
        with open(os.path.join(str(directory), str(step), "config", "metadata")) as f:
            return json.load(f).get("train", {}).get("init_from_steps", "") or ""
    except (OSError, ValueError):
        return ""


def init_state(model, config, rng):
    crop = config.data.crop
    params_rng, noise_rng, rng = jax.random.split(rng, 3)
    variables = model.init({"params": params_rng, "noise": noise_rng},
                           jnp.zeros((1, crop, crop, 3)), train=True,
                           quality=model_lib.default_quality(model, batch=1))
    tx = optimizer.make_optimizer(config)
    state = dict(params=variables["params"], opt_state=tx.init(variables["params"]),
                 step=jnp.asarray(0, jnp.int32), rng=rng)
    if config.train.get("ema_decay", 0.0):
        state["ema_params"] = variables["params"]
    return state


def restore_training_state(ckpt: str):
    """The whole training state of checkpoint ``ckpt`` (a step folder or workdir): weights,
    optimiser state, EMA, step and RNG, as the training loop resumes it (host arrays, no
    shardings). Returns ``(config, model, state)``."""
    loaded = checkpoint.load(ckpt)
    model = model_lib.from_config(loaded.config.model)
    target = jax.eval_shape(functools.partial(init_state, model, loaded.config),
                            jax.random.PRNGKey(loaded.config.seed))  # shapes: no computation
    directory, step = checkpoint.resolve(ckpt)
    state = checkpoint.restore_state(checkpoint.manager(directory, create=False), step, target)
    return loaded.config, model, state


def write_training_state(workdir: str, step: int, config, model, state) -> str:
    """Writes an edited training state (checkpoint surgery: revive, rate levels) as step
    ``step`` of the new workdir ``workdir``, with its coding tables from the EMA (else the
    weights), for ``train.py --workdir`` to resume; returns the step folder."""
    mngr = checkpoint.manager(os.path.join(workdir, "checkpoints"))
    if step in (mngr.all_steps() or []):
        raise InputError(f"{workdir} already holds step {step}; choose an empty workdir")
    params = state.get("ema_params", state["params"])
    checkpoint.save(mngr, step, state, tables_for(model, params).to_dict(), config)
    mngr.wait_until_finished()
    return os.path.join(workdir, "checkpoints", str(step))


def warm_start(params, path: str, widen_transforms: bool = False):
    """Copies into ``params`` every parameter of the checkpoint at ``path`` with the same
    name and shape (``train.init_from``: the second stage of a two-stage recipe, or a
    diffusion codec started from a trained MSE codec's encoder and entropy model).
    ``path`` is a checkpoint folder or, when no such folder exists, the name of a bundled
    zoo model (its stored weights). With ``widen_transforms`` (``train.widen``), the
    source's narrower ``g_a`` and ``g_s`` are first widened to the model's (``widen.py``).
    Returns (params, names copied, names left as initialised)."""
    if os.path.isdir(path):
        source_params = checkpoint.load(path).params
    else:
        try:
            source_params = zoo.params(path)
        except CheckpointError as e:
            raise ValueError(f"train.init_from = {path!r} is neither a checkpoint folder nor "
                             f"a bundled model: {e}") from None
    if widen_transforms:
        source_params = widen.widen(source_params, params)
    source = {jax.tree_util.keystr(k): v for k, v in
              jax.tree_util.tree_flatten_with_path(source_params)[0]}
    copied, fresh = [], []

    def take(key_path, leaf):
        name = jax.tree_util.keystr(key_path)
        other = source.get(name)
        if other is not None and np.shape(other) == np.shape(leaf):
            copied.append(name)
            return jnp.asarray(other, jnp.asarray(leaf).dtype)
        fresh.append(name)
        return leaf

    params = jax.tree_util.tree_map_with_path(take, params)
    if not copied:
        raise ValueError(f"train.init_from = {path!r} shares no parameter (same name and "
                         f"shape) with this model; check the checkpoint and model sizes")
    return params, copied, fresh


def frozen_modules(config: ml_collections.ConfigDict, model) -> frozenset:
    """``train.freeze``: comma-separated top-level modules (g_a, h_a, h_s, z_prior, y_model,
    g_s, phi; y_gain and z_gain of a variable-rate model) that keep their initial (or
    ``init_from``) weights."""
    names = frozenset(n.strip() for n in config.train.get("freeze", "").split(",") if n.strip())
    known = ({"g_a", "h_a", "h_s", "z_prior", "y_model", "g_s"}
             | ({"y_gain", "z_gain"} if model.rate_lmbdas else set())
             | model_lib.decoder_for(model).modules)
    if names - known:
        raise ValueError(f"train.freeze names unknown modules {sorted(names - known)}; "
                         f"choose from {sorted(known)}")
    return names


def make_train_step(model, config, mesh: Mesh, state_sharding=None):
    """(jitted step, batch sharding); ``state_sharding`` defaults to replicated."""
    ema_decay = config.train.get("ema_decay", 0.0)
    replicated = NamedSharding(mesh, P())
    batch_sharding = NamedSharding(mesh, P("data"))
    if state_sharding is None:
        state_sharding = replicated

    frozen = frozen_modules(config, model)

    def step_fn(state, batch):
        rng = jax.random.fold_in(state["rng"], state["step"])
        # Frozen modules get no gradient (so Adam leaves them exactly as they are) and XLA
        # drops their backward pass.
        grad_fn = jax.value_and_grad(
            lambda p: rate_distortion(model, {k: jax.lax.stop_gradient(v) if k in frozen else v
                                              for k, v in p.items()}, batch, rng, config.loss),
            has_aux=True)
        (_, metrics), grads = grad_fn(state["params"])
        params, opt_state, ema, metrics["grad_norm"] = optimizer.update(
            config, state["params"], state["opt_state"], grads,
            state["ema_params"] if ema_decay else None, ema_decay)
        metrics["skipped_steps"] = opt_state.total_notfinite
        new = dict(state, params=params, opt_state=opt_state, step=state["step"] + 1)
        if ema_decay:
            new["ema_params"] = ema
        return new, metrics

    # Donating the state halves its memory, but on XLA:CPU (jaxlib 0.5.3) an executable with
    # donated buffers reloaded from the persistent compilation cache corrupts its outputs or
    # aborts, so donation is for accelerators only.
    donate = (0,) if jax.default_backend() != "cpu" else ()
    return jax.jit(step_fn, in_shardings=(state_sharding, batch_sharding),
                   out_shardings=(state_sharding, replicated),
                   donate_argnums=donate), batch_sharding


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains (or resumes) the model of ``config`` in ``workdir``; returns the last metrics."""
    tf_backend.tf()
    # clu imports TensorFlow: through tf_backend first (above), so without its CUDA noise,
    # and only when training, so that the library's other users never pay for it.
    from clu import metric_writers, periodic_actions

    os.makedirs(workdir, exist_ok=True)
    config = config.copy_and_resolve_references()  # train.init_from_steps is set below
    model = model_lib.from_config(config.model)
    mesh = make_mesh(config.get("mesh", {}).get("devices", 0))
    if config.data.batch_size % mesh.size:
        raise ValueError(f"data.batch_size {config.data.batch_size} must be a multiple of the "
                         f"{mesh.size} devices")
    mngr = checkpoint.manager(os.path.join(workdir, "checkpoints"),
                              max_to_keep=config.train.keep_checkpoints)
    start = mngr.latest_step() or 0
    # A resumed run needs only the state's shapes: initialising the weights runs the model
    # once, op by op (20-40 s for the test configs on a slow CPU), for values that the
    # checkpoint replaces.
    init = functools.partial(init_state, model, config)
    state = (jax.eval_shape(init, jax.random.PRNGKey(config.seed)) if start
             else init(jax.random.PRNGKey(config.seed)))
    sharding = state_shardings(state, mesh, config.train.get("shard_params", False))
    train_step, batch_sharding = make_train_step(model, config, mesh, sharding)
    if start:
        target = jax.tree_util.tree_map(
            lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), state, sharding)
        state = checkpoint.restore_state(mngr, start, target)
        if jax.process_index() == 0:
            _truncate_jsonl(os.path.join(workdir, "metrics.jsonl"), start)
        print(f"resumed from step {start} of {config.train.num_steps} in {workdir}", flush=True)
        if "init_from_steps" in config.train and not config.train.init_from_steps:
            config.train.init_from_steps = _stored_init_from_steps(mngr.directory, start)
    elif config.train.get("init_from"):
        if "init_from_steps" in config.train and not config.train.init_from_steps:
            config.train.init_from_steps = zoo.training_steps(
                os.path.basename(config.train.init_from.rstrip("/\\")))
        params, copied, fresh = warm_start(state["params"], config.train.init_from,
                                           config.train.get("widen", False))
        stuck = sorted({n.split("'")[1] for n in fresh} & frozen_modules(config, model))
        if stuck:
            raise ValueError(f"train.freeze keeps {stuck} fixed, but {config.train.init_from} "
                             f"does not hold all of their weights (different model sizes or "
                             f"entropy model?); they would stay at their random initial values")
        tx = optimizer.make_optimizer(config)
        state = dict(state, params=params, opt_state=tx.init(params))
        if "ema_params" in state:
            state["ema_params"] = params
        print(f"starting from scratch in {workdir}: initialised {len(copied)} parameter "
              f"arrays from {config.train.init_from}; {len(fresh)} start fresh", flush=True)
    else:
        print(f"starting from scratch in {workdir} (no checkpoint there)", flush=True)
    state = jax.device_put(state, sharding)
    max_nonfinite = config.optim.get("max_nonfinite", 20)

    is_main = jax.process_index() == 0
    writer = metric_writers.create_default_writer(workdir, just_logging=not is_main)
    if start == 0:
        writer.write_hparams(_flatten(config))
    num_steps = config.train.num_steps
    report = periodic_actions.ReportProgress(num_train_steps=num_steps, writer=writer)
    batches = data.make_dataset(config.data, config.seed, start, jax.process_index(),
                                jax.process_count())

    evaluate = make_evaluator(model, config, writer if is_main else None)

    def save(step):
        # The deployed weights are the EMA when there is one; their tables go with them.
        params = multihost_utils.process_allgather(state.get("ema_params", state["params"]),
                                                   tiled=True)
        tables = tables_for(model, params)
        checkpoint.save(mngr, step, state, tables.to_dict(), config)

    metrics, history = None, []
    t_start = time.time()
    progress = Progress(start, num_steps)
    stop = _StopRequest()
    checkpoint_seconds = 60 * config.train.get("checkpoint_minutes", 0)
    last_save = time.time()
    step = start
    try:
        for step in range(start + 1, num_steps + 1):
            batch = jax.make_array_from_process_local_data(batch_sharding, next(batches))
            if step == start + 1:
                print(f"compiling the training step (minutes on a CPU) and running step "
                      f"{step}...", flush=True)
            state, metrics = train_step(state, batch)
            report(step)
            progress.update(step, metrics)
            last_step = step == num_steps
            if step % config.train.log_every == 0 or step % config.train.checkpoint_every == 0 \
                    or last_step:
                metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
                if metrics["skipped_steps"] > max_nonfinite:
                    raise TrainingError(
                        f"stopping at step {step}: {int(metrics['skipped_steps'])} steps had a "
                        f"non-finite loss or gradient (optim.max_nonfinite = {max_nonfinite}); "
                        f"the latest checkpoint holds the last finite state. Lower the learning "
                        f"rate or check the data.")
            if step % config.train.log_every == 0 or last_step:
                history.append((step, metrics))
                writer.write_scalars(step, metrics)
                if is_main:
                    _append_jsonl(os.path.join(workdir, "metrics.jsonl"),
                                  dict(step=step, **metrics))
                print(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
                      flush=True)
            timed = (checkpoint_seconds and jax.process_count() == 1
                     and time.time() - last_save >= checkpoint_seconds)
            if (step % config.train.checkpoint_every == 0 or timed) and step != num_steps:
                save(step)
                last_save = time.time()
            if evaluate and (step % config.eval.every == 0 or last_step):
                evaluate(step, state)
            if stop.requested and not last_step:
                save(step)
                print(f"stopped at step {step} ({stop.requested}): checkpoint saved; run the "
                      f"same command to resume", flush=True)
                break
        else:
            if num_steps > start:
                save(num_steps)
    finally:  # a pending asynchronous save completes even if training stops
        stop.restore()
        mngr.wait_until_finished()
    writer.flush()
    if metrics is not None and not isinstance(metrics.get("loss"), float):
        metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
    elapsed = time.time() - t_start
    return dict(last=metrics, history=history, seconds=elapsed, steps=step - start,
                interrupted=stop.requested)


class _StopRequest:
    """The first SIGINT (Ctrl-C) or SIGTERM asks the loop to save a checkpoint at the end of
    the current step and stop; a second SIGINT stops at once (KeyboardInterrupt). Installed
    only in the main thread, where Python delivers signals."""

    def __init__(self):
        self.requested: str | None = None
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        print(f"\n{self.requested}: saving a checkpoint after this step, then stopping "
              f"(Ctrl-C again to stop at once, without it)", flush=True)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


class Progress:
    """A console line at least every ``every`` seconds: step/total, steps per second, elapsed
    time, ETA, and the running mean of loss, bpp and PSNR over the steps since the last line."""

    KEYS = ("loss", "bpp", "psnr")

    def __init__(self, start: int, total: int, every: float = 30.0):
        self.start, self.total, self.every = start, total, every
        self.t0 = self.last = None
        self.sums, self.count = {}, 0

    def update(self, step: int, metrics) -> None:
        now = time.time()
        if self.t0 is None:  # the first step compiles: the rate counts from its end
            self.t0 = self.last = now
            self.first_step = step
            print(f"step {step} done (compilation included); training", flush=True)
            return
        values = jax.device_get({k: metrics[k] for k in self.KEYS if k in metrics})
        for k in self.KEYS:
            if k in values:
                self.sums[k] = self.sums.get(k, 0.0) + float(values[k])
        self.count += 1
        if now - self.last < self.every and step != self.total:
            return
        rate = (step - self.first_step) / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        means = ", ".join(f"{k} {v / self.count:.4g}" for k, v in self.sums.items())
        print(f"step {step}/{self.total} ({100 * step / self.total:.1f}%), {rate:.2f} steps/s, "
              f"elapsed {_duration(now - self.t0)}, ETA {_duration(eta)}; mean of the last "
              f"{self.count} steps: {means}", flush=True)
        self.last, self.sums, self.count = now, {}, 0


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "unknown"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _truncate_jsonl(path: str, last_step: int) -> None:
    """Drops the records of steps after ``last_step`` (a resumed run replays them), so that
    ``metrics.jsonl`` stays one series; rewritten atomically."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    keep = [line for line in lines if json.loads(line).get("step", 0) <= last_step]
    if len(keep) != len(lines):
        atomic_write(path, "".join(keep).encode())


def _append_jsonl(path: str, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def make_evaluator(model, config: ml_collections.ConfigDict, writer):
    """Periodic evaluation on held-out images (``eval.glob``): center crops of ``eval.crop``
    through the model (rounded latents, estimated rate; diffusion decoders sample with
    ``eval.diffusion_steps`` deterministic steps); writes eval/bpp and eval/psnr, and
    original | reconstruction images to TensorBoard. None when no folder is configured."""
    if not config.get("eval") or not config.eval.glob:
        return None

    crop = config.eval.crop
    batch = []
    for path in images_lib.image_files(config.eval.glob)[:config.eval.max_images]:
        x = images_lib.read_image(path)
        if min(x.shape[:2]) >= crop:
            batch.append(images_lib.center_crop(x, crop))
    if not batch:
        raise ValueError(f"no image in {config.eval.glob!r} is at least {crop} pixels wide")
    batch = np.stack(batch)

    steps = config.eval.get("diffusion_steps", 10)
    # A variable-rate model is evaluated at its default quality (lambda 0.01).
    quality = model_lib.default_quality(model, batch=len(batch))

    @jax.jit
    def forward(params):
        x = model_lib.from_uint8(jnp.asarray(batch))
        out = model.apply({"params": params}, x, train=False, quality=quality)
        bits = -(jnp.sum(jnp.log2(out["y_likelihood"]), axis=(1, 2, 3))
                 + jnp.sum(jnp.log2(out["z_likelihood"]), axis=(1, 2, 3)))
        # A diffusion decoder samples a few deterministic steps: comparable from one
        # evaluation to the next.
        x_hat = model_lib.decoder_for(model).reconstruct(
            model, {"params": params}, out["y_hat"], jax.random.PRNGKey(0), steps, "ddim",
            quality=quality)
        x_hat = model_lib.to_uint8(x_hat)
        mse = jnp.mean(jnp.square(x_hat - jnp.asarray(batch, jnp.float32)), axis=(1, 2, 3))
        return bits / (crop * crop), 10.0 * jnp.log10(255.0 ** 2 / mse), x_hat.astype(jnp.uint8)

    def evaluate(step, state):
        bpp, psnr, x_hat = jax.device_get(forward(state.get("ema_params", state["params"])))
        if writer is not None:
            writer.write_scalars(step, {"eval/bpp": float(np.mean(bpp)),
                                        "eval/psnr": float(np.mean(psnr))})
            writer.write_images(step, {"eval/original|reconstruction":
                                       np.concatenate([batch, x_hat], axis=2)})
        print(f"eval at step {step}: {np.mean(bpp):.4f} bpp (estimated), PSNR "
              f"{np.mean(psnr):.2f} dB on {len(batch)} held-out crops", flush=True)

    return evaluate


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
    if summary.get("interrupted"):
        return (f"stopped after {summary['steps']} steps in {summary['seconds']:.1f} s "
                f"({summary['interrupted']})")
    return (f"trained {summary['steps']} steps in {summary['seconds']:.1f} s: "
            f"loss {last['loss']:.4f}, {last['bpp']:.3f} bpp, PSNR {last['psnr']:.2f} dB "
            f"(training batch, noisy rate)")
