"""The codec on a trained test checkpoint: exact round trips, errors, conversions."""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import laplace_codec
from laplace_codec.atomic import atomic_write
from laplace_codec.coding import codec as codec_lib
from laplace_codec.errors import CheckpointError, FormatError, InputError, ModelMismatchError

SIZES = [(1, 1), (17, 31), (64, 64), (300, 200), (768, 512)]


def _image(photo, h, w):
    reps = (-(-h // photo.shape[0]), -(-w // photo.shape[1]), 1)
    return np.ascontiguousarray(np.tile(photo, reps)[:h, :w])


@pytest.mark.parametrize("h, w", SIZES)
def test_decompress_reproduces_the_decoder_output_of_the_quantized_latent(codec, photo, h, w):
    x = _image(photo, h, w)
    encoded = codec.encode(x)
    x_hat = codec.decompress(encoded.data)
    assert x_hat.shape == (h, w, 3) and x_hat.dtype == np.uint8
    np.testing.assert_array_equal(x_hat, codec.reconstruct(encoded.y_hat, h, w))
    decoded = codec.decode(encoded.data)
    np.testing.assert_array_equal(decoded.y_hat, encoded.y_hat)
    assert (decoded.header.height, decoded.header.width) == (h, w)


def test_compression_is_deterministic_and_reconstruction_is_close(codec, photo):
    first, second = codec.compress(photo), codec.compress(photo)
    assert first == second
    x_hat = codec.decompress(first)
    psnr = 10 * np.log10(255**2 / np.mean((x_hat.astype(float) - photo) ** 2))
    assert psnr > 20  # a trained model, not noise


def test_file_of_another_model_is_refused_naming_both(codec, photo):
    params = jax.tree_util.tree_map(lambda a: np.asarray(a) * 1.0001,
                                    codec.params["params"])
    other = codec_lib.Codec(codec.model, params, codec.tables, "other-model")
    data = codec.compress(photo[:64, :64])
    with pytest.raises(ModelMismatchError) as e:
        other.decompress(data)
    assert codec.model_id in str(e.value) and other.model_id in str(e.value)


def test_compress_without_tables_says_how_to_build_them(codec, photo):
    bare = codec_lib.Codec(codec.model, codec.params["params"], None, "bare")
    with pytest.raises(CheckpointError, match="build-tables"):
        bare.compress(photo)


def test_a_decoder_out_of_sync_fails_with_a_clear_error(codec, photo, monkeypatch):
    data = codec.compress(photo[:128, :128])
    step = codec._step

    def perturbed(params, key, arg, hyper, y_hat):
        mu, sigma = step(params, key, arg, hyper, y_hat)
        return mu, sigma * 1.5

    monkeypatch.setattr(codec, "_step", perturbed)
    with pytest.raises(FormatError, match="out of sync"):
        codec.decompress(data)


def test_damaged_payload_is_refused(codec, photo):
    data = bytearray(codec.compress(photo[:64, :64]))
    data[-3] ^= 0x10
    with pytest.raises(FormatError):
        codec.decompress(bytes(data))


def test_conversions_warn_and_code_as_rgb(codec, photo):
    gray = photo[:40, :40, 0]
    with pytest.warns(laplace_codec.ConversionWarning, match="grayscale"):
        out = codec.decompress(codec.compress(gray))
    assert out.shape == (40, 40, 3)
    rgba = np.concatenate([photo[:40, :40], np.full((40, 40, 1), 7, np.uint8)], axis=-1)
    with pytest.warns(laplace_codec.ConversionWarning, match="alpha"):
        assert codec.compress(rgba) == codec.compress(photo[:40, :40])
    deep = photo[:40, :40].astype(np.uint16) * 257
    with pytest.warns(laplace_codec.ConversionWarning, match="16-bit"):
        assert codec.compress(deep) == codec.compress(photo[:40, :40])


@pytest.mark.parametrize("bad, message", [
    (np.zeros((8, 8, 3), np.float32), "uint8"),
    (np.zeros((0, 5, 3), np.uint8), "empty"),
    (np.zeros((4, 4, 5), np.uint8), "shape"),
    ("not an image", "shape"),
])
def test_unusable_inputs_are_refused_with_a_clear_error(codec, bad, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match=message):
            codec.compress(bad)


def test_image_file_claiming_huge_size_is_refused_before_decoding(tmp_path):
    import struct
    import zlib

    from laplace_codec import images

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    with pytest.raises(InputError):
        images.read_image(str(path))


def test_written_files_get_ordinary_permissions(tmp_path):
    import os

    path = tmp_path / "x.bin"
    atomic_write(str(path), b"abc")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_bytes() == b"abc"
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]  # no temporary left behind


def test_refinement_lowers_the_images_loss_and_is_deterministic(codec, photo):
    """Refined latents cost less D + lambda R on their own image than the analysis
    transform's, decode like any file, and the same image and steps give the same bytes."""
    x = photo[:128, :192]
    lmbda = codec.lmbda

    def loss(data):
        x_hat = codec.decompress(data)
        mse = np.mean((x.astype(np.float64) - x_hat) ** 2) / 127.5 ** 2
        return mse + lmbda * 8 * len(data) / (128 * 192)

    plain = codec.compress(x)
    refined = codec.compress(x, refine=30)
    assert loss(refined) < loss(plain)
    assert codec.compress(x, refine=30) == refined
    with pytest.raises(ValueError, match="refine must be a number of steps"):
        codec.compress(x, refine=-1)


def test_refinement_that_keeps_its_best_step_never_ends_above_its_start(codec, photo):
    """With the exact loss choosing (rounding "ste", or keep_best), the refined latents'
    loss of the rounded latents (computed here from the model's coding-mode forward) is at
    most the analysis transform's, even with a learning rate that ruins every step; the
    last step of the same run, which nothing chose, ends far above."""
    from laplace_codec.coding import refine as refine_lib
    from laplace_codec.models import model as model_lib

    x = model_lib.from_uint8(jnp.asarray(photo[None, :128, :128]))
    y, z = codec._analyze(codec.params, x)

    def exact(latents):
        out = codec.model.apply(codec.params, x, *latents, False, method=codec.model.from_latents)
        bits = -(np.sum(np.log2(out["y_likelihood"])) + np.sum(np.log2(out["z_likelihood"])))
        return float(np.mean(np.square(out["x_hat"] - x)) + codec.lmbda * bits / (128 * 128))

    start = exact((y, z))
    refine = functools.partial(refine_lib.refine_latents, codec.model, codec.params, x, y, z,
                               None, codec.lmbda, 3, learning_rate=1.0)
    assert exact(refine(rounding="ste")) <= start
    assert exact(refine(rounding="noise", keep_best=True)) <= start
    assert exact(refine(rounding="noise")) <= start  # the default keeps the best step
    assert exact(refine(rounding="noise", keep_best=False)) > 1.5 * start
    with pytest.raises(ValueError, match="unknown refinement optimizer"):
        refine(optimizer="lbfgs")


def test_sga_rounding_lies_between_the_neighbours_and_anneals_to_rounding():
    from laplace_codec.models.entropy.base import sga_round

    x = jnp.linspace(-3.0, 3.0, 601)
    key = jax.random.PRNGKey(0)
    soft = np.asarray(sga_round(x, key, 0.5))
    assert np.all(soft >= np.floor(x) - 1e-6) and np.all(soft <= np.floor(x) + 1 + 1e-6)
    np.testing.assert_array_equal(soft, np.asarray(sga_round(x, key, 0.5)))  # keyed
    cold = np.asarray(sga_round(x, key, 1e-3))
    away = np.abs(x - np.round(x)) < 0.45  # not at a tie
    np.testing.assert_allclose(cold[away], np.round(x)[away], atol=1e-3)
    # the nearer neighbour is the likelier: at x = 0.2 and tau = 0.5, ceil has probability
    # sigmoid(-(atanh(0.8) - atanh(0.2)) / 0.5) = 0.143 (the logits' gap, divided by tau in
    # the logits and again in the relaxed sample)
    draws = np.asarray(sga_round(jnp.full(4000, 0.2), key, 0.5))
    assert abs(np.mean(draws > 0.5) - 0.143) < 0.03
    grad = jax.grad(lambda v: sga_round(v, key, 0.5).sum())(x)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)  # unlike rounding


def test_sga_refinement_is_deterministic_and_moves_the_latents(codec, photo):
    from laplace_codec.coding import refine as refine_lib
    from laplace_codec.models import model as model_lib

    x = model_lib.from_uint8(jnp.asarray(photo[None, :128, :128]))
    y, z = codec._analyze(codec.params, x)
    runs = [refine_lib.refine_latents(codec.model, codec.params, x, y, z, None, codec.lmbda,
                                      30, rounding="sga") for _ in range(2)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert not np.array_equal(runs[0][0], y)
    with pytest.raises(ValueError, match="unknown refinement rounding"):
        refine_lib.refine_latents(codec.model, codec.params, x, y, z, None, codec.lmbda, 2,
                                  rounding="gumbel")
    with pytest.raises(ValueError, match="unknown refinement schedule"):
        refine_lib.refine_latents(codec.model, codec.params, x, y, z, None, codec.lmbda, 2,
                                  schedule="linear")
    with pytest.raises(ValueError, match="learning rate must be positive"):
        refine_lib.refine_latents(codec.model, codec.params, x, y, z, None, codec.lmbda, 2,
                                  learning_rate=0.0)
