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

import json
import pathlib

_DIR = pathlib.Path(__file__).resolve().parent

__all__ = ["names", "load"]


def names() -> list[str]:
    """The bundled anchors, sorted (the JSON file names without ``.json``)."""
    return sorted(p.stem for p in _DIR.glob("*.json"))


def load(name: str) -> dict:
    """The anchor ``name`` as a dict; ValueError naming the known anchors if unknown."""
    known = names()
    if name not in known:
        raise ValueError(f"unknown anchor {name!r}; known anchors: {', '.join(known)}")
    with open(_DIR / f"{name}.json", encoding="utf-8") as f:
        return json.load(f)
