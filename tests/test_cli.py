"""The laplace-codec command line, run as a separate process."""

import argparse
import os

import numpy as np
import pytest

from laplace_codec import cli, images
from laplace_codec.coding import refine
from tests.conftest import run_cli as run


def test_compress_info_decompress_round_trip(trained_workdir, codec, tmp_path):
    src = tmp_path / "in.png"
    photo = images.read_image("sample:coffee")[:150, :230]
    images.write_image(str(src), photo)
    lgc, rec = tmp_path / "out.lgc", tmp_path / "rec.png"
    done = run("compress", "--ckpt", trained_workdir, str(src), str(lgc))
    assert done.returncode == 0, done.stderr
    assert "bpp" in done.stdout and "encode" in done.stdout
    info = run("info", str(lgc))
    assert info.returncode == 0 and codec.model_id in info.stdout and "230x150" in info.stdout
    done = run("decompress", "--ckpt", trained_workdir, str(lgc), str(rec))
    assert done.returncode == 0, done.stderr
    # The CLI's file decodes to exactly what the library decodes from it.
    np.testing.assert_array_equal(images.read_image(str(rec)),
                                  codec.decompress(lgc.read_bytes()))


@pytest.mark.parametrize("args, message", [
    (["info", "missing.lgc"], "not found"),
    (["info", "garbage.lgc"], "wrong magic"),
    (["compress", "--ckpt", "nowhere", "sample:coffee", "x.lgc"], "not found"),
    (["decompress", "truncated.lgc", "x.png"], "truncated"),
])
def test_user_errors_print_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "garbage.lgc").write_bytes(b"hello world")
    (tmp_path / "truncated.lgc").write_bytes(b"LGCF\x01")
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_build_tables_restores_a_checkpoint_without_tables(trained_workdir, codec, tmp_path):
    import shutil

    from laplace_codec.training import checkpoint

    copy = tmp_path / "ckpt"
    shutil.copytree(trained_workdir, copy)
    directory, step = checkpoint.resolve(str(copy))
    shutil.rmtree(os.path.join(directory, str(step), "tables"))
    done = run("compress", "--ckpt", str(copy), "sample:coffee", str(tmp_path / "x.lgc"))
    assert done.returncode == 2 and "build-tables" in done.stderr
    done = run("build-tables", "--ckpt", str(copy))
    assert done.returncode == 0, done.stderr
    # Same weights, rebuilt tables: the same model identity, so old files still decode.
    import laplace_codec

    rebuilt = laplace_codec.load(str(copy))
    assert rebuilt.model_hash == codec.model_hash


def test_many_files_one_start_up_and_outputs_are_kept_unless_forced(trained_workdir, codec,
                                                                     tmp_path):
    sources = []
    for name in ("coffee", "chelsea"):
        sources.append(tmp_path / f"{name}.png")
        images.write_image(str(sources[-1]), images.read_image(f"sample:{name}")[:96, :128])
    lgc_dir, rec_dir = tmp_path / "lgc", tmp_path / "rec"
    lgc_dir.mkdir()
    rec_dir.mkdir()
    done = run("compress", "--ckpt", trained_workdir, "--psnr", *sources, "--out-dir", lgc_dir)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(lgc_dir)) == ["chelsea.lgc", "coffee.lgc"]
    assert done.stdout.count("PSNR") == 2 and "total" in done.stdout
    # --psnr reports the PSNR of what the file decodes to
    x = images.read_image(str(sources[0]))
    x_hat = codec.decompress((lgc_dir / "coffee.lgc").read_bytes())
    mse = np.mean((x.astype(float) - x_hat) ** 2)
    assert f"PSNR {10 * np.log10(255 ** 2 / mse):.2f} dB" in done.stdout
    files = sorted(lgc_dir.iterdir())
    done = run("decompress", "--ckpt", trained_workdir, *files, "--out-dir", rec_dir)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(images.read_image(str(rec_dir / "coffee.png")), x_hat)
    again = run("decompress", "--ckpt", trained_workdir, *files, "--out-dir", rec_dir)
    assert again.returncode == 2 and "pass -f/--force to overwrite" in again.stderr
    lossy = run("decompress", "--ckpt", trained_workdir, files[0], "-o", tmp_path / "rec.jpg")
    assert lossy.returncode == 0 and "rec.jpg is a lossy format" in lossy.stderr
    two = run("compress", "--ckpt", trained_workdir, *sources, tmp_path / "x.lgc")
    assert two.returncode == 2 and "several inputs and --out-dir" in two.stderr


@pytest.mark.parametrize("command, suffix", [("compress", ".lgc"), ("decompress", ".png")])
def test_output_flag_names_the_output_of_one_input(command, suffix):
    args = cli.build_parser().parse_args([command, "in", "-o", "x" + suffix])
    assert cli._pairs(args.paths, args.out_dir, suffix, args.output) == [("in", "x" + suffix)]
    args = cli.build_parser().parse_args([command, "in", "--output", "y" + suffix])
    assert cli._pairs(args.paths, args.out_dir, suffix, args.output) == [("in", "y" + suffix)]
    for paths, out_dir in ((["a", "b"], None), (["a"], "d")):  # a second output, or a folder
        with pytest.raises(cli._UsageError, match="-o/--output names the output of one input"):
            cli._pairs(paths, out_dir, suffix, "x" + suffix)


def test_version_names_the_package_and_file_formats():
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("laplace-codec 0.") and "file format versions 1, 2" in done.stdout


def test_refine_takes_a_number_of_steps_or_the_best_preset():
    assert cli._refine_steps("best") == refine.BEST_STEPS == 80
    assert cli._refine_steps("0") == 0 and cli._refine_steps("7") == 7
    for bad in ("-1", "2.5", "bestx", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="or 'best'"):
            cli._refine_steps(bad)


def test_a_closed_output_pipe_ends_quietly(monkeypatch, capsys, tmp_path):
    """`laplace-codec models | head -1`: once the reader is gone, no error line, status 141."""
    import sys

    from laplace_codec import cli

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["models"]) == 141
    assert capsys.readouterr().err == ""
