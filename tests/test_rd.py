"""Bjontegaard deltas against hand-made curves, and the RD plot."""

import pytest

from laplace_codec.evaluation import rd

ANCHOR = {"name": "anchor", "results": {"bpp": [0.1, 0.2, 0.4, 0.8],
                                        "psnr-rgb": [28.0, 30.5, 33.0, 35.5]}}


def test_bd_rate_of_a_curve_against_itself_is_zero():
    assert abs(rd.bd_rate(ANCHOR, ANCHOR)) < 1e-9
    assert abs(rd.bd_psnr(ANCHOR, ANCHOR)) < 1e-9


def test_ten_percent_more_bits_everywhere_is_plus_ten_percent():
    worse = {"name": "worse", "results": dict(ANCHOR["results"])}
    worse["results"]["bpp"] = [1.1 * r for r in ANCHOR["results"]["bpp"]]
    assert rd.bd_rate(ANCHOR, worse) == pytest.approx(10.0, abs=0.05)
    better = {"name": "better", "results": dict(ANCHOR["results"])}
    better["results"]["bpp"] = [0.9 * r for r in ANCHOR["results"]["bpp"]]
    assert rd.bd_rate(ANCHOR, better) == pytest.approx(-10.0, abs=0.05)


def test_half_a_db_better_everywhere_is_bd_psnr_half_a_db():
    up = {"name": "up", "results": {"bpp": ANCHOR["results"]["bpp"],
                                    "psnr-rgb": [p + 0.5 for p in ANCHOR["results"]["psnr-rgb"]]}}
    assert rd.bd_psnr(ANCHOR, up) == pytest.approx(0.5, abs=1e-6)


def test_a_single_point_is_refused():
    with pytest.raises(ValueError, match="at least 2 points"):
        rd.bd_rate(ANCHOR, {"name": "one", "results": {"bpp": [0.3], "psnr-rgb": [31.0]}})


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "rd.png"
    curves = [ANCHOR, {"name": "x", "results": {"bpp": [0.2, 0.5], "psnr-rgb": [31, 34],
                                                "lpips": [0.2, 0.1]}}]
    rd.plot(curves, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
