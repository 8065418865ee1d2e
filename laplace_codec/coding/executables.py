"""Compiled coding functions kept on disk, so that a new process neither traces nor compiles.

JAX's persistent compilation cache (``codec.enable_compilation_cache``) skips XLA's
compilation in a second process, but not the tracing and lowering before it: for the
Laplacian model's dozen coding steps that was about 1.6 s of a 5.5 s ``laplace-codec
compress`` (``benchmarks/cli_latency.py``). ``Persistent`` wraps a jitted function: the
first call with a given signature (the model, the static arguments, and the shape, dtype
and tree of the others) compiles as usual and writes the executable to disk
(``jax.experimental.serialize_executable``); a later process loads it in milliseconds.

An executable must never outlive the code it was compiled from: the key holds the JAX and
jaxlib versions, the CPU's features, the model's full definition (its ``repr``) and a digest
of the source of every module that can be traced (``laplace_codec/models`` and this
package's ``coding`` layer), so that editing any of them, or upgrading JAX, misses the
cache instead of running stale code. A file that cannot be read or loaded is ignored and
compiled again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle

import jax
import jaxlib
import numpy as np
from jax.experimental import serialize_executable
from jax.experimental.compilation_cache import compilation_cache

from laplace_codec.atomic import atomic_write

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=1)
def _environment_digest() -> str:
    """JAX, jaxlib, the device and the CPU's features, and the traced source code."""
    h = hashlib.sha256()
    h.update(f"{jax.__version__} {jaxlib.__version__} {jax.devices()[0].device_kind}".encode())
    try:
        with open("/proc/cpuinfo", "rb") as f:
            flags = [line for line in f if line.startswith(b"flags")]
        h.update(flags[0] if flags else b"")
    except OSError:
        pass
    for folder in ("models", "coding"):
        for root, dirs, files in sorted(os.walk(os.path.join(_PACKAGE, folder))):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    h.update(name.encode())
                    with open(os.path.join(root, name), "rb") as f:
                        h.update(f.read())
    return h.hexdigest()


def _aval_key(leaf) -> tuple:
    aval = jax.api_util.shaped_abstractify(leaf)
    return aval.shape, str(aval.dtype), bool(getattr(aval, "weak_type", False))


class Persistent:
    """``jitted(*args)`` with its executables also kept in ``folder`` (module docstring).

    ``static_argnums`` must be those of ``jitted``; the model's ``repr`` identifies it."""

    def __init__(self, jitted, name: str, model_repr: str, folder: str,
                 static_argnums: tuple[int, ...] = ()):
        self.jitted, self.name, self.folder = jitted, name, folder
        self.static_argnums = frozenset(static_argnums)
        self.model_digest = hashlib.sha256(model_repr.encode()).hexdigest()
        self.loaded: dict = {}

    def _path(self, static, dynamic) -> str:
        leaves, tree = jax.tree_util.tree_flatten(dynamic)
        key = repr((self.name, self.model_digest, _environment_digest(), static, str(tree),
                    [_aval_key(leaf) for leaf in leaves]))
        return os.path.join(self.folder, hashlib.sha256(key.encode()).hexdigest() + ".exe")

    def __call__(self, *args):
        if jax.config.jax_disable_jit:  # op by op, as the caller asked
            return self.jitted(*args)
        static = tuple(a for i, a in enumerate(args) if i in self.static_argnums)
        dynamic = [a for i, a in enumerate(args) if i not in self.static_argnums]
        path = self._path(static, dynamic)
        executable = self.loaded.get(path) or self._load(path)
        if executable is not None:
            self.loaded[path] = executable
            return executable(*dynamic)
        executable = self._compile(args)
        self.loaded[path] = executable
        out = executable(*dynamic)
        self._save(path, executable, dynamic, out)
        return out

    def _compile(self, args):
        # Compiled afresh, around JAX's own persistent cache: an executable that JAX loaded
        # from that cache serializes without its object code (XLA:CPU, jaxlib 0.5.3), and
        # the copy then fails when run ("Function multiply_select_fusion not found"). JAX
        # decides once per process whether it uses its cache; reset_cache makes it decide
        # again, before and after.
        enabled = jax.config.jax_enable_compilation_cache
        jax.config.update("jax_enable_compilation_cache", False)
        compilation_cache.reset_cache()
        try:
            return self.jitted.lower(*args).compile()
        finally:
            jax.config.update("jax_enable_compilation_cache", enabled)
            compilation_cache.reset_cache()

    @staticmethod
    def _load(path: str):
        try:
            with open(path, "rb") as f:
                payload, in_tree, out_tree = pickle.load(f)
            return serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
        except Exception:  # noqa: BLE001 - a missing, partial or foreign file: compile again
            return None

    @staticmethod
    def _save(path: str, executable, dynamic, out) -> None:
        """Writes the executable if its serialized copy, loaded back, computes ``out``
        bit for bit from the same arguments: a file that would fail or differ is never
        written."""
        try:
            payload, in_tree, out_tree = serialize_executable.serialize(executable)
            copy = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
            again = jax.device_get(copy(*dynamic))
            expected = jax.device_get(out)
            if jax.tree_util.tree_structure(again) != jax.tree_util.tree_structure(expected):
                return
            for a, b in zip(jax.tree_util.tree_leaves(again), jax.tree_util.tree_leaves(expected)):
                a, b = np.asarray(a), np.asarray(b)
                if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                    return
            data = pickle.dumps((payload, in_tree, out_tree))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, data)
        except Exception:  # noqa: BLE001 - a cache that cannot be written only costs time
            return
