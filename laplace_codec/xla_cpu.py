"""XLA:CPU code generation settings that every laplace_codec process needs.

On x86 CPUs without AVX-512 (AVX2 machines such as AMD EPYC Rome/Milan), LLVM's X86
instruction selection spends tens of minutes in ``combineLoad`` on some kernels of the
Laplacian entropy model's training step when XLA asks for 256-bit vectors (its default): the
test config's step did not finish compiling in 30 minutes, where an AVX-512 machine takes 45 s.
Preferring 128-bit vectors compiles it in about 100 s; the campaign's variable-rate step
compiles in 114 s instead of 181 s and runs in 0.79 of the time (the CPU Laplacian config's,
6% slower in one run). See
``benchmarks/xla_vector_width.py`` and docs/RESULTS.md, "Compiling on AVX2 machines".

XLA reads ``XLA_FLAGS`` once, when JAX first starts its CPU backend, so the package sets the
flag on import, on x86 CPUs without AVX-512 only (AVX-512 machines compile the same steps in
under a minute at XLA's default); a process that ran JAX computations before importing
laplace_codec keeps XLA's default. A user's own ``--xla_cpu_prefer_vector_width`` in
``XLA_FLAGS`` wins.
"""

import os
import platform

VECTOR_WIDTH_FLAG = "--xla_cpu_prefer_vector_width"
VECTOR_WIDTH_BITS = 128


def needs_narrow_vectors(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True on an x86 CPU whose flags (Linux's ``cpuinfo``) list AVX2 but not AVX-512F."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx2" in flags and "avx512f" not in flags


def prefer_narrow_vectors(environ=os.environ, needed: bool | None = None) -> str:
    """Adds ``--xla_cpu_prefer_vector_width=128`` to ``environ["XLA_FLAGS"]`` when this CPU
    ``needs_narrow_vectors`` (or ``needed``) and no width is there yet; returns the flags."""
    if needed is None:
        needed = needs_narrow_vectors()
    flags = environ.get("XLA_FLAGS", "")
    if needed and VECTOR_WIDTH_FLAG not in flags:
        flags = f"{flags} {VECTOR_WIDTH_FLAG}={VECTOR_WIDTH_BITS}".strip()
        environ["XLA_FLAGS"] = flags
    return flags
