"""Crash safety: interrupted runs leave no partial output, and damaged or mismatched
checkpoints are refused with a CheckpointError naming what is wrong."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import laplace_codec
from laplace_codec.atomic import atomic_write
from laplace_codec.training import checkpoint
from laplace_codec import images
from laplace_codec.errors import CheckpointError
from tests.conftest import run_cli

# The real CLI, with one line on stderr when encoding starts, and encoding held there for up
# to a minute, so that the test's Ctrl-C always lands inside compress, however fast the
# machine.
# A test runner started in the background inherits SIGINT as ignored, and Python then never
# raises KeyboardInterrupt; a terminal's Ctrl-C reaches a process that has the default
# handler, so the wrapper restores it.
_CLI_WITH_MARK = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from laplace_codec import cli
    from laplace_codec.coding import codec
    encode = codec.Codec.encode
    def marked(self, *args, **kwargs):
        print("ENCODING", file=sys.stderr, flush=True)
        time.sleep(60)
        return encode(self, *args, **kwargs)
    codec.Codec.encode = marked
    sys.exit(cli.main(sys.argv[1:]))
""")


def test_ctrl_c_during_compress_leaves_no_output(trained_workdir, photo, tmp_path):
    images.write_image(str(tmp_path / "big.png"), photo)
    out = tmp_path / "out" / "big.lgc"
    out.parent.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLI_WITH_MARK, "compress", "--ckpt", trained_workdir,
         str(tmp_path / "big.png"), str(out)], stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 300
    for line in proc.stderr:
        lines.append(line)
        if "ENCODING" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=300)[1]
    stderr = "".join(lines) + rest
    assert proc.returncode == 130, f"status {proc.returncode} (finished before Ctrl-C?)\n{stderr}"
    assert "interrupted; no output was written" in stderr and "Traceback" not in stderr
    assert os.listdir(out.parent) == []  # neither the file nor a temporary


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path,
                                                                         monkeypatch):
    path = tmp_path / "x.lgc"
    path.write_bytes(b"old complete file")

    def interrupted_fsync(fd):
        raise KeyboardInterrupt  # Ctrl-C after the bytes are written, before the rename

    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(str(path), b"new data " * 100000)
    assert path.read_bytes() == b"old complete file"
    assert os.listdir(tmp_path) == ["x.lgc"]


def _copy(trained_workdir, tmp_path):
    copy = tmp_path / "ckpt"
    shutil.copytree(trained_workdir, copy)
    directory, step = checkpoint.resolve(str(copy))
    return copy, os.path.join(directory, str(step))


def _truncate(path):
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


def _edit_config(step_dir, **model):
    path = os.path.join(step_dir, "config", "metadata")
    config = json.load(open(path))
    config["model"].update(model)
    json.dump(config, open(path, "w"))


DAMAGE = {
    "state metadata deleted": (lambda d: os.remove(os.path.join(d, "state", "_METADATA")),
                               ["'state' item", "damaged or incomplete"]),
    "state data truncated": (lambda d: [_truncate(p) for p in glob.glob(
        os.path.join(d, "state", "ocdbt.process_0", "d", "*"))], ["'state' item"]),
    "state folder deleted": (lambda d: shutil.rmtree(os.path.join(d, "state")),
                             ["incomplete", "no 'state' item"]),
    "tables metadata deleted": (lambda d: os.remove(os.path.join(d, "tables", "_METADATA")),
                                ["'tables' item"]),
    "config truncated": (lambda d: _truncate(os.path.join(d, "config", "metadata")),
                         ["'config' item"]),
    "config with another width": (lambda d: _edit_config(d, N=48),
                                  ["does not match its config's model", "N=48",
                                   "differ in shape"]),
    "config with residual blocks": (lambda d: _edit_config(d, res_blocks=2),
                                    ["does not match", "missing", "ResBlock"]),
    "config with another entropy model": (lambda d: _edit_config(d, entropy="laplacian"),
                                          ["does not match", "entropy=laplacian"]),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_or_mismatched_checkpoints_are_refused_naming_the_problem(
        trained_workdir, tmp_path, damage):
    mutate, words = DAMAGE[damage]
    copy, step_dir = _copy(trained_workdir, tmp_path)
    mutate(step_dir)
    with pytest.raises(CheckpointError) as e:
        laplace_codec.load(str(copy))
    message = str(e.value)
    assert "\n" not in message and step_dir in message
    for word in words:
        assert word in message, message


def test_cli_refuses_a_mismatched_checkpoint_in_one_line(trained_workdir, tmp_path):
    copy, step_dir = _copy(trained_workdir, tmp_path)
    _edit_config(step_dir, N=48)
    done = run_cli("compress", "--ckpt", copy, "sample:coffee", tmp_path / "x.lgc")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "does not match its config's model" in errors[0]
    assert not (tmp_path / "x.lgc").exists()


def test_an_unfinished_checkpoint_save_is_ignored(trained_workdir, codec, tmp_path):
    """Orbax saves a step into a temporary folder and renames it when complete; a crash
    mid-save leaves only that folder, which loading skips."""
    copy, step_dir = _copy(trained_workdir, tmp_path)
    partial = os.path.join(os.path.dirname(step_dir), "99999.orbax-checkpoint-tmp-1700000000")
    os.makedirs(os.path.join(partial, "state"))
    assert checkpoint.resolve(str(copy))[1] == int(os.path.basename(step_dir))
    assert laplace_codec.load(str(copy)).model_hash == codec.model_hash
