"""The malloc settings (allocator.py): applied on import unless the user opts out, and they
stop a compiled function's repeated calls from page-faulting their buffers afresh."""

import os
import subprocess
import sys

import pytest

from laplace_codec import allocator


class FakeLibc:
    def __init__(self, refuse=()):
        self.calls, self.refuse = [], refuse

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 0 if param in self.refuse else 1


def test_all_three_settings_are_applied():
    libc = FakeLibc()
    assert allocator.keep_freed_memory({}, libc) is True
    assert libc.calls == [(-8, 1), (-4, 0), (-1, 2**31 - 1)]


def test_a_refused_setting_is_reported_and_the_others_still_applied():
    libc = FakeLibc(refuse=(allocator.M_MMAP_MAX,))
    assert allocator.keep_freed_memory({}, libc) is False
    assert len(libc.calls) == 3


@pytest.mark.parametrize("environ", [
    {"LAPLACE_CODEC_SYSTEM_MALLOC": "1"},
    {"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"},
])
def test_the_user_can_keep_glibcs_defaults(environ):
    libc = FakeLibc()
    assert allocator.keep_freed_memory(environ, libc) is False
    assert libc.calls == []


FAULTS = """
import os, resource
# One core, so one XLA thread: with two, a few thousand faults per call remain at random
# (docs/RESULTS.md, "Page faults of every step"), and the trainings run one per core.
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import laplace_codec
import jax, jax.numpy as jnp
# Two 16 MB temporaries per call (4096 pages each), a scalar out.
f = jax.jit(lambda x: jnp.sum(jnp.tanh(x @ x) @ x))
x = jnp.full((2048, 2048), 0.001, jnp.float32)
jax.block_until_ready(f(x))
jax.block_until_ready(f(x))
faults = []
for _ in range(11):  # the median call: now and then one call faults afresh under load
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    jax.block_until_ready(f(x))
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sorted(faults)[5])
"""


@pytest.mark.skipif(not allocator.is_glibc(), reason="glibc's malloc settings only")
def test_repeated_calls_reuse_their_pages_instead_of_faulting_them_in_again():
    def faults_per_call(opt_out):
        env = dict(os.environ)
        env.pop(allocator.OPT_OUT, None)
        env.pop("GLIBC_TUNABLES", None)
        if opt_out:
            env[allocator.OPT_OUT] = "1"
        out = subprocess.run([sys.executable, "-c", FAULTS], env=env, capture_output=True,
                             text=True, check=True)
        return float(out.stdout.split()[-1])

    # glibc's defaults map the temporaries afresh at every call (8918 faults per call here,
    # 582 with the settings).
    defaults, settings = faults_per_call(opt_out=True), faults_per_call(opt_out=False)
    assert defaults > 4000
    assert settings < defaults / 4
