"""Reading, converting and writing images: everything becomes uint8 RGB (H, W, 3).

Conversion rules (each emits a :class:`ConversionWarning` saying what was done):
- grayscale (H, W) or (H, W, 1): replicated to three channels;
- gray + alpha (H, W, 2) and RGBA (H, W, 4): the alpha channel is dropped;
- 16-bit (uint16): scaled to 8 bits with rounding (``v * 255 / 65535``);
- palette, CMYK, YCbCr and other Pillow modes: converted by Pillow to RGB;
- JPEG EXIF orientation: applied, so the image is coded as it is displayed.
Floating-point, boolean and other arrays are refused with an :class:`InputError`.

Files (``read_image``) follow the same rules, plus:
- EXIF orientation (tag 0x0112, any format that carries it): the image is rotated or
  mirrored as a viewer displays it, and the tag is not kept (the decoded image is upright);
- multi-frame files (animated GIF, PNG or WebP, multi-page TIFF): the first frame only, with a
  warning naming the number of frames;
- palette images: expanded to RGB; a transparent palette entry keeps its RGB colour (alpha
  dropped, as for RGBA);
- 16-bit RGB(A) PNGs: reduced to 8 bits by Pillow as it reads them (within 1 of
  ``v * 255 / 65535``); 16-bit grayscale: scaled as above; 32-bit integer ("I") images:
  clipped to 0..65535, then scaled as 16-bit; 1-bit images: 0 and 255;
- CMYK JPEGs (including Adobe's inverted CMYK): converted by Pillow to RGB;
- floating-point image files (Pillow mode "F", e.g. float TIFF) are refused: their range is
  unknown, so convert them to 8 or 16 bits first;
- empty, truncated, unreadable or non-image files, directories, and images of more than
  ``MAX_PIXELS`` pixels are refused with an :class:`InputError` saying why.
"""

from __future__ import annotations

import glob as glob_lib
import io
import os
import warnings

import numpy as np
import skimage.data
from PIL import Image, ImageOps, UnidentifiedImageError

from laplace_codec.atomic import atomic_write
from laplace_codec.errors import InputError

MAX_PIXELS = 1 << 26  # 8192 x 8192 after padding; the file format refuses larger headers
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff",
                              ".ppm", ".pgm", ".pnm", ".gif", ".avif", ".heic", ".jxl"})

SAMPLE_IMAGES = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "ihc",
                 "motorcycle_left", "motorcycle_right", "retina", "rocket")


class ConversionWarning(UserWarning):
    """An input image was converted to 8-bit RGB; the message says how."""


