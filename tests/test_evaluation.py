"""Metrics against hand computations, and evaluate.py's output fields."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from laplace_codec import images
from laplace_codec.evaluation import metrics
from tests.conftest import REPO


def test_psnr_matches_hand_computation():
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a.copy()
    b[0, 0, 0] = 110  # one error of 10 over 300 values: MSE = 100 / 300
    assert math.isclose(metrics.psnr(a, b), 10 * math.log10(255**2 / (100 / 300)))
    assert metrics.psnr(a, a) == math.inf


def test_colour_shift_is_each_channels_signed_mean_difference():
    a = np.full((4, 5, 3), 100, np.uint8)
    b = a.copy()
    b[..., 0] += 2          # red up by 2 levels everywhere
    b[0, :, 1] -= 5         # green down by 5 in one row of 4: -1.25 on average
    b[:2, :, 2] += 1        # blue up by 1 in half the image, down by 1 in the other half
    b[2:, :, 2] -= 1
    assert metrics.colour_shift(a, b) == [2.0, -1.25, 0.0]
    assert metrics.colour_shift(b, a) == [-2.0, 1.25, 0.0]
    with pytest.raises(ValueError, match="shape"):
        metrics.colour_shift(a, b[:3])


def test_ms_ssim_is_one_on_identity_and_falls_with_noise():
    x = images.read_image("sample:astronaut")
    assert math.isclose(metrics.ms_ssim(x, x), 1.0, rel_tol=1e-6)
    rng = np.random.default_rng(0)
    noisy = [np.clip(x + rng.normal(0, s, x.shape), 0, 255).astype(np.uint8) for s in (5, 20)]
    values = [metrics.ms_ssim(x, n) for n in noisy]
    assert 1.0 > values[0] > values[1]
    assert metrics.ms_ssim(x[:100, :100], x[:100, :100]) is None  # too small for 5 scales


def test_lpips_is_zero_on_identity_and_grows_with_jpeg_strength():
    import io

    from PIL import Image

    x = images.read_image("sample:astronaut")
    assert metrics.lpips(x, x) == 0.0
    values = []
    for quality in (90, 50, 10):
        buf = io.BytesIO()
        Image.fromarray(x).save(buf, format="JPEG", quality=quality)
        values.append(metrics.lpips(x, np.asarray(Image.open(buf).convert("RGB"))))
    assert 0 < values[0] < values[1] < values[2]


@pytest.mark.slow  # a subprocess that trains (or evaluates with FID)
def test_evaluate_writes_every_field_for_every_image(trained_workdir, tmp_path):
    for name in ("coffee", "chelsea"):
        images.write_image(str(tmp_path / f"{name}.png"), images.read_image(f"sample:{name}"))
    out, plot = tmp_path / "results.json", tmp_path / "rd.png"
    done = subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), "--ckpt", trained_workdir,
         "--data", str(tmp_path / "*.png"), "--out", str(out), "--classical=jpeg",
         "--anchors=vtm,bpg", f"--plot={plot}", "--fid"],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result["results"]) >= {"bpp", "estimated_bpp", "psnr-rgb", "ms-ssim-rgb",
                                      "lpips", "encoding_time", "decoding_time"}
    records = result["per_image"][0]["images"]
    assert sorted(r["image"] for r in records) == ["chelsea.png", "coffee.png"]
    for r in records:
        for key in ("bytes", "bpp", "estimated_bpp", "psnr", "ms_ssim", "lpips", "encode_s",
                    "decode_s"):
            assert isinstance(r[key], float | int) and r[key] > 0, (key, r)
        assert math.isclose(r["bpp"], 8 * r["bytes"] / (r["height"] * r["width"]))
    assert math.isclose(result["results"]["bpp"][0], np.mean([r["bpp"] for r in records]))
    np.testing.assert_allclose(result["results"]["colour-shift-rgb"][0],
                               np.mean([r["colour_shift"] for r in records], axis=0))
    assert "shift R/G/B" in done.stdout
    # Not the Kodak images: the published Kodak anchors and BD-rates against them are left
    # out, with a note (tests/test_anchors.py: the Kodak set is recognised by its pixels).
    names = [c["name"] for c in result["comparisons"]]
    assert names == ["jpeg"] and result["bd_rate"] == {}
    assert "not the 24 Kodak images" in result["note"] and "note: the images" in done.stdout
    jpeg = result["comparisons"][0]["results"]
    assert len(jpeg["bpp"]) >= 5 and np.all(np.diff(jpeg["bpp"]) > 0)
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # FID and KID on 256x256 patches (4 here: 3 of coffee, 1 of chelsea), one per curve
    # point, each with its bootstrap spread
    assert result["results"]["fid"][0] > 0 and len(jpeg["fid"]) == len(jpeg["bpp"])
    assert all(v > 0 for v in jpeg["fid"])
    for key in ("fid_std", "kid", "kid_std"):
        assert len(jpeg[key]) == len(jpeg["bpp"]) and result["results"][key][0] is not None
    assert all(s > 0 for s in jpeg["fid_std"] + jpeg["kid_std"])
    assert "KID x 1000" in done.stdout


def test_table_says_why_a_bd_rate_is_missing():
    from laplace_codec.evaluation import anchors, evaluate as evaluation

    vtm = anchors.load("vtm")
    one_point = dict(results={"bpp": [0.3], "psnr-rgb": [27.0]})
    two_points = dict(results={"bpp": [0.3, 0.5], "psnr-rgb": [27.0, 29.0]})
    assert evaluation.safe_bd_rate(vtm, one_point) is None
    assert evaluation.safe_bd_rate(vtm, two_points) > 100  # 27-29 dB: VTM needs 0.07-0.15 bpp
    result = dict(models=[], results={}, bd_rate={"vs VTM": {"one": None, "two": 307.5}})
    lines = evaluation.table(result).splitlines()
    assert lines[-1] == ("BD-rate (PSNR) vs VTM: one - (needs a curve of 2+ points overlapping "
                         "the anchor's PSNR range), two +307.5%")
