"""laplace_codec.evaluation.classical: each available classical codec round-trips and trades bytes for
PSNR; unavailable ones are skipped with their reason; bad arguments raise ValueError."""

import numpy as np
import pytest

from laplace_codec.evaluation import classical
from laplace_codec import images

NAMES = ["jpeg", "webp", "avif", "jpegxl", "heic"]


@pytest.fixture(scope="module")
def astronaut():
    return images.read_image("sample:astronaut")


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


def require(name):
    reason = classical.available()[name]
    if reason is not None:
        pytest.skip(f"{name} unavailable: {reason}")


def test_registry_and_availability():
    assert list(classical.CODECS) == NAMES
    status = classical.available()
    assert set(status) == set(NAMES)
    for name, reason in status.items():
        assert reason is None or (isinstance(reason, str) and reason and "\n" not in reason)
    for name in NAMES:
        qualities = classical.default_qualities(name)
        low, high = classical.CODECS[name].quality_range
        assert len(qualities) >= 5 and qualities == sorted(set(qualities))
        assert all(isinstance(q, int) and low <= q <= high for q in qualities)


@pytest.mark.parametrize("name", NAMES)
def test_higher_quality_gives_more_bytes_and_higher_psnr(name, astronaut):
    require(name)
    qualities = classical.default_qualities(name)
    results = []
    for quality in (qualities[1], qualities[-1]):
        data = classical.encode(name, astronaut, quality)
        assert isinstance(data, bytes)
        decoded = classical.decode(name, data)
        assert decoded.shape == astronaut.shape and decoded.dtype == np.uint8
        bpp = 8 * len(data) / (astronaut.shape[0] * astronaut.shape[1])
        results.append((len(data), psnr(astronaut, decoded), bpp))
    (bytes_low, psnr_low, bpp_low), (bytes_high, psnr_high, bpp_high) = results
    assert bytes_high > bytes_low
    assert psnr_high > psnr_low + 3
    # The sweep spans roughly 0.1 to 2 bpp, and the low end still looks like the image.
    assert 0.05 < bpp_low < 0.5 and 1.0 < bpp_high < 3.0
    assert psnr_low > 22


@pytest.mark.parametrize("name", NAMES)
def test_odd_sized_image_keeps_its_shape(name, astronaut):
    require(name)
    crop = astronaut[101:138, 211:264]  # 37 x 53, not contiguous
    data = classical.encode(name, crop, classical.default_qualities(name)[-1])
    decoded = classical.decode(name, data)
    assert decoded.shape == crop.shape and decoded.dtype == np.uint8
    assert psnr(crop, decoded) > 25


@pytest.mark.parametrize("name", NAMES)
def test_bad_images_and_qualities_raise_value_error(name, astronaut):
    low, high = classical.CODECS[name].quality_range
    good_q = classical.default_qualities(name)[0]
    bad_images = [
        ("dtype uint8", astronaut.astype(np.float32) / 255),
        ("dtype uint8", astronaut.astype(np.uint16)),
        (r"shape \(H, W, 3\)", astronaut[..., 0]),
        (r"shape \(H, W, 3\)", np.concatenate([astronaut, astronaut[..., :1]], axis=-1)),
        ("empty", astronaut[:0]),
        ("numpy array", astronaut.tolist()),
    ]
    for words, image in bad_images:
        with pytest.raises(ValueError, match=words):
            classical.encode(name, image, good_q)
    for quality in (low - 1, high + 1):
        with pytest.raises(ValueError, match=f"{low}..{high}"):
            classical.encode(name, astronaut, quality)
    for quality in (50.0, "50", True, None):
        with pytest.raises(ValueError, match="integer"):
            classical.encode(name, astronaut, quality)
    for data in (b"", "not bytes", None):
        with pytest.raises(ValueError, match="data"):
            classical.decode(name, data)


@pytest.mark.parametrize("name", NAMES)
def test_garbage_and_foreign_streams_raise_value_error(name, astronaut):
    require(name)
    with pytest.raises(ValueError, match=f"not a valid {name} stream"):
        classical.decode(name, b"\x00\x01 definitely not an image " * 20)
    other = "webp" if name == "jpeg" else "jpeg"
    require(other)
    foreign = classical.encode(other, astronaut[:64, :64], 50)
    with pytest.raises(ValueError, match=f"not a valid {name} stream"):
        classical.decode(name, foreign)


def test_unknown_codec_raises_value_error(astronaut):
    for call in (lambda: classical.encode("jpeg2000", astronaut, 50),
                 lambda: classical.decode("png", b"data"),
                 lambda: classical.default_qualities("mozjpeg")):
        with pytest.raises(ValueError, match="unknown classical codec.*choose one of jpeg, webp"):
            call()
    with pytest.raises(ValueError, match="'jxl' is 'jpegxl'"):
        classical.encode("JXL", astronaut, 50)
