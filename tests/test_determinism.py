"""Determinism: the same image and model give the same bytes (repeated calls, jit or not,
one or two CPU threads, another process), and files decode to the same pixels elsewhere; a
decoder that goes out of sync stops with the symbol-CRC error.

What is guaranteed, and why: the encoder and the decoder feed bit-identical inputs to the
same compiled step functions (``codec.py``), and the coding tables are integers stored with
the checkpoint, so the range coder sees the same indexes on both sides. The bytes do not depend
on the number of threads (tested, bit for bit); the decoded pixels may, by float rounding in
the synthesis: bit for bit on the AVX-512 machines, one pixel in 73728 one level apart on an
AVX2 one (2026-12-06).

- Op-by-op execution (``jax.disable_jit``) is not the product path. It writes the same bytes
  here; for the Laplacian model its means differ from the compiled ones by about 1e-6, and
  for either model the synthesis differs by float rounding (XLA rewrites some arithmetic
  when it compiles), so decoded images may differ by one level (tested: one pixel in 24576
  for a test hyperprior).
- The codec has no batched encode path (``Codec.encode`` takes one image), so "batch 1
  versus batch 4" is checked where a batch could enter: g_a gives bit-identical y for an
  image alone or inside a batch of four; h_a's z may differ in its last bits (5e-7
  measured), not after rounding. A batched encoder would have to run h_a per image to keep
  the bytes identical.
- The symbol CRC covers the entropy-decoded integers, not the float reconstruction: a
  decoder whose means differ slightly but whose scales agree decodes the same symbols and
  returns an image that differs by the float error (the model hash in the header rules out
  a different model).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from laplace_codec.errors import FormatError

CODECS = ["codec", "laplacian_codec"]


def _image(photo):
    return np.ascontiguousarray(photo[100:228, 150:342])  # 128 x 192: 2 x 3 latent windows


@pytest.mark.parametrize("name", CODECS)
def test_repeated_compress_calls_give_identical_bytes(name, request, photo):
    codec = request.getfixturevalue(name)
    x = _image(photo)
    first = codec.compress(x)
    assert all(codec.compress(x) == first for _ in range(2))


@pytest.mark.parametrize("name", CODECS)
def test_jit_and_op_by_op_execution_write_the_same_bytes(name, request, photo):
    codec = request.getfixturevalue(name)
    x = np.ascontiguousarray(photo[:64, :128])
    jitted = codec.encode(x)
    with jax.disable_jit():
        eager = codec.encode(x)
        eager_image = codec.decompress(jitted.data)
    # Op by op, the Laplacian model's means differ from the compiled ones by float rounding
    # (about 1e-6 here): the symbols, hence the bytes, are the same, and a decoder run op by
    # op returns the image within one level of the compiled decoder's.
    assert eager.data == jitted.data
    np.testing.assert_allclose(eager.y_hat, jitted.y_hat, atol=1e-4)
    image = codec.decompress(jitted.data)
    assert np.abs(eager_image.astype(int) - image).max() <= 1
    if name == "codec":  # one step of the hyperprior: the same symbols, bit for bit
        np.testing.assert_array_equal(eager.y_hat, jitted.y_hat)


def test_analysis_of_a_batch_of_four_matches_batch_one(codec, photo):
    x = _image(photo)
    batch = np.stack([x, x[::-1], 255 - x, x[:, ::-1]]).astype(np.float32) / 127.5 - 1.0
    y1, z1 = codec._analyze(codec.params, batch[:1])
    y4, z4 = codec._analyze(codec.params, batch)
    np.testing.assert_array_equal(np.asarray(y1)[0], np.asarray(y4)[0])
    # h_a's float results may differ in the last bits with the batch size (measured: 5e-7);
    # z is rounded before coding, and the rounded values agree.
    np.testing.assert_allclose(np.asarray(z1)[0], np.asarray(z4)[0], atol=1e-5)
    np.testing.assert_array_equal(np.rint(z1)[0], np.rint(z4)[0])


_WORKER = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import laplace_codec
    args = json.loads(sys.argv[1])
    out = {"affinity": sorted(os.sched_getaffinity(0))}
    x = np.load(args["image"])
    for name, ckpt in args["ckpts"].items():
        codec = laplace_codec.load(ckpt)
        with open(args["files"][name], "rb") as f:
            theirs = f.read()
        np.save(args["decoded"][name], codec.decompress(theirs))
        out[name] = codec.compress(x) == theirs
    print(json.dumps(out))
""")


