"""New rate levels for a variable-rate checkpoint: a wider range of lambdas without starting
over (issue 21: the high-rate end of the curve).

A variable-rate model holds one gain and one inverse-gain vector per level (``gain.py``).
``extend_levels`` gives a checkpoint the levels ``lmbdas``, which must hold every level it
has, in order; each new level's vectors, in the weights and the EMA, continue the old
levels' log-gains linearly in ``log lmbda`` (between two old levels, the interpolation the
model already applies to qualities; outside them, the line through the two nearest levels),
so that at every old level the model is the same function as before and a new level starts
where the old trend points. Adam's moments of a new row start as those of the nearest old
level (mu and nu alike: the row then moves at the pace its neighbour did).

``python -m laplace_codec.training.rate_levels --ckpt STEP_DIR --lmbdas 0.08,...,0.00125
--out WORKDIR`` writes the edited state as the same step of a new workdir, which ``train.py
--workdir=WORKDIR`` resumes with a config whose ``model.rate_lmbdas`` are the new levels
(configs/sweeps/rate_range.py).
"""

from __future__ import annotations

import argparse
import math

import jax
import numpy as np

from laplace_codec.errors import InputError
from laplace_codec.models import gain
from laplace_codec.models import model as model_lib
from laplace_codec.training import checkpoint, loop, optimizer

GAIN_TABLES = (("y_gain", "log_gain"), ("y_gain", "log_inverse"),
               ("z_gain", "log_gain"), ("z_gain", "log_inverse"))


def level_map(old, new) -> list[tuple[int, int, float]]:
    """For each new level, ``(i, j, w)``: its row is ``(1 - w) * old[i] + w * old[j]`` of the
    old levels' log-gain rows, linear in ``log lmbda`` (``w`` outside [0, 1] extrapolates).
    Refused unless ``new`` holds every old lambda, in order."""
    old, new = gain.check_lmbdas(old), gain.check_lmbdas(new)
    missing = [v for v in old if v not in new]
    if missing:
        raise InputError(f"the new rate levels {list(new)} must keep every old level "
                         f"{list(old)}; missing {missing}")
    logs = [math.log(v) for v in old]
    out = []
    for v in new:
        lv = math.log(v)
        if v in old:
            i = old.index(v)
            out.append((i, i, 0.0))
            continue
        # The segment of old levels around lv, or the nearest one at either end (old is
        # falling in lambda, so its logs fall too).
        i = max(0, min(len(old) - 2, sum(1 for l in logs if l > lv) - 1))
        out.append((i, i + 1, (lv - logs[i]) / (logs[i + 1] - logs[i])))
    return out


def nearest_level(old, v: float) -> int:
    return min(range(len(old)), key=lambda i: abs(math.log(old[i]) - math.log(v)))


def extend_state(state: dict, old, new) -> dict:
    """The training state with the gain tables' rows for levels ``new`` (see the module's
    docstring); every other array unchanged."""
    rows = level_map(old, new)
    near = [nearest_level(old, v) for v in gain.check_lmbdas(new)]
    mu, nu = optimizer.moments(state["opt_state"])
    trees = {"params": dict(state["params"]), "mu": dict(mu), "nu": dict(nu)}
    if state.get("ema_params") is not None:
        trees["ema_params"] = dict(state["ema_params"])
    for module, name in GAIN_TABLES:
        for key, tree in trees.items():
            table = np.asarray(tree[module][name])
            if table.shape[0] != len(old):
                raise InputError(f"{module}/{name} has {table.shape[0]} rows for "
                                 f"{len(old)} levels: not this model's gain table")
            if key in ("params", "ema_params"):
                extended = np.stack([(1 - w) * table[i] + w * table[j] for i, j, w in rows])
            else:
                extended = table[near]
            tree[module] = {**tree[module], name: extended.astype(table.dtype)}
    out = dict(state, params=trees["params"],
               opt_state=optimizer.with_moments(state["opt_state"], trees["mu"], trees["nu"]))
    if "ema_params" in trees:
        out["ema_params"] = trees["ema_params"]
    return out


def extend_checkpoint(ckpt: str, lmbdas, out: str) -> str:
    """Writes checkpoint ``ckpt`` with rate levels ``lmbdas`` as the same step of the workdir
    ``out``; returns the step folder."""
    config, _, state = loop.restore_training_state(ckpt)
    old = tuple(config.model.get("rate_lmbdas", ()))
    if len(old) < 2:
        raise InputError(f"{ckpt} is a fixed-rate model: rate levels can only be added to a "
                         f"variable-rate one (model.rate_lmbdas)")
    new = gain.check_lmbdas(lmbdas)
    state = jax.tree_util.tree_map(np.asarray, state)
    state = extend_state(state, old, new)
    config = config.copy_and_resolve_references()
    config.model.rate_lmbdas = new
    model = model_lib.from_config(config.model)
    _, step = checkpoint.resolve(ckpt)
    return loop.write_training_state(out, step, config, model, state)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="a checkpoint step folder or workdir")
    parser.add_argument("--lmbdas", required=True,
                        help="comma-separated lambdas of the new levels, largest first, "
                             "holding every old one")
    parser.add_argument("--out", required=True, help="the new workdir")
    args = parser.parse_args(argv)
    try:
        lmbdas = [float(v) for v in args.lmbdas.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--lmbdas takes comma-separated numbers, got {args.lmbdas!r}")
    print(extend_checkpoint(args.ckpt, lmbdas, args.out))


if __name__ == "__main__":
    main()
