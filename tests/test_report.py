"""Comparison tables of evaluated models (tools.report)."""

import json

import pytest

from tools import report
from laplace_codec.errors import InputError


def _result(path, models, bpps, psnrs, fid=None):
    results = {"bpp": bpps, "psnr-rgb": psnrs, "ms-ssim-rgb": [0.9] * len(bpps),
               "lpips": [0.5] * len(bpps)}
    if fid:
        results["fid"] = fid
    path.write_text(json.dumps({"results": results, "models": models}))
    return str(path)


def test_bits_saved_and_timings_against_hand_figures(tmp_path):
    a = _result(tmp_path / "a.json", ["a@1"], [0.4], [30.0])
    b = _result(tmp_path / "b.json", ["b@1", "b@2"], [0.5, 0.3], [31.0, 29.5])
    bench = tmp_path / "bench.txt"
    bench.write_text('some text\n{"a_ms": 12.34, "b_ms": 100}\n')
    code = report.main(["--row", f"base={a}", "--row", f"ctx={b}@1", "--baseline", "base",
                        "--bench", str(bench), "--timing", "base=a_ms", "--timing", "ctx=b_ms"])
    assert code == 0
    rows = [report.load_row(f"base={a}"), report.load_row(f"ctx={b}@1")]
    table = report.compare(rows, "base", {"base": 12.34, "ctx": 100.0})
    lines = table.splitlines()
    assert lines[0] == ("| model | bpp | PSNR (dB) | MS-SSIM | LPIPS | bits saved vs base | "
                        "decode (ms) |")
    assert lines[2] == "| base | 0.4000 | 30.00 | 0.9000 | 0.5000 | 0.0% | 12.3 |"
    assert lines[3] == "| ctx | 0.3000 | 29.50 | 0.9000 | 0.5000 | 25.0% | 100.0 |"  # 1 - 0.3/0.4


def test_fid_column_only_when_some_row_has_it(tmp_path):
    a = _result(tmp_path / "a.json", ["a@1"], [0.4], [30.0], fid=[12.5])
    b = _result(tmp_path / "b.json", ["b@1"], [0.4], [30.0])
    table = report.compare([report.load_row(f"a={a}"), report.load_row(f"b={b}")])
    assert "| FID |" in table and table.splitlines()[2].endswith("| 12.50 |")
    assert table.splitlines()[3].endswith("| - |")
    assert "FID" not in report.compare([report.load_row(f"b={b}")])


def test_bad_rows_are_refused_with_the_fix(tmp_path, capsys):
    two = _result(tmp_path / "two.json", ["x@1", "y@2"], [0.4, 0.3], [30.0, 29.0])
    with pytest.raises(InputError, match="holds 2 models; pick one"):
        report.load_row(f"x={two}")
    with pytest.raises(InputError, match="not one of 0..1"):
        report.load_row(f"x={two}@5")
    with pytest.raises(InputError, match="LABEL=FILE"):
        report.load_row("no-label")
    with pytest.raises(InputError, match="evaluate.py --out"):
        report.load_row(f"x={tmp_path / 'missing.json'}")
    rows = [report.load_row(f"x={two}@0")]
    with pytest.raises(InputError, match="baseline 'z' is not a row label"):
        report.compare(rows, "z")
    with pytest.raises(InputError, match="repeat"):
        report.compare(rows + rows)
    assert report.main(["--row", f"x={two}@0", "--timing", "x=k"]) == 2
    assert "--timing needs --bench" in capsys.readouterr().err


def test_curves_bd_rate_of_a_curve_at_half_the_rate_is_minus_half(tmp_path):
    def result(path, name, scale):
        path.write_text(json.dumps({"name": name, "results": {
            "bpp": [scale * b for b in (0.2, 0.4, 0.8, 1.6)], "psnr-rgb": [28, 31, 34, 37]},
            "comparisons": [{"name": "jpeg", "results": {"bpp": [0.3, 0.6, 1.2, 2.4],
                                                          "psnr-rgb": [28, 31, 34, 37]}}]}))
        return str(path)

    curves = report.load_curves([result(tmp_path / "a.json", "base", 1.0),
                                 result(tmp_path / "b.json", "half", 0.5)])
    assert [c["name"] for c in curves] == ["base", "half", "jpeg"]  # jpeg once
    lines = report.bd_table(curves, ["base"]).splitlines()
    assert lines[2] == "| base | 4 | 0.200-1.600 | - |"  # not against itself
    assert lines[3] == "| half | 4 | 0.100-0.800 | -50.0% |"
    assert lines[4] == "| jpeg | 4 | 0.300-2.400 | +50.0% |"
    with pytest.raises(InputError, match="neither a loaded curve"):
        report.bd_table(curves, ["nope"])
    plot = tmp_path / "rd.png"
    assert report.main(["--curve", str(tmp_path / "a.json"), "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert report.main(["--curve", str(tmp_path / "a.json"), "--row", "x=y"]) == 2
