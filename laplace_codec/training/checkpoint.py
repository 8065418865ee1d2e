"""Checkpoints: orbax ``CheckpointManager`` directories holding, per step, three items:

- ``state``: the training state (params, optimizer state, step, RNG key);
- ``tables``: the integer coding tables built from that step's weights;
- ``config``: the run's ml_collections config as JSON.

Orbax writes each step to a temporary directory and renames it when complete, so a crash
never leaves a half-written checkpoint that looks valid. ``resolve`` accepts a training
workdir, its ``checkpoints`` folder, or one step folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import warnings

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from laplace_codec.errors import CheckpointError
from laplace_codec.models import model as model_lib

ITEMS = ("state", "tables", "config")


def _ocp():
    # Imported when a checkpoint is read or written: orbax takes 0.1 s to import, which
    # every command would pay, and bundled models (the command line's) never need it.
    import orbax.checkpoint as ocp

    return ocp


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One restored checkpoint step: what :func:`load` returns."""

    params: dict  # the EMA of the weights when the run kept one (the tables are built from it)
    tables: dict | None  # integer coding tables (CodingTables.to_dict()), None if not built
    config: ml_collections.ConfigDict
    step: int
    directory: str  # the step folder

    def model(self, check_tables: bool = True):
        """The model of the config, verified against the weights (and, with
        ``check_tables``, the coding tables: off while they are being rebuilt)."""
        try:
            model = model_lib.from_config(self.config.model)
        except (ValueError, AttributeError, KeyError, TypeError) as e:
            raise CheckpointError(f"checkpoint {self.directory} has an unusable model config: "
                                  f"{e}") from None
        verify_params(model, self.params, self.tables if check_tables else None,
                      self.directory)
        return model


class _NoMissingMetrics(logging.Filter):
    """orbax 0.11's CheckpointManager reads a ``metrics`` item of every step when it opens a
    folder, and logs a warning and an error for each step without one; it writes that item
    only for a manager that ranks checkpoints by a metric (``best_fn``), which ours does
    not. A normal resume then printed two error lines per checkpoint: drop exactly those."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith("Missing metrics for step") or (
            isinstance(record.msg, FileNotFoundError) and "/metrics/" in message))


logging.getLogger("absl").addFilter(_NoMissingMetrics())


def manager(directory: str, max_to_keep: int | None = None, create: bool = True):
    options = _ocp().CheckpointManagerOptions(max_to_keep=max_to_keep, create=create)
    return _ocp().CheckpointManager(os.path.abspath(directory), item_names=ITEMS, options=options)


def save(mngr, step: int, state, tables: dict, config: ml_collections.ConfigDict) -> None:
    mngr.save(step, args=_ocp().args.Composite(
        state=_ocp().args.StandardSave(state),
        tables=_ocp().args.StandardSave(tables),
        config=_ocp().args.JsonSave(json.loads(config.to_json()))))


def restore_state(mngr, step: int, target):
    return mngr.restore(step, args=_ocp().args.Composite(
        state=_ocp().args.StandardRestore(target)))["state"]


def resolve(path: str) -> tuple[str, int]:
    """(checkpoints directory, step) for a workdir, a checkpoints folder or a step folder."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        raise CheckpointError(f"checkpoint directory not found: {path}")
    if os.path.isdir(os.path.join(path, "checkpoints")):
        path = os.path.join(path, "checkpoints")
    base = os.path.basename(path)
    if base.isdigit() and os.path.isdir(os.path.join(path, "state")):
        return os.path.dirname(path), int(base)
    steps = sorted(int(d) for d in os.listdir(path)
                   if d.isdigit() and os.path.isdir(os.path.join(path, d)))
    if not steps:
        raise CheckpointError(f"no checkpoint steps in {path}; train with "
                              f"`python train.py --workdir=...` or pass a step folder")
    return path, steps[-1]


