"""The bundled Kodak rate-distortion anchors: loadable, well-formed, plausible."""

import numpy as np
import pytest

from laplace_codec import images
from laplace_codec.evaluation import anchors
from tests.conftest import kodak_files, requires_kodak

EXPECTED = {"bpg", "elic", "hific", "mlicpp", "vtm"}
# CompressAI's VTM and BPG sweeps reach 3.63 and 4.70 bpp at their highest quality, so the
# plausible rate range is (0, 5) rather than (0, 3); the learned-codec anchors stay below 1.
BPP_RANGE = (0.0, 5.0)
PSNR_RANGE = (20.0, 50.0)


def test_names():
    assert set(anchors.names()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_anchor_is_well_formed(name):
    anchor = anchors.load(name)
    for key in ("name", "description", "source", "results"):
        assert anchor[key], key
    results = anchor["results"]
    bpp = np.asarray(results["bpp"], dtype=float)
    assert len(bpp) >= 2
    for key, values in results.items():
        assert len(values) == len(bpp), key
    assert np.all(np.diff(bpp) > 0)
    assert np.all((bpp > BPP_RANGE[0]) & (bpp < BPP_RANGE[1]))
    assert len(results) >= 2  # a distortion metric besides bpp
    if "psnr-rgb" in results:
        psnr = np.asarray(results["psnr-rgb"], dtype=float)
        assert np.all(np.diff(psnr) > 0)
        assert np.all((psnr > PSNR_RANGE[0]) & (psnr < PSNR_RANGE[1]))
    if "ms-ssim-rgb" in results:
        ms_ssim = np.asarray(results["ms-ssim-rgb"], dtype=float)
        assert np.all(np.diff(ms_ssim) > 0)
        assert np.all((ms_ssim > 0.5) & (ms_ssim < 1.0))
    if "lpips" in results:
        lpips = np.asarray(results["lpips"], dtype=float)
        assert np.all(np.diff(lpips) < 0)
        assert np.all((lpips > 0.0) & (lpips < 1.0))


def test_vtm_beats_bpg_at_equal_rate():
    vtm, bpg = anchors.load("vtm")["results"], anchors.load("bpg")["results"]
    lo = max(vtm["bpp"][0], bpg["bpp"][0])
    hi = min(vtm["bpp"][-1], bpg["bpp"][-1])
    rates = np.geomspace(lo, hi, 50)
    log_rates = np.log(rates)
    vtm_psnr = np.interp(log_rates, np.log(vtm["bpp"]), vtm["psnr-rgb"])
    bpg_psnr = np.interp(log_rates, np.log(bpg["bpp"]), bpg["psnr-rgb"])
    assert np.all(vtm_psnr > bpg_psnr)


def test_mlicpp_beats_elic_at_equal_rate():
    elic, mlic = anchors.load("elic")["results"], anchors.load("mlicpp")["results"]
    lo = max(elic["bpp"][0], mlic["bpp"][0])
    hi = min(elic["bpp"][-1], mlic["bpp"][-1])
    rates = np.linspace(lo, hi, 50)
    assert np.all(
        np.interp(rates, mlic["bpp"], mlic["psnr-rgb"])
        > np.interp(rates, elic["bpp"], elic["psnr-rgb"])
    )


def test_unknown_anchor_raises():
    with pytest.raises(ValueError, match="known anchors: bpg, elic, hific, mlicpp, vtm"):
        anchors.load("no-such-codec")


@requires_kodak
def test_the_kodak_set_is_recognised_by_its_pixels_not_its_names():
    kodak = [images.read_image(str(p)) for p in kodak_files()]
    hashes = [anchors.pixel_hash(x) for x in kodak]
    assert anchors.is_kodak(hashes)
    assert anchors.is_kodak(hashes[::-1])  # any order (and any file names)
    assert not anchors.is_kodak(hashes[:23])
    changed = kodak[0].copy()
    changed[0, 0, 0] ^= 1
    assert not anchors.is_kodak([anchors.pixel_hash(changed)] + hashes[1:])
