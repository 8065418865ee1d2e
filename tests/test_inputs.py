"""Inputs to compress: every kind of image file is coded by a documented rule (images.py)
or refused with a one-line message; odd sizes round-trip exactly."""

import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from laplace_codec import images
from laplace_codec.errors import InputError
from tests.conftest import run_cli

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)


def _png16(path, array):
    """A 16-bit-per-channel RGB PNG, written by hand (Pillow cannot write one)."""
    h, w, _ = array.shape
    raw = b"".join(b"\x00" + array[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _read(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = images.read_image(str(path))
    return out, " | ".join(str(w.message) for w in caught
                           if issubclass(w.category, images.ConversionWarning))


def _close(a, b, tol):
    return np.abs(a.astype(int) - b.astype(int)).mean() <= tol


def test_grayscale_files_are_replicated(tmp_path):
    Image.fromarray(RGB[..., 0]).save(tmp_path / "l.png")
    x, warned = _read(tmp_path / "l.png")
    assert x.shape == (20, 30, 3) and "grayscale" in warned
    assert np.array_equal(x, np.repeat(RGB[..., :1], 3, -1))


def test_gray_alpha_and_rgba_files_drop_alpha(tmp_path):
    Image.fromarray(np.dstack([RGB[..., 0], RGB[..., 1]]), "LA").save(tmp_path / "la.png")
    x, warned = _read(tmp_path / "la.png")
    assert np.array_equal(x, np.repeat(RGB[..., :1], 3, -1)) and "alpha" in warned
    Image.fromarray(np.dstack([RGB, RGB[..., :1]])).save(tmp_path / "rgba.png")
    x, warned = _read(tmp_path / "rgba.png")
    assert np.array_equal(x, RGB) and "alpha" in warned


def test_palette_files_are_expanded(tmp_path):
    palette = Image.fromarray(RGB).quantize(16)
    palette.save(tmp_path / "p.png", transparency=0)
    x, warned = _read(tmp_path / "p.png")
    assert np.array_equal(x, np.asarray(palette.convert("RGB"))) and "P image" in warned


def test_16_bit_files_are_reduced_to_8_bits(tmp_path):
    deep = RNG.integers(0, 65536, (20, 30, 3)).astype(np.uint16)
    _png16(tmp_path / "rgb16.png", deep)
    x, _ = _read(tmp_path / "rgb16.png")
    assert x.dtype == np.uint8 and np.abs(x - np.round(deep / 257.0)).max() <= 1
    Image.fromarray(deep[..., 0]).save(tmp_path / "gray16.png")
    x, warned = _read(tmp_path / "gray16.png")
    assert "16-bit" in warned
    assert np.array_equal(x[..., 0], np.round(deep[..., 0] * (255 / 65535)).astype(np.uint8))


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    smooth = np.asarray(Image.fromarray(RGB).resize((120, 80), Image.BICUBIC))
    Image.fromarray(smooth).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95, subsampling=0)
    x, warned = _read(tmp_path / "cmyk.jpg")
    assert "CMYK" in warned and x.shape == (80, 120, 3) and _close(x, smooth, 4)


@pytest.mark.parametrize("orientation, expected", [
    (1, lambda a: a), (3, lambda a: a[::-1, ::-1]), (6, lambda a: np.rot90(a, -1)),
    (8, lambda a: np.rot90(a, 1)), (2, lambda a: a[:, ::-1])])
def test_exif_orientation_is_applied(tmp_path, orientation, expected):
    # Blocks of flat colour, so that JPEG keeps them and the orientation is unambiguous.
    blocks = np.kron(RNG.integers(0, 256, (4, 6, 3)), np.ones((16, 16, 1))).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(blocks).save(tmp_path / "exif.jpg", exif=exif, quality=98, subsampling=0)
    x, _ = _read(tmp_path / "exif.jpg")
    want = expected(blocks)
    assert x.shape == want.shape and _close(x, want, 1)


@pytest.mark.parametrize("fmt", ["gif", "png", "webp", "tiff"])
def test_multi_frame_files_code_the_first_frame(tmp_path, fmt):
    frames = [Image.fromarray(np.full((20, 30, 3), v, np.uint8)) for v in (10, 200, 90)]
    path = tmp_path / f"anim.{fmt}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    x, warned = _read(path)
    assert "3 frames: only the first" in warned
    assert np.abs(x.astype(int) - 10).max() <= 2


@pytest.mark.parametrize("h, w", [(1, 1), (1, 57), (57, 1), (4, 3000)])
def test_extreme_shapes_read_as_they_are(tmp_path, h, w):
    a = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "x.png")
    x, _ = _read(tmp_path / "x.png")
    assert np.array_equal(x, a)


def test_center_crop_takes_the_middle_and_refuses_small_images():
    a = np.arange(5 * 7 * 3).reshape(5, 7, 3)
    # rows 1..3 and columns 2..4: the offsets (5 - 3) // 2 = 1 and (7 - 3) // 2 = 2
    assert np.array_equal(images.center_crop(a, 3), a[1:4, 2:5])
    assert np.array_equal(images.center_crop(a, 5), a[:, 1:6])
    with pytest.raises(InputError, match="5x7 image is smaller than the 6x6 crop"):
        images.center_crop(a, 6)
    with pytest.raises(InputError, match="positive"):
        images.center_crop(a, 0)


@pytest.mark.parametrize("h, w", [(1, 300), (300, 1), (4, 3000)])
def test_extreme_shapes_round_trip(codec, photo, h, w):
    x = np.ascontiguousarray(np.resize(photo, (h, w, 3)))
    encoded = codec.encode(x)
    x_hat = codec.decompress(encoded.data)
    assert x_hat.shape == (h, w, 3)
    np.testing.assert_array_equal(x_hat, codec.reconstruct(encoded.y_hat, h, w))


def _bad_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, not an image\n")
    Image.fromarray(RGB).save(tmp_path / "ok.png")
    (tmp_path / "truncated.png").write_bytes((tmp_path / "ok.png").read_bytes()[:60])
    Image.fromarray(RGB[..., 0].astype(np.float32) / 255).save(tmp_path / "float.tif")
    (tmp_path / "folder.png").mkdir()


REFUSED = [("empty.png", "empty"), ("text.png", "not an image"),
           ("truncated.png", "cannot read image"), ("float.tif", "floating-point"),
           ("folder.png", "directory"), ("missing.png", "not found")]


@pytest.mark.parametrize("name, message", REFUSED)
def test_unusable_files_are_refused_with_a_clear_message(tmp_path, name, message):
    _bad_files(tmp_path)
    with pytest.raises(InputError, match=message) as e:
        images.read_image(str(tmp_path / name))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("args, message", [
    (["compress", "--ckpt", "CKPT", "empty.png", "out.lgc"], "empty"),
    (["compress", "--ckpt", "CKPT", "text.png", "out.lgc"], "not an image"),
    (["compress", "--ckpt", "CKPT", "float.tif", "out.lgc"], "floating-point"),
    (["compress", "--ckpt", "CKPT", "ok.png", "no/such/dir/out.lgc"], "No such file"),
    (["compress", "--model", "no-such-model", "ok.png", "out.lgc"], "no zoo model named"),
    (["decompress", "--ckpt", "CKPT", "ok.png", "rec.png"], "wrong magic"),
])
def test_cli_user_errors_exit_2_with_one_line_and_no_output(trained_workdir, tmp_path, args,
                                                            message):
    _bad_files(tmp_path)
    done = run_cli(*[trained_workdir if a == "CKPT" else a for a in args], cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "out.lgc").exists() and not (tmp_path / "rec.png").exists()
