"""Writing files so that a crash never leaves a partial one: checkpoints, zoo models,
compressed files, decoded images, results and plots all go through :func:`atomic_write`."""

from __future__ import annotations

import os
import tempfile

from laplace_codec.errors import InputError


def atomic_write(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and a rename: never partial."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"cannot write {path}: No such file or directory {directory}")
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a directory")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions of a new file
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
