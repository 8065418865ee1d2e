"""glibc ``malloc`` settings that keep XLA:CPU's buffers in the process between calls.

Every call of a compiled step allocates its output and temporary buffers (tens to hundreds
of MB) and frees them at the end. With glibc's defaults, each such buffer is a fresh ``mmap``
(or a heap of a thread's own arena, trimmed again when freed), so every page of it
page-faults and is zeroed by the kernel on every call: the CPU-size hyperprior training step
took 45000 minor page faults per step here (180 MB). Serving every allocation from one heap
(``M_ARENA_MAX`` 1) that is neither mapped per buffer (``M_MMAP_MAX`` 0) nor trimmed
(``M_TRIM_THRESHOLD`` 2 GiB) reuses the same pages instead; all three are needed (the one
heap alone, or with no trimming, or no mapping with no trimming, left the faults as they
were). Measured in ``benchmarks/allocator.py`` and docs/RESULTS.md, "Page faults of every
step".

The cost: memory freed by the process is kept for reuse rather than returned to the system
(the resident size stays near its peak). ``LAPLACE_CODEC_SYSTEM_MALLOC=1`` in the
environment keeps glibc's defaults, as does a ``glibc.malloc`` setting of the user's own in
``GLIBC_TUNABLES``. Elsewhere than glibc (macOS, musl) nothing changes.
"""

import ctypes
import os
import platform

OPT_OUT = "LAPLACE_CODEC_SYSTEM_MALLOC"

# mallopt(3) parameters (glibc's malloc.h) and the values set.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1))


def is_glibc() -> bool:
    """True in a Linux process whose C library is glibc (the only one with these settings)."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_freed_memory(environ=os.environ, libc=None) -> bool:
    """Applies ``SETTINGS`` with ``mallopt`` unless the environment opts out (module
    docstring); returns whether all of them were applied. ``libc``: the C library to call
    (default: the process's own), a parameter for tests."""
    if environ.get(OPT_OUT, "") not in ("", "0"):
        return False
    if "glibc.malloc" in environ.get("GLIBC_TUNABLES", ""):
        return False
    if libc is None:
        if not is_glibc():
            return False
        libc = ctypes.CDLL(None)
    # mallopt returns 1 on success, 0 on a value it refuses; a list, so that a refusal does not
    # skip the settings after it.
    return all([libc.mallopt(param, value) == 1 for param, value in SETTINGS])
