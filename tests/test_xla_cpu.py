"""The XLA:CPU vector-width setting (xla_cpu.py): on AVX2-only CPUs, added once, never over
a user's own."""

import os
import subprocess
import sys

import pytest

from laplace_codec import xla_cpu


def test_the_flag_is_added_to_empty_and_to_other_flags_once():
    env = {}
    assert xla_cpu.prefer_narrow_vectors(env, needed=True) == \
        "--xla_cpu_prefer_vector_width=128"
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    xla_cpu.prefer_narrow_vectors(env, needed=True)
    xla_cpu.prefer_narrow_vectors(env, needed=True)
    assert env["XLA_FLAGS"] == ("--xla_force_host_platform_device_count=8 "
                                "--xla_cpu_prefer_vector_width=128")


def test_a_users_own_width_wins_and_avx512_machines_keep_xlas_default():
    env = {"XLA_FLAGS": "--xla_cpu_prefer_vector_width=256"}
    assert xla_cpu.prefer_narrow_vectors(env, needed=True) == \
        "--xla_cpu_prefer_vector_width=256"
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    assert xla_cpu.prefer_narrow_vectors(env, needed=False) == \
        "--xla_force_host_platform_device_count=8"
    empty = {}
    xla_cpu.prefer_narrow_vectors(empty, needed=False)
    assert empty == {}


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx avx2 fma bmi2", True),
    ("fpu sse2 avx avx2 fma avx512f avx512bw", False),
    ("fpu sse2 avx", False),
])
def test_the_cpu_is_read_from_its_flags(flags, expected, tmp_path, monkeypatch):
    monkeypatch.setattr(xla_cpu.platform, "machine", lambda: "x86_64")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: X\nflags\t\t: {flags}\n\n")
    assert xla_cpu.needs_narrow_vectors(str(cpuinfo)) is expected
    monkeypatch.setattr(xla_cpu.platform, "machine", lambda: "aarch64")
    assert xla_cpu.needs_narrow_vectors(str(cpuinfo)) is False


def test_importing_the_package_sets_it_before_jax_starts_its_backend():
    code = ("import os, laplace_codec, jax; jax.numpy.zeros(1).block_until_ready(); "
            "print(repr(os.environ.get('XLA_FLAGS', '')))")
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = "--xla_cpu_prefer_vector_width=128" if xla_cpu.needs_narrow_vectors() else ""
    assert done.stdout.split("\n")[-2] == repr(expected)