def test_a_single_thread_process_writes_the_same_bytes_and_decodes_within_rounding(
        trained_workdir, trained_laplacian_workdir, codec, laplacian_codec, photo, tmp_path):
    if shutil.which("taskset") is None:
        pytest.skip("taskset (util-linux) is not installed")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this machine has one CPU: nothing to compare with one thread")
    x = _image(photo)
    np.save(tmp_path / "x.npy", x)
    codecs = {"codec": (codec, trained_workdir),
              "laplacian_codec": (laplacian_codec, trained_laplacian_workdir)}
    args = dict(image=str(tmp_path / "x.npy"), ckpts={}, files={}, decoded={})
    for name, (c, ckpt) in codecs.items():
        (tmp_path / f"{name}.lgc").write_bytes(c.compress(x))  # here: two threads
        args["ckpts"][name] = ckpt
        args["files"][name] = str(tmp_path / f"{name}.lgc")
        args["decoded"][name] = str(tmp_path / f"{name}.npy")
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_multi_thread_eigen=false",
               OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", _WORKER,
                           json.dumps(args)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["affinity"] == [0]
    for name, (c, _) in codecs.items():
        assert out[name], f"{name}: one thread wrote different bytes"
        theirs = np.load(args["decoded"][name]).astype(int)
        ours = c.decompress((tmp_path / f"{name}.lgc").read_bytes()).astype(int)
        assert np.abs(theirs - ours).max() <= 1, f"{name}: decoded images differ by more " \
                                                 f"than float rounding"
        assert np.mean(theirs != ours) < 1e-3, f"{name}: {np.mean(theirs != ours):.2%} of " \
                                               f"the decoded values differ"


def _perturb(monkeypatch, codec, which_step, mu_shift=0.0, sigma_scale=1.0):
    """Makes the decoder's ``which_step``-th coding step see shifted means / scaled scales."""
    step = codec._step
    calls = {"n": 0}

    def perturbed(params, key, arg, hyper, y_hat):
        mu, sigma = step(params, key, arg, hyper, y_hat)
        n = calls["n"]
        calls["n"] += 1
        if n == which_step:
            mu, sigma = mu + mu_shift, sigma * sigma_scale
        return mu, sigma

    monkeypatch.setattr(codec, "_step", perturbed)


@pytest.mark.parametrize("name, which_step, mu_shift, sigma_scale", [
    ("codec", 0, 0.0, 1.5),  # the hyperprior's one step: the scales are off
    ("laplacian_codec", -1, 0.0, 1.5),  # its last step: the final non-anchors
    ("laplacian_codec", 0, 0.5, 1.0),  # the first anchors' means: later steps see them
])
def test_a_desynchronised_decoder_fails_with_the_symbol_crc_error(
        name, which_step, mu_shift, sigma_scale, request, photo, monkeypatch):
    codec = request.getfixturevalue(name)
    from laplace_codec.models import model as model_lib

    data = codec.compress(_image(photo))
    if which_step < 0:
        which_step = len(model_lib.coding_steps(codec.model, (8, 12, codec.model.M))) - 1
    _perturb(monkeypatch, codec, which_step, mu_shift, sigma_scale)
    # The checksum, or before it the range coder running out of escaped values (the symbols
    # it reads were never written): both name the desynchronisation.
    with pytest.raises(FormatError, match="out of sync"):
        codec.decompress(data)


@pytest.mark.parametrize("name", CODECS)
def test_a_tiny_scale_error_gives_the_same_image_or_the_error_never_garbage(
        name, request, photo, monkeypatch):
    codec = request.getfixturevalue(name)
    data = codec.compress(_image(photo))
    reference = codec.decompress(data)
    outcomes = set()
    for scale in (1 + 1e-6, 1 + 1e-3, 1 + 3e-2):
        _perturb(monkeypatch, codec, 0, sigma_scale=scale)
        try:
            image = codec.decompress(data)
        except FormatError as e:
            assert "out of sync" in str(e)
            outcomes.add("error")
        else:
            np.testing.assert_array_equal(image, reference)
            outcomes.add("same")
        monkeypatch.undo()
    assert "same" in outcomes  # 1e-6 moves no scale across a table edge
