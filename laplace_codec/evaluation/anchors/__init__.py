"""Published Kodak rate-distortion points, bundled as reference data (figures only).

Each anchor is a JSON file next to this module, in CompressAI's results layout::

    {"name": ..., "description": ..., "source": ..., "results": {"bpp": [...], <metric>: [...]}}

with one value per rate point in every list of ``results``. Rates are bits per pixel on
the 24 Kodak images; PSNR and MS-SSIM are measured on RGB.

Anchors:

- ``vtm``: VTM (VVC reference software, intra), 8 points; bpp, psnr-rgb (dB),
  ms-ssim-rgb. Source: InterDigitalInc/CompressAI, results/image/kodak/vtm.json at commit
  3d3c9bbd92989b1cf19e122281161f7aac8ee769.
- ``bpg``: BPG 0.9.8 (x265, 4:4:4, YCbCr, 8-bit), 8 points; bpp, psnr-rgb (dB),
  ms-ssim-rgb. Source: InterDigitalInc/CompressAI,
  results/image/kodak/bpg_444_x265_ycbcr.json at commit
  3d3c9bbd92989b1cf19e122281161f7aac8ee769.
- ``elic``: ELIC, MSE-optimised, 5 points; bpp, psnr-rgb (dB). Source: He et al., ELIC,
  CVPR 2022.
- ``mlicpp``: MLIC++, MSE-optimised, 5 points; bpp, psnr-rgb (dB). Source: Jiang et al.,
  MLIC++, 2023.
- ``hific``: HiFiC, generative (GAN) codec, 2 points; bpp, lpips (lower is better).
  Source: Mentzer et al., HiFiC, NeurIPS 2020.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

_DIR = pathlib.Path(__file__).resolve().parent

__all__ = ["names", "load"]


def names() -> list[str]:
    """The bundled anchors, sorted (the JSON file names without ``.json``)."""
    return sorted(p.stem for p in _DIR.glob("*.json"))


# The 24 Kodak images (kodim01-24), by the first 16 hex digits of the SHA-256 of their
# uint8 RGB pixels: the published anchors hold for these images only.
KODAK_PIXEL_SHA256 = frozenset({
    "a002107433535944", "ae5a495df4ec40e0", "234e61f585503f2a", "e88e788fca00e6c7",
    "ed3d1ee770909d3b", "7f45158999fa297d", "4e3664bf6fe865b4", "889c3740e4ed54ca",
    "f8453140e63a4230", "fabe11b5c4f02839", "ab4dd9bf8431e717", "f412db2168e59994",
    "875703d56fb9396f", "2bd5029ee75ac169", "b5353e7511277009", "ed21745fd32fce95",
    "566bc866664e9b06", "3475af71066f3ca8", "7956408ef24222d3", "666ce8f2db5566a1",
    "2d6902daf7c4486b", "f430842120c108b6", "81992a83592267e6", "e3e3ccc3e795b82a",
})


def pixel_hash(image) -> str:
    """The key of ``KODAK_PIXEL_SHA256`` for a uint8 RGB image (H, W, 3)."""
    return hashlib.sha256(image.tobytes()).hexdigest()[:16]


def is_kodak(hashes) -> bool:
    """Whether the images of ``hashes`` (``pixel_hash``) are exactly the 24 Kodak images,
    whatever their file names: the condition for comparing with the published anchors."""
    hashes = list(hashes)
    return len(hashes) == 24 and set(hashes) == KODAK_PIXEL_SHA256


def load(name: str) -> dict:
    """The anchor ``name`` as a dict; ValueError naming the known anchors if unknown."""
    known = names()
    if name not in known:
        raise ValueError(f"unknown anchor {name!r}; known anchors: {', '.join(known)}")
    with open(_DIR / f"{name}.json", encoding="utf-8") as f:
        return json.load(f)
