"""Executables kept on disk (coding/executables.py): a new process loads instead of tracing
and compiling, gets the same numbers, and never runs code compiled from other sources."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from laplace_codec.coding import executables


def _fn():
    return jax.jit(lambda p, k, x: {"y": jnp.tanh(x @ p["w"]) * k + p["b"]}, static_argnums=1)


@pytest.fixture
def params():
    rng = np.random.default_rng(0)
    return {"w": jnp.asarray(rng.normal(size=(5, 4)), jnp.float32), "b": jnp.arange(4.0)}


def _files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_a_new_instance_loads_the_executable_instead_of_compiling(tmp_path, params):
    x = jnp.ones((3, 5))
    first = executables.Persistent(_fn(), "f", "model A", str(tmp_path), (1,))
    expected = first(params, 2.0, x)["y"]
    assert len(_files(tmp_path)) == 1

    class NoCompile:  # a jitted function that fails if asked to trace or compile
        def lower(self, *args):
            raise AssertionError("compiled again although the executable was on disk")

    second = executables.Persistent(NoCompile(), "f", "model A", str(tmp_path), (1,))
    np.testing.assert_array_equal(second(params, 2.0, x)["y"], expected)
    np.testing.assert_array_equal(expected, _fn()(params, 2.0, x)["y"])


def test_each_signature_model_and_source_gets_its_own_executable(tmp_path, params,
                                                                 monkeypatch):
    f = executables.Persistent(_fn(), "f", "model A", str(tmp_path), (1,))
    f(params, 2.0, jnp.ones((3, 5)))
    f(params, 2.0, jnp.ones((3, 5)))  # the same signature: no new file
    assert len(_files(tmp_path)) == 1
    f(params, 3.0, jnp.ones((3, 5)))  # another static argument
    f(params, 2.0, jnp.ones((2, 5)))  # another shape
    f(params, 2.0, jnp.ones((3, 5), jnp.int32))  # another dtype
    executables.Persistent(_fn(), "f", "model B", str(tmp_path), (1,))(
        params, 2.0, jnp.ones((3, 5)))  # another model definition
    assert len(_files(tmp_path)) == 5
    # Edited source code (or another JAX) must not reuse an executable.
    monkeypatch.setattr(executables, "_environment_digest", lambda: "other sources")
    executables.Persistent(_fn(), "f", "model A", str(tmp_path), (1,))(
        params, 2.0, jnp.ones((3, 5)))
    assert len(_files(tmp_path)) == 6


def test_a_damaged_file_is_compiled_again(tmp_path, params):
    x = jnp.ones((3, 5))
    expected = executables.Persistent(_fn(), "f", "m", str(tmp_path), (1,))(params, 2.0, x)
    (name,) = _files(tmp_path)
    with open(tmp_path / name, "wb") as f:
        f.write(b"not an executable")
    again = executables.Persistent(_fn(), "f", "m", str(tmp_path), (1,))(params, 2.0, x)
    np.testing.assert_array_equal(again["y"], expected["y"])
    assert (tmp_path / name).read_bytes() != b"not an executable"  # rewritten


def test_editing_model_or_coding_source_changes_the_digest(tmp_path, monkeypatch):
    for folder in ("models/entropy", "coding", "training"):
        os.makedirs(tmp_path / folder)
    (tmp_path / "models" / "entropy" / "laplacian.py").write_text("A = 1\n")
    (tmp_path / "coding" / "codec.py").write_text("B = 1\n")
    (tmp_path / "training" / "loop.py").write_text("C = 1\n")
    monkeypatch.setattr(executables, "_PACKAGE", str(tmp_path))

    def digest():
        executables._environment_digest.cache_clear()
        return executables._environment_digest()

    try:
        base = digest()
        (tmp_path / "training" / "loop.py").write_text("C = 2\n")  # never traced by coding
        assert digest() == base
        (tmp_path / "models" / "entropy" / "laplacian.py").write_text("A = 2\n")
        edited_model = digest()
        assert edited_model != base
        (tmp_path / "coding" / "codec.py").write_text("B = 2\n")
        assert digest() not in (base, edited_model)
    finally:
        executables._environment_digest.cache_clear()


_PROCESS = """
import sys
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_compilation_cache_dir", sys.argv[2])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
from laplace_codec.coding import executables
f = jax.jit(lambda p, x: jnp.where(x > 0, x * p["a"], jnp.tanh(x) * p["b"]).sum(axis=0))
p = {"a": jnp.float32(2.0), "b": jnp.ones(16)}
x = jnp.asarray(np.random.default_rng(0).normal(size=(64, 16)), jnp.float32)
jax.jit(lambda v: jnp.sin(v) * 3)(x).block_until_ready()  # JAX decides to use its cache
g = f if sys.argv[1] == "jit" else executables.Persistent(f, "f", "m", sys.argv[3])
print(np.asarray(g(p, x)).tolist())
"""


def test_an_executable_first_compiled_through_jax_s_cache_runs_in_a_new_process(tmp_path):
    # Process 1 fills JAX's persistent cache; process 2 compiles for the executable cache
    # (where JAX would hand back its cached copy, which serializes without its object
    # code), after other work has made JAX decide to use its cache, as in the command
    # line; process 3 loads that file and must run it.
    jax_cache, folder = str(tmp_path / "jax"), str(tmp_path / "executables")
    outputs = []
    for mode in ("jit", "persistent", "persistent"):
        run = subprocess.run([sys.executable, "-c", _PROCESS, mode, jax_cache, folder],
                             capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        outputs.append(run.stdout)
    assert len(_files(folder)) == 1
    assert outputs[0] == outputs[1] == outputs[2]


def test_an_executable_whose_copy_differs_or_fails_is_not_written(tmp_path, params,
                                                                  monkeypatch):
    # What the cache writes is checked first: its serialized copy, loaded back, must
    # compute the same bits from the same arguments (a copy without its object code fails).
    x = jnp.ones((3, 5))
    expected = _fn()(params, 2.0, x)["y"]

    def broken_copy(*args):
        return lambda *a: {"y": jnp.zeros(4)}

    def failing_copy(*args):
        def run(*a):
            raise RuntimeError("Function multiply_select_fusion not found")
        return run

    for copy in (broken_copy, failing_copy):
        monkeypatch.setattr(executables.serialize_executable, "deserialize_and_load", copy)
        out = executables.Persistent(_fn(), "f", "m", str(tmp_path), (1,))(params, 2.0, x)
        np.testing.assert_array_equal(out["y"], expected)
        assert _files(tmp_path) == []
