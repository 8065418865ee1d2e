"""Reviving dead latent channels of a checkpoint: channels of y that the analysis transform
sends to zero at every rate, so that they carry no bits and the synthesis ignores them
(``benchmarks/latent_channels.py`` lists them; about 30 of 128 in the CPU models).

A revived channel ``c`` gets, in the weights, the EMA and the Adam moments:

- a fresh ``g_a`` output filter (Gaussian, ``scale`` times the median standard deviation of
  the live channels' filters; bias 0), so that y_c is no longer zero;
- the median gain and inverse gain of the live channels at every rate level;
- zero weights wherever y_hat_c enters the synthesis ``g_s``, the hyper analysis ``h_a`` and
  the entropy model's contexts (channel, local and attention), so that the decoded image, z
  and every other channel's y_hat and likelihood are unchanged at the start, and the
  gradient (through y_c, now non-zero) decides whether to use it;
- an entropy model output for it that ignores its inputs: mean 0, scale ``sigma`` (the
  parameter network's last layer), so that its first bits are neither free nor ruinous;
- zero first moments, and second moments at the median of the live entries of the same array
  (zero would make Adam's first steps on them about three times the usual size).

The model's function at the start differs from the checkpoint's only in the rate of the
revived channels. ``python -m laplace_codec.training.revive --ckpt STEP_DIR --channels
8,10,... --out WORKDIR`` writes the edited state as the same step of a new workdir, which
``train.py --workdir=WORKDIR`` resumes (configs/sweeps/revive.py).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec.errors import InputError
from laplace_codec.models.entropy import gaussian_conditional as gc
from laplace_codec.training import checkpoint, loop, optimizer


def _last_analysis_layer(params) -> str:
    downs = sorted((k for k in params["g_a"] if k.startswith("Down_")),
                   key=lambda k: int(k.split("_")[1]))
    return downs[-1]


def _param_net_outputs(y_model: dict, chunks, channel: int):
    """(ParamNet name, index of mu, index of the raw scale) of ``channel`` in each network
    that predicts it (anchor and non-anchor)."""
    for j, (start, stop) in enumerate(chunks):
        if start <= channel < stop:
            i, size = channel - start, stop - start
            return [(name, i, size + i) for name in (f"anchor_net_{j}", f"nonanchor_net_{j}")
                    if name in y_model]
    raise InputError(f"channel {channel} is in no chunk of y")


def edits(params, channels, chunks, rng, scale: float = 0.5, sigma: float = 1.0):
    """{path: (index, new values)} of every weight array that reviving ``channels`` changes;
    ``path`` is a tuple of keys into the parameter tree, ``index`` a numpy index."""
    params = jax.tree_util.tree_map(np.asarray, params)
    channels = np.asarray(sorted(set(channels)), np.int64)
    m = params["g_a"][_last_analysis_layer(params)]["Conv_0"]["kernel"].shape[-1]
    if channels.size == 0 or channels.min() < 0 or channels.max() >= m:
        raise InputError(f"channels must be distinct indices of y's {m} channels, got "
                         f"{channels.tolist()}")
    live = np.setdiff1d(np.arange(m), channels)
    out = {}
    layer = ("g_a", _last_analysis_layer(params), "Conv_0")
    kernel = params["g_a"][layer[1]]["Conv_0"]["kernel"]
    std = np.median(kernel[..., live].reshape(-1, live.size).std(axis=0))
    fresh = np.asarray(jax.random.normal(rng, kernel.shape[:-1] + (channels.size,)))
    out[layer + ("kernel",)] = ((..., channels), scale * std * fresh)
    out[layer + ("bias",)] = ((channels,), np.zeros(channels.size))
    for unit in ("y_gain",) if "y_gain" in params else ():  # a variable-rate model
        for name in ("log_gain", "log_inverse"):
            table = params[unit][name]
            median = np.median(table[:, live], axis=1, keepdims=True)
            out[(unit, name)] = ((slice(None), channels),
                                 np.broadcast_to(median, (table.shape[0], channels.size)))
    g_s_in = ("g_s", "Up_0", "Conv_0", "kernel")
    out[g_s_in] = ((slice(None), slice(None), channels), 0.0)
    h_a_in = ("h_a", "Conv_0", "kernel")
    out[h_a_in] = ((slice(None), slice(None), channels), 0.0)
    # y_hat_c as context of the entropy model: the channel context of every later chunk, the
    # local context and the attention's embedding of its own chunk.
    y_model = params["y_model"]
    for c in channels.tolist():
        j, (start, stop) = next((j, s) for j, s in enumerate(chunks) if s[0] <= c < s[1])
        for later in range(j + 1, len(chunks)):
            out[("y_model", f"channel_ctx_{later - 1}", "kernel_1", c)] = (
                (slice(None), slice(None), c), 0.0)
        if f"local_ctx_{j}" in y_model:
            out[("y_model", f"local_ctx_{j}", "kernel", c)] = (
                (slice(None), slice(None), c - start), 0.0)
        if f"global_ctx_{j}" in y_model:
            rows = y_model[f"global_ctx_{j}"]["embed"]["kernel"].shape[0]
            out[("y_model", f"global_ctx_{j}", "embed", "kernel", c)] = (
                (rows - (stop - start) + c - start,), 0.0)
    raw = float(np.log(np.expm1(sigma - gc.SCALE_MIN)))  # sigma_from_raw's inverse
    for c in channels.tolist():
        for name, i_mu, i_raw in _param_net_outputs(params["y_model"], chunks, c):
            for idx, bias in ((i_mu, 0.0), (i_raw, raw)):
                out[("y_model", name, "Conv_2", "kernel", c, idx)] = ((..., idx), 0.0)
                out[("y_model", name, "Conv_2", "bias", c, idx)] = ((idx,), bias)
    return out


def _array_path(path):
    """The parameter path of an ``edits`` key (keys may carry a channel tag at the end)."""
    return tuple(k for k in path if isinstance(k, str))


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _set(tree, path, value):
    """A copy of the nested dict ``tree`` with the leaf at ``path`` replaced."""
    if not path:
        return value
    return {**tree, path[0]: _set(tree[path[0]], path[1:], value)}


def _edited(tree, path, index, values):
    """A copy of ``tree`` whose array at ``path`` has ``values`` at ``index``."""
    array = np.array(_get(tree, path))
    array[index] = values
    return _set(tree, path, jnp.asarray(array))


def revive_state(state: dict, edit: dict) -> dict:
    """The training state with ``edits`` applied to params and EMA, and the Adam moments of
    the edited entries reset (mu to 0, nu to the median of the array's other entries)."""
    params, ema = state["params"], state.get("ema_params")
    mu, nu = optimizer.moments(state["opt_state"])
    for path, (index, values) in edit.items():
        p = _array_path(path)
        params = _edited(params, p, index, values)
        if ema is not None:
            ema = _edited(ema, p, index, values)
        mu = _edited(mu, p, index, 0.0)
        v = np.asarray(_get(nu, p))
        mask = np.ones(v.shape, bool)
        mask[index] = False
        nu = _edited(nu, p, index, np.median(v[mask]) if mask.any() else 0.0)
    state = dict(state, params=params,
                 opt_state=optimizer.with_moments(state["opt_state"], mu, nu))
    if ema is not None:
        state["ema_params"] = ema
    return state


def revive_checkpoint(ckpt: str, channels, out: str, seed: int = 0, scale: float = 0.5,
                      sigma: float = 1.0) -> str:
    """Writes checkpoint ``ckpt`` with ``channels`` revived as the same step of the workdir
    ``out``; returns the step folder."""
    config, model, state = loop.restore_training_state(ckpt)
    if config.model.entropy != "laplacian":
        raise InputError(f"{ckpt} has the {config.model.entropy!r} entropy model; reviving "
                         f"channels is written for the Laplacian-guided one")
    _, step = checkpoint.resolve(ckpt)
    state = jax.tree_util.tree_map(np.asarray, state)
    state["params"] = jax.tree_util.tree_map(np.asarray, dict(state["params"]))
    chunks = model.bind({"params": state["params"]}).y_model.chunks()
    edit = edits(state["params"], channels, chunks, jax.random.PRNGKey(seed), scale, sigma)
    state = revive_state(state, edit)
    return loop.write_training_state(out, step, config, model, state)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="a checkpoint step folder or workdir")
    parser.add_argument("--channels", required=True,
                        help="comma-separated channel indices of y (benchmarks/latent_channels.py)")
    parser.add_argument("--out", required=True, help="the new workdir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--sigma", type=float, default=1.0)
    args = parser.parse_args(argv)
    channels = [int(c) for c in args.channels.split(",") if c.strip()]
    print(revive_checkpoint(args.ckpt, channels, args.out, args.seed, args.scale, args.sigma))


if __name__ == "__main__":
    main()
