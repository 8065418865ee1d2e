"""Image quality metrics on uint8 RGB images (H, W, 3)."""

from __future__ import annotations

import math

import numpy as np

from laplace_codec.coding import tf_backend
from laplace_codec.models import model as model_lib
from laplace_codec.models.perceptual import lpips_fn

# tf.image.ssim_multiscale with its default 5 scales and 11x11 filter needs each side of
# the coarsest scale (side / 16) to be at least the filter size.
MS_SSIM_MIN_SIDE = 11 * 16


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"metrics take uint8 images, got {a.dtype} and {b.dtype}")


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all pixels and channels, in 8-bit units."""
    _check(a, b)
    return float(np.mean(np.square(a.astype(np.float64) - b.astype(np.float64))))


def psnr_from_mse(value: float) -> float:
    return math.inf if value == 0 else 10.0 * math.log10(255.0 ** 2 / value)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over RGB (peak 255): ``10 log10(255^2 / MSE)``."""
    return psnr_from_mse(mse(a, b))


def colour_shift(a: np.ndarray, b: np.ndarray) -> list[float]:
    """The mean of each channel of ``b - a`` in 8-bit levels, [R, G, B]: a reconstruction
    ``b``'s colour cast against its original ``a`` (signed, so that a cast shared by many
    images survives their average; issue 22 asks for under 0.2 levels on Kodak)."""
    _check(a, b)
    return [float(v) for v in (b.astype(np.float64) - a.astype(np.float64)).mean(axis=(0, 1))]


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """MS-SSIM (Wang et al. 2003, tf.image defaults, RGB); None for images too small."""
    _check(a, b)
    if min(a.shape[:2]) < MS_SSIM_MIN_SIDE:
        return None
    tf = tf_backend.tf()
    value = tf.image.ssim_multiscale(tf.constant(a[None], tf.float32),
                                     tf.constant(b[None], tf.float32), max_val=255.0)
    return float(value.numpy()[0])


def lpips(a: np.ndarray, b: np.ndarray, net: str = "alexnet") -> float:
    """LPIPS distance (AlexNet by default) of two uint8 RGB images; 0 for identical ones."""
    _check(a, b)

    return float(np.asarray(lpips_fn(net)(model_lib.from_uint8(a[None]),
                                          model_lib.from_uint8(b[None])))[0])