def load(path: str) -> Checkpoint:
    """Restores the checkpoint at ``path`` (a workdir, its ``checkpoints`` folder or a step)."""
    directory, step = resolve(path)
    step_dir = os.path.join(directory, str(step))
    for item in ("state", "config"):
        if not os.path.isdir(os.path.join(step_dir, item)):
            raise CheckpointError(f"checkpoint {step_dir} is incomplete: no '{item}' item")
    item = "config"
    try:
        with open(os.path.join(step_dir, "config", "metadata")) as f:
            config = json.load(f)
        with _ocp().PyTreeCheckpointer() as ckptr, warnings.catch_warnings():
            # Restoring to host numpy arrays on purpose; the CLI would show this to users.
            warnings.filterwarnings("ignore", message="Sharding info not provided")
            item = "state"
            state = ckptr.restore(os.path.join(step_dir, "state"))
            item = "tables"
            tables_dir = os.path.join(step_dir, "tables")
            tables = ckptr.restore(tables_dir) if os.path.isdir(tables_dir) else None
    except Exception as e:  # orbax and json raise many types for damaged files
        raise CheckpointError(f"cannot read the '{item}' item of checkpoint {step_dir} (damaged "
                              f"or incomplete): {type(e).__name__}: "
                              f"{_first_line(e)}") from None
    if not isinstance(state, dict) or "params" not in state:
        raise CheckpointError(f"checkpoint {step_dir} holds no model parameters")
    if tables is not None:
        tables = {k: np.asarray(v) for k, v in tables.items()}
    return Checkpoint(params=state.get("ema_params", state["params"]), tables=tables,
                      config=ml_collections.ConfigDict(config), step=step, directory=step_dir)


def _first_line(e: Exception) -> str:
    """An exception's message on one line, without tensorstore's source locations."""
    text = str(e).splitlines()[0] if str(e) else ""
    return re.sub(r"\s*\[source locations=.*$", "", text)


def save_tables(path: str, tables: dict) -> None:
    """Adds (or replaces) the coding tables of an existing checkpoint step."""
    directory, step = resolve(path)
    step_dir = os.path.join(directory, str(step))
    tmp = os.path.join(step_dir, ".tables-tmp")
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    with _ocp().StandardCheckpointer() as ckptr:
        ckptr.save(tmp, tables)
    final = os.path.join(step_dir, "tables")
    if os.path.exists(final):
        shutil.rmtree(final)
    os.replace(tmp, final)


def verify_params(model, params, tables, where: str) -> None:
    """Refuses weights (and coding tables) that do not fit ``model``, naming the difference.

    The expected parameters come from ``model.init`` traced abstractly (no computation), so
    a config whose sizes or entropy model differ from the weights' is caught here with a
    :class:`CheckpointError`, not later inside Flax.
    """
    def init():
        key = jax.random.PRNGKey(0)
        return model.init({"params": key, "noise": key}, jnp.zeros((1, 128, 128, 3)),
                          train=True, quality=model_lib.default_quality(model, batch=1))["params"]

    def flat(tree):
        return {"/".join(str(getattr(k, "key", k)) for k in path): tuple(np.shape(leaf))
                for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}

    try:
        want = flat(jax.eval_shape(init))
    except Exception:  # a model that cannot be traced this way: leave the check to Flax
        return
    got = flat(params)
    missing = sorted(set(want) - set(got))
    unexpected = sorted(set(got) - set(want))
    shapes = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    problems = []
    if shapes:
        k = shapes[0]
        problems.append(f"{len(shapes)} parameters differ in shape (first: {k} is {got[k]} in "
                        f"the checkpoint, {want[k]} in the model)")
    if missing:
        problems.append(f"{len(missing)} parameters of the model are missing (first: "
                        f"{missing[0]})")
    if unexpected and problems:  # extra weights alone (e.g. an unused decoder) are harmless
        problems.append(f"{len(unexpected)} parameters are not in the model (first: "
                        f"{unexpected[0]})")
    if problems:
        raise CheckpointError(
            f"checkpoint {where} does not match its config's model (entropy={model.entropy}, "
            f"N={model.N}, M={model.M}, z channels={model.z_channels}, "
            f"res_blocks={model.res_blocks}): "
            f"{'; '.join(problems)}; the weights were saved with another config or another "
            f"version of the model code")
    if tables is not None and len(tables["z_offset"]) != model.z_channels:
        raise CheckpointError(
            f"checkpoint {where}: the coding tables are for {len(tables['z_offset'])} channels "
            f"of z, the model has {model.z_channels}; rebuild them with `laplace-codec build-tables "
            f"--ckpt DIR`")
