"""Classical image codecs behind one harness, for rate-distortion comparisons.

    from laplace_codec.evaluation import classical
    classical.available()                        # {"jpeg": None, ..., "heic": "reason"}
    data = classical.encode("avif", image, 50)   # uint8 RGB (H, W, 3) -> bytes
    image_hat = classical.decode("avif", data)   # -> uint8 RGB (H, W, 3), same shape
    for q in classical.default_qualities("avif"): ...

Every codec takes an integer ``quality`` where higher means more bytes and less distortion;
the allowed range is ``CODECS[name].quality_range`` (inclusive). Each codec runs with its
reference encoder's defaults (cjpeg, cwebp, avifenc, cjxl, libheif) except that chroma is
coded at full resolution (4:4:4) wherever the format allows it, so that colour detail is not
thrown away before the codec gets to decide; WebP cannot do this (lossy WebP is 4:2:0 only).

=========  ===============================  =========  ======================================
name       library                          chroma     settings
=========  ===============================  =========  ======================================
jpeg       Pillow (libjpeg-turbo)           4:4:4      quality 1..100, optimize=True
webp       Pillow (libwebp)                 4:2:0      quality 0..100, method=4
avif       Pillow (libavif + aom / dav1d)   4:4:4      quality 0..100, speed=6, 1 thread
jpegxl     imagecodecs (libjxl)             XYB        quality 0..100 -> distance, effort=7
heic       pillow-heif (libheif + x265 /    4:4:4      quality 0..100, preset slow, tune ssim
           libde265)
=========  ===============================  =========  ======================================

JPEG, WebP and AVIF need only Pillow (its PyPI wheels include libwebp and libavif); JPEG XL
and HEIC need the ``classical`` extra (``pip install laplace_codec[classical]``), which adds
``imagecodecs`` and ``pillow-heif``. :func:`available` says which codecs work here and why
not; the others raise :class:`CodecUnavailableError` with that reason.

Invalid arguments (unknown codec name, an image that is not uint8 RGB (H, W, 3), a quality
outside the codec's range or not an integer, data that is not bytes or not a stream of that
format) raise :class:`~laplace_codec.errors.InputError`, a :class:`ValueError` whose message
says what was wrong and what to do.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import numbers
from typing import Callable

import numpy as np
import PIL
from PIL import Image, features

from laplace_codec import images
from laplace_codec.errors import InputError, LaplaceCodecError

_EXTRA_HINT = "install the extra: pip install laplace_codec[classical]"


class CodecUnavailableError(LaplaceCodecError, RuntimeError):
    """A classical codec cannot run here (its library is missing or lacks the codec)."""


@dataclasses.dataclass(frozen=True)
class ClassicalCodec:
    """One entry of :data:`CODECS`: how a format is coded and with which settings."""

    name: str
    description: str
    library: str
    chroma: str
    quality_range: tuple[int, int]   # inclusive; higher = better quality, more bytes
    qualities: tuple[int, ...]       # the default sweep, increasing
    max_side: int | None             # largest width/height the format allows, if limited
    _check: Callable[[], str | None] = dataclasses.field(repr=False)
    _encode: Callable[[np.ndarray, int], bytes] = dataclasses.field(repr=False)
    _decode: Callable[[bytes], np.ndarray] = dataclasses.field(repr=False)


# ---------------------------------------------------------------------------------------------
# Pillow: JPEG, WebP, AVIF


def _pillow_check(feature: str, label: str) -> str | None:
    if not features.check(feature):
        return (f"Pillow {PIL.__version__} was built without {label} support; install a PyPI "
                f"wheel of Pillow (pip install --force-reinstall pillow), which includes it")
    return None


def _pillow_encode(image: np.ndarray, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _pillow_decode(data: bytes, fmt: str) -> np.ndarray:
    with Image.open(io.BytesIO(data), formats=[fmt]) as im:
        return np.asarray(im.convert("RGB"))


def _jpeg_encode(image, quality):
    # subsampling=0 is 4:4:4; optimize=True computes optimal Huffman tables (like
    # `cjpeg -optimize`): lossless, a few percent smaller, otherwise libjpeg's defaults.
    return _pillow_encode(image, "JPEG", quality=quality, subsampling=0, optimize=True)


def _webp_encode(image, quality):
    # Pillow's default method=0 is libwebp's fastest; method=4 is cwebp's default.
    return _pillow_encode(image, "WEBP", quality=quality, method=4, lossless=False)


def _avif_check():
    reason = _pillow_check("avif", "AVIF")
    if reason is None:
        # only in Pillow builds with libavif: imported once the check above found it
        from PIL import _avif

        if not _avif.encoder_codec_available("aom"):
            reason = ("Pillow's libavif has no AOM encoder; install a PyPI wheel of Pillow "
                      "(pip install --force-reinstall pillow), which includes it")
    return reason


def _avif_encode(image, quality):
    # Pillow maps quality 0..100 onto libavif's quantizer; speed=6 is avifenc's default.
    # One thread: aom's output depends on the thread count, and Pillow's default is the
    # number of CPUs, which would make file sizes differ between machines.
    return _pillow_encode(image, "AVIF", quality=quality, subsampling="4:4:4", speed=6,
                          codec="aom", range="full", max_threads=1)


# ---------------------------------------------------------------------------------------------
# imagecodecs: JPEG XL


def _jpegxl_check():
    try:
        import imagecodecs  # optional extra [classical]
    except ImportError:
        return f"imagecodecs is not installed; {_EXTRA_HINT}"
    except Exception as e:  # e.g. a NumPy ABI mismatch
        return f"imagecodecs cannot be imported ({type(e).__name__}: {e}); {_EXTRA_HINT}"
    if not getattr(imagecodecs, "JPEGXL", None) or not imagecodecs.JPEGXL.available:
        return (f"imagecodecs {imagecodecs.__version__} was built without JPEG XL; "
                f"{_EXTRA_HINT}")
    return None


def _jpegxl_encode(image, quality):
    import imagecodecs  # optional extra [classical]

    # `level` is libjxl's quality scale (the one of `cjxl -q`): JxlEncoderDistanceFromQuality
    # turns it into a butteraugli distance (90 -> 1.0, 100 -> 0.0). lossless=False keeps
    # quality 100 lossy (distance 0, near- but not mathematically lossless). effort=7 is
    # cjxl's default (imagecodecs' own default is 5).
    return bytes(imagecodecs.jpegxl_encode(image, level=quality, effort=7, lossless=False))


def _jpegxl_decode(data):
    import imagecodecs  # optional extra [classical]

    if not imagecodecs.jpegxl_check(data):
        raise ValueError("no JPEG XL signature")
    return imagecodecs.jpegxl_decode(data)


# ---------------------------------------------------------------------------------------------
# pillow-heif: HEIC (HEVC intra frame coded by x265, decoded by libde265)


def _heic_check():
    try:
        import pillow_heif  # optional extra [classical]
    except ImportError:
        return f"pillow-heif is not installed; {_EXTRA_HINT}"
    except Exception as e:
        return f"pillow-heif cannot be imported ({type(e).__name__}: {e}); {_EXTRA_HINT}"
    info = pillow_heif.libheif_info()
    if not any("x265" in str(v) for v in info.get("encoders", {}).values()):
        return (f"pillow-heif {pillow_heif.__version__} has no x265 HEVC encoder; "
                f"{_EXTRA_HINT}")
    if not info.get("decoders"):
        return f"pillow-heif {pillow_heif.__version__} has no HEVC decoder; {_EXTRA_HINT}"
    return None


def _heic_encode(image, quality):
    import pillow_heif  # optional extra [classical]

    # chroma=444 is x265's main-4:4:4 profile; libheif's x265 defaults otherwise (preset
    # "slow", tune "ssim"). Qualities above about 90 hit x265's quantizer floor and may give
    # identical files.
    height, width, _ = image.shape
    buffer = io.BytesIO()
    pillow_heif.encode("RGB", (width, height), image.tobytes(), buffer, quality=quality,
                       chroma=444)
    return buffer.getvalue()


def _heic_decode(data):
    import pillow_heif  # optional extra [classical]

    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    return np.asarray(heif.to_pillow().convert("RGB"))


# ---------------------------------------------------------------------------------------------
# The registry

CODECS: dict[str, ClassicalCodec] = {c.name: c for c in (
    ClassicalCodec(
        "jpeg", "JPEG (ITU T.81, 1992): 8x8 DCT, scalar quantisation, Huffman coding",
        "Pillow (libjpeg-turbo)", "4:4:4", (1, 100), (3, 5, 10, 20, 35, 50, 70, 85), 65500,
        functools.partial(_pillow_check, "jpg", "JPEG"), _jpeg_encode,
        functools.partial(_pillow_decode, fmt="JPEG")),
    ClassicalCodec(
        "webp", "WebP lossy (VP8 intra frame, 2010): 4x4 DCT with intra prediction",
        "Pillow (libwebp)", "4:2:0 (the only one lossy WebP has)", (0, 100),
        (0, 5, 15, 30, 50, 70, 80, 90), 16383,
        functools.partial(_pillow_check, "webp", "WebP"), _webp_encode,
        functools.partial(_pillow_decode, fmt="WEBP")),
    ClassicalCodec(
        "avif", "AVIF (AV1 intra frame in HEIF, 2019)", "Pillow (libavif; aom encoder, "
        "dav1d decoder)", "4:4:4", (0, 100), (5, 15, 25, 35, 50, 65, 75, 85), None,
        _avif_check, _avif_encode, functools.partial(_pillow_decode, fmt="AVIF")),
    ClassicalCodec(
        "jpegxl", "JPEG XL (ISO/IEC 18181, 2022), lossy VarDCT mode in the XYB colour space",
        "imagecodecs (libjxl)", "XYB, not subsampled", (0, 100),
        (5, 15, 30, 50, 70, 80, 88, 93), None, _jpegxl_check, _jpegxl_encode,
        _jpegxl_decode),
    ClassicalCodec(
        "heic", "HEIC (HEVC/H.265 intra frame in HEIF, 2015)", "pillow-heif (libheif; x265 "
        "encoder, libde265 decoder)", "4:4:4", (0, 100), (10, 15, 20, 30, 40, 50, 58, 65),
        None, _heic_check, _heic_encode, _heic_decode),
)}
"""Classical codecs by name; see the module docstring for what each one uses."""


# ---------------------------------------------------------------------------------------------
# Argument checking


def _codec(name) -> ClassicalCodec:
    if not isinstance(name, str) or name not in CODECS:
        hint = ""
        if isinstance(name, str) and name.lower().replace("-", "").replace(" ", "") in (
                "jxl", "jpegxl", "heif", "hevc", "h265", "jpg"):
            hint = " (names are lower case: 'jpg' is 'jpeg', 'jxl' is 'jpegxl', " \
                   "'heif'/'hevc' is 'heic')"
        raise InputError(f"unknown classical codec {name!r}{hint}; choose one of "
                         f"{', '.join(CODECS)}")
    return CODECS[name]


def _usable(codec: ClassicalCodec) -> ClassicalCodec:
    reason = available()[codec.name]
    if reason is not None:
        raise CodecUnavailableError(f"codec {codec.name!r} is not available: {reason}")
    return codec


def _check_image(image, codec: ClassicalCodec) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array of shape (H, W, 3) and dtype uint8, got "
                         f"{type(image).__name__}; convert it with np.asarray(image)")
    if image.dtype != np.uint8:
        raise InputError(
            f"image must have dtype uint8, got {image.dtype}; convert floats in [0, 1] with "
            f"(x * 255).round().astype(np.uint8), or read files with "
            f"laplace_codec.images.read_image")
    if image.ndim != 3 or image.shape[-1] != 3:
        raise InputError(f"image must have shape (H, W, 3) (RGB), got {image.shape}; convert "
                         f"grayscale or RGBA with laplace_codec.images.as_rgb_uint8")
    height, width, _ = image.shape
    if height == 0 or width == 0:
        raise InputError(f"image is empty (shape {image.shape})")
    if codec.max_side is not None and max(height, width) > codec.max_side:
        raise InputError(f"{codec.name} images can be at most {codec.max_side} pixels wide and "
                         f"high, got {width}x{height}; crop or downscale the image first")
    return np.ascontiguousarray(image)


def _check_quality(quality, codec: ClassicalCodec) -> int:
    low, high = codec.quality_range
    if isinstance(quality, (bool, np.bool_)) or not isinstance(quality, numbers.Integral):
        raise InputError(f"quality must be an integer in {low}..{high} for {codec.name}, got "
                         f"{quality!r} ({type(quality).__name__}); see "
                         f"default_qualities({codec.name!r})")
    if not low <= quality <= high:
        raise InputError(f"quality {quality} is out of range for {codec.name}: use an integer "
                         f"in {low}..{high} (higher means better quality and more bytes)")
    return int(quality)


def _check_data(data, codec: ClassicalCodec) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError(f"data must be bytes (the output of encode({codec.name!r}, ...)), got "
                         f"{type(data).__name__}")
    data = bytes(data)
    if not data:
        raise InputError(f"data is empty; pass the bytes returned by encode({codec.name!r}, ...)")
    return data


# ---------------------------------------------------------------------------------------------
# Public API


@functools.lru_cache(maxsize=None)
def _availability() -> tuple[tuple[str, str | None], ...]:
    result = []
    probe = np.zeros((8, 8, 3), np.uint8)
    probe[::2, ::3] = (200, 40, 90)
    for codec in CODECS.values():
        reason = codec._check()
        if reason is None:  # the library is there: make sure it round-trips
            try:
                decoded = codec._decode(codec._encode(probe, codec.qualities[-1]))
                if decoded.shape != probe.shape or decoded.dtype != np.uint8:
                    reason = (f"a test round trip returned {decoded.dtype} {decoded.shape} "
                              f"instead of uint8 {probe.shape}")
            except Exception as e:
                reason = f"a test round trip failed ({type(e).__name__}: {e}); {_EXTRA_HINT}"
        result.append((codec.name, reason))
    return tuple(result)


def available() -> dict[str, str | None]:
    """Which codecs work here: ``{name: None}`` if usable, else ``{name: one-line reason}``.

    A codec counts as usable when its library imports, has the format compiled in, and
    round-trips a small test image. The result is computed once per process.
    """
    return dict(_availability())


def default_qualities(name: str) -> list[int]:
    """The default quality sweep of a codec, increasing.

    Each spans roughly 0.1 to 2 bits per pixel on photographs (Kodak, scikit-image's
    astronaut); JPEG at 4:4:4 cannot get much below 0.15 bpp. The scales differ between
    codecs, so compare codecs by bytes, never by quality value.
    """
    return list(_codec(name).qualities)


def encode(name: str, image: np.ndarray, quality: int) -> bytes:
    """Compresses a uint8 RGB image (H, W, 3) with codec ``name`` at ``quality``.

    ``quality`` is an integer in ``CODECS[name].quality_range``; higher means more bytes and
    less distortion. Returns the complete file (with its container: JFIF, RIFF, HEIF or the
    JPEG XL codestream), so ``8 * len(data) / (H * W)`` is the honest bits per pixel.
    """
    codec = _codec(name)
    image = _check_image(image, codec)
    quality = _check_quality(quality, codec)
    return _usable(codec)._encode(image, quality)


def decode(name: str, data: bytes) -> np.ndarray:
    """Decodes the bytes of a ``name`` file to a uint8 RGB array (H, W, 3).

    Raises :class:`~laplace_codec.errors.InputError` (a ValueError) when ``data`` is not a
    valid stream of that format.
    """
    codec = _codec(name)
    data = _check_data(data, codec)
    _usable(codec)
    try:
        image = codec._decode(data)
    except Exception as e:
        raise InputError(f"data is not a valid {name} stream ({type(e).__name__}: {e}); pass "
                         f"bytes produced by encode({name!r}, ...)") from e
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        image = images.as_rgb_uint8(image)  # a foreign file (gray, alpha, 16 bits): warns
    return np.ascontiguousarray(image)
