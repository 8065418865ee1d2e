"""Every notebook runs top to bottom headlessly, on the tiny test models (its parameters cell
replaced), within a time bound, so the notebooks never rot."""

import pytest

from benchmarks.notebooks import run_notebook as _run

TIMEOUT_S = 300  # per cell


def run_notebook(name: str, parameters: str):
    """Executes notebooks/NAME with its "parameters" cell replaced; returns (nb, seconds)."""
    pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    return _run(name, parameters, timeout_s=TIMEOUT_S)


def outputs(nb) -> str:
    """All text the notebook printed."""
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(text)


def images_shown(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells
               for out in cell.get("outputs", []))


def test_quickstart(trained_laplacian_workdir):
    nb, seconds = run_notebook("quickstart.ipynb", f"MODEL = {trained_laplacian_workdir!r}\n"
                                                   f"IMAGE = 'sample:coffee'\n")
    text = outputs(nb)
    assert "entropy model laplacian" in text and "bpp; PSNR" in text
    assert "decoder       MSE synthesis" in text  # the header, worded as `laplace-codec info`
    assert images_shown(nb) >= 1
    print(f"quickstart.ipynb: {seconds:.0f} s")


def test_train_your_own(tmp_path):
    nb, seconds = run_notebook("train_your_own.ipynb", f"IMAGES = ''\nSTEPS = 5\n"
                                                       f"WORKDIR = {str(tmp_path)!r}\n"
                                                       f"EVAL_IMAGES = ['sample:coffee']\n")
    text = outputs(nb)
    assert "trained 5 steps" in text and "JPEG q=" in text and "model my-model@" in text
    assert (tmp_path / "zoo" / "my-model.npz").is_file()
    print(f"train_your_own.ipynb: {seconds:.0f} s")


def test_entropy_model(trained_laplacian_workdir):
    nb, seconds = run_notebook("entropy_model.ipynb", f"MODEL = {trained_laplacian_workdir!r}\n"
                                                      f"IMAGE = 'sample:coffee'\n")
    text = outputs(nb)
    assert "chunks [2, 2, 4, 8, 16]" in text and "of which z" in text
    assert images_shown(nb) == 3  # biases, bits per chunk, checkerboard
    print(f"entropy_model.ipynb: {seconds:.0f} s")


def test_diffusion_decoder(trained_diffusion_workdir):
    nb, seconds = run_notebook("diffusion_decoder.ipynb",
                               f"MODEL = {trained_diffusion_workdir!r}\n"
                               f"IMAGE = 'sample:astronaut'\nCROP = 64\n"
                               f"STEP_COUNTS = (2,)\nTRAJECTORY_STEPS = 3\n")
    text = outputs(nb)
    assert text.count("ddim ") == 1 and text.count("ancestral ") == 1
    assert images_shown(nb) == 3  # schedule, forward process, trajectory
    print(f"diffusion_decoder.ipynb: {seconds:.0f} s")
