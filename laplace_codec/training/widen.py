"""Widening a trained model's transforms without changing what it computes (Net2Net's
function-preserving widening, Chen et al. 2016, in its zero-output form): ``g_a`` and ``g_s``
go from N to N' > N channels, while ``h_a``, ``h_s``, z (``model.N_hyper`` = the old N), y
and the entropy model keep their weights.

In every layer of the two transforms the N' - N new channels get the freshly initialised
model's weights for their inputs (kernel columns, bias, GDN's ``beta`` and own ``gamma``
entries), and every weight from a new channel into an old one is zero: convolution kernel
rows and GDN ``gamma`` entries (where the GDN of an old channel would divide by a new
one). So the old channels, and hence y, z, the rates and the decoded image, are the narrow
model's at the start, and training decides what the new channels are for: the gradient
reaches the zero weights at once, through the new channels' non-zero values.

Sub-pixel convolutions (``layers.Up``) hold their output as 4 blocks of N channels (the
depth-to-space order), each widened alike.

Used as ``train.init_from`` with ``train.widen = True`` (``loop.warm_start``): the run starts
from a narrower checkpoint or bundled model, with fresh Adam moments as any warm start
(``configs/sweeps/widen.py``).
"""

from __future__ import annotations

import jax
import numpy as np

from laplace_codec.errors import InputError

TRANSFORMS = ("g_a", "g_s")


def _width(params) -> int:
    return int(np.shape(params["g_a"]["Down_0"]["Conv_0"]["kernel"])[-1])


def _old_positions(size: int, new_size: int, n: int, new_n: int) -> np.ndarray:
    """Where the ``size`` entries of an axis go among ``new_size``: unchanged, or blocks of
    ``n`` channels that became blocks of ``new_n``."""
    if size == new_size:
        return np.arange(size)
    blocks = size // n
    if size % n or new_size != blocks * new_n:
        raise InputError(f"cannot widen an axis of {size} entries to {new_size}: neither "
                         f"equal nor blocks of {n} channels becoming blocks of {new_n}")
    return (np.arange(blocks)[:, None] * new_n + np.arange(n)[None, :]).ravel()


def _widen_leaf(name: str, old: np.ndarray, fresh: np.ndarray, n: int, new_n: int):
    out = fresh.copy()
    if name == "kernel":  # (kh, kw, in, out)
        rows = _old_positions(old.shape[2], out.shape[2], n, new_n)
        cols = _old_positions(old.shape[3], out.shape[3], n, new_n)
        new_rows = np.setdiff1d(np.arange(out.shape[2]), rows)
        out[:, :, new_rows[:, None], cols[None, :]] = 0.0
        out[:, :, rows[:, None], cols[None, :]] = old
    elif name == "gamma":  # GDN's (in, out): norm_i = sum_j x_j^2 gamma_ji^2
        keep = _old_positions(old.shape[0], out.shape[0], n, new_n)
        added = np.setdiff1d(np.arange(out.shape[0]), keep)
        out[added[:, None], keep[None, :]] = 0.0
        out[keep[:, None], keep[None, :]] = old
    elif old.ndim == 1:  # bias, beta
        out[_old_positions(old.shape[0], out.shape[0], n, new_n)] = old
    else:
        raise InputError(f"cannot widen parameter {name!r} of shape {old.shape}")
    return out


def widen(source, fresh):
    """``source``'s parameters with ``g_a`` and ``g_s`` widened to the shapes of ``fresh``
    (a freshly initialised wider model's parameters, whose values the new channels take);
    every other module is ``source``'s unchanged. Raises InputError unless ``fresh`` is
    ``source``'s model with more transform channels and the same hyperprior width."""
    n, new_n = _width(source), _width(fresh)
    if new_n <= n:
        raise InputError(f"train.widen: the model's transforms have {new_n} channels, not more "
                         f"than the {n} of train.init_from; set model.N above {n} (and "
                         f"model.N_hyper = {n}), or drop train.widen")
    hyper = int(np.shape(fresh["h_a"]["Conv_0"]["kernel"])[-1])
    if hyper != int(np.shape(source["h_a"]["Conv_0"]["kernel"])[-1]):
        raise InputError(f"train.widen keeps h_a, h_s and z as they are: set model.N_hyper to "
                         f"the source's {int(np.shape(source['h_a']['Conv_0']['kernel'])[-1])} "
                         f"(the model has {hyper})")
    out = dict(source)
    for module in TRANSFORMS:
        flat_old = {jax.tree_util.keystr(k): v for k, v in
                    jax.tree_util.tree_flatten_with_path(source[module])[0]}

        def take(key_path, leaf):
            key = jax.tree_util.keystr(key_path)
            if key not in flat_old:
                raise InputError(f"train.widen: {module}{key} is not in train.init_from; the "
                                 f"two models differ in more than the transforms' width")
            old = np.asarray(flat_old[key], np.float32)
            return _widen_leaf(key_path[-1].key, old, np.asarray(leaf, np.float32), n, new_n)

        out[module] = jax.tree_util.tree_map_with_path(take, fresh[module])
    return out