def as_rgb_uint8(image) -> np.ndarray:
    """Validates an image array and converts it to contiguous uint8 RGB (H, W, 3)."""
    if not isinstance(image, np.ndarray):
        try:
            image = np.asarray(image)
        except Exception:
            raise InputError(f"expected an image array, got {type(image).__name__}") from None
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (2, 3, 4)):
        raise InputError(f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got "
                         f"{image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"image is empty (shape {image.shape})")
    if image.dtype == np.uint16:
        warnings.warn("16-bit image converted to 8 bits", ConversionWarning, stacklevel=2)
        image = np.round(image.astype(np.float64) * (255 / 65535)).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise InputError(
            f"expected uint8 or uint16 pixels, got {image.dtype}; convert floats in [0, 1] "
            f"with (x * 255).round().astype(np.uint8)")
    if image.ndim == 2:
        warnings.warn("grayscale image coded as RGB", ConversionWarning, stacklevel=2)
        image = np.repeat(image[..., None], 3, axis=-1)
    elif image.shape[-1] == 2:
        warnings.warn("gray+alpha image: alpha dropped, coded as RGB", ConversionWarning,
                      stacklevel=2)
        image = np.repeat(image[..., :1], 3, axis=-1)
    elif image.shape[-1] == 4:
        warnings.warn("RGBA image: alpha channel dropped", ConversionWarning, stacklevel=2)
        image = image[..., :3]
    return np.ascontiguousarray(image)


def sample_image_path(name: str) -> str:
    """Path of one of scikit-image's bundled photographs (no download needed)."""
    for ext in (".png", ".jpg"):
        path = os.path.join(skimage.data.data_dir, name + ext)
        if name in SAMPLE_IMAGES and os.path.exists(path):
            return path
    raise InputError(f"no bundled sample image {name!r}; choose one of {', '.join(SAMPLE_IMAGES)}")


def read_image(path: str) -> np.ndarray:
    """Reads an image file as uint8 RGB, applying the conversion rules above.

    ``sample:NAME`` reads one of scikit-image's bundled photographs (see SAMPLE_IMAGES).
    """
    if path.startswith("sample:"):
        path = sample_image_path(path[len("sample:"):])
    if not os.path.exists(path):
        raise InputError(f"input file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"input is a directory, not an image: {path}")
    if os.path.getsize(path) == 0:
        raise InputError(f"input file is empty: {path}")
    try:
        with Image.open(path) as im:
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise InputError(f"image {path} has {im.size[0]}x{im.size[1]} pixels; the "
                                 f"codec takes at most {MAX_PIXELS}")
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                warnings.warn(f"{path} has {frames} frames: only the first is coded",
                              ConversionWarning, stacklevel=2)
            im = ImageOps.exif_transpose(im)
            mode = im.mode
            if mode == "F":
                raise InputError(f"{path} holds floating-point pixels, whose range is unknown; "
                                 f"convert it to an 8- or 16-bit image first")
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(im)
                if mode == "I":
                    array = np.clip(array, 0, 65535)
                return as_rgb_uint8(array.astype(np.uint16))
            if mode in ("L", "LA", "RGB", "RGBA"):
                return as_rgb_uint8(np.asarray(im))
            warnings.warn(f"{mode} image converted to RGB", ConversionWarning, stacklevel=2)
            return np.ascontiguousarray(np.asarray(im.convert("RGB")))
    except UnidentifiedImageError:
        raise InputError(f"not an image file Pillow can read: {path}") from None
    except Image.DecompressionBombError as e:
        raise InputError(f"refusing {path}: {e}") from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"cannot read image {path}: {e}") from None


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` square of an (H, W, C) image."""
    if size < 1:
        raise InputError(f"crop size must be a positive number of pixels, got {size}")
    height, width = image.shape[:2]
    if min(height, width) < size:
        raise InputError(f"a {height}x{width} image is smaller than the {size}x{size} crop; "
                         f"use a smaller crop or a larger image")
    top, left = (height - size) // 2, (width - size) // 2
    return image[top:top + size, left:left + size]


def write_image(path: str, image: np.ndarray) -> None:
    """Writes uint8 RGB as PNG (or any format Pillow infers from the suffix), atomically."""
    fmt = os.path.splitext(path)[1].lstrip(".").upper() or "PNG"
    fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(fmt, fmt)
    buf = io.BytesIO()
    try:
        Image.fromarray(as_rgb_uint8(image)).save(buf, format=fmt)
    except (KeyError, ValueError) as e:
        raise InputError(f"cannot write {path}: unknown image format {fmt!r} ({e})") from None
    atomic_write(path, buf.getvalue())


def image_files(patterns: str | list[str] | tuple[str, ...]) -> list[str]:
    """Image files of one or more globs or folders (a string may list several, separated
    by commas), sorted within each entry, without repeats; files whose extension is not an
    image's (``IMAGE_EXTENSIONS``) are left out. Each entry must yield at least one image."""
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",") if p.strip()]
    if not patterns:
        raise InputError("no image glob or folder given")
    files, seen = [], set()
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        if os.path.isdir(pattern):
            matches = [os.path.join(pattern, f) for f in os.listdir(pattern)]
        else:
            matches = glob_lib.glob(pattern, recursive=True)
        found = sorted(f for f in matches if os.path.isfile(f)
                       and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS)
        if not found:
            raise InputError(f"no image files in {pattern!r} (a glob such as 'photos/*.png' "
                             f"or a folder; extensions {', '.join(sorted(IMAGE_EXTENSIONS))})")
        for f in found:
            if f not in seen:
                seen.add(f)
                files.append(f)
    return files
