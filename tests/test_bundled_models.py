"""The models that ship inside the package (laplace_codec/weights): the default one codes a
Kodak image with no other file, each is what its description says, and all fit the budget."""

import json
import os

import numpy as np
import pytest

from laplace_codec.evaluation import metrics
from laplace_codec import api, zoo
from laplace_codec.errors import CheckpointError
from tests.conftest import KODAK, REPO, requires_kodak, run_cli

BUDGET_BYTES = 60 * 2**20  # issue 8: at most 60 MB of bundled models


@pytest.fixture(scope="module")
def bundled():
    """The installed models with no environment overrides: what a fresh install sees."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(zoo.DIRS_ENV, raising=False)
        mp.delenv(zoo.DEFAULT_ENV, raising=False)
        yield zoo.available()


def test_the_default_model_ships_and_the_budget_holds(bundled):
    assert zoo.DEFAULT_MODEL in bundled, (
        f"the default model {zoo.DEFAULT_MODEL} is not in {zoo.WEIGHTS_DIR}")
    total = sum(os.path.getsize(m.weights) + os.path.getsize(m.weights[:-4] + ".json")
                for m in bundled.values())
    assert total <= BUDGET_BYTES, f"bundled models take {total / 2**20:.1f} MiB"


def test_every_bundled_model_says_how_it_was_trained_and_measured(bundled):
    for name, m in bundled.items():
        assert os.path.dirname(m.weights) == zoo.WEIGHTS_DIR
        training = m.meta["training"]
        assert "kodak" not in training["data"].lower(), f"{name} was trained on Kodak"
        assert training["steps"] > 0 and training["lmbda"] > 0
        figures = m.meta["eval"]  # measured on Kodak from the stored weights at export
        assert figures["images"] == 24 and "kodak" in figures["data"]
        assert 0 < figures["bpp"] < 2 and figures["psnr"] > 20
        assert m.meta["size_bytes"] == os.path.getsize(m.weights)
        if m.meta["decoder"] == "diffusion":  # figures measured as the model decodes
            default = m.meta["config"]["model"]["diffusion"]
            assert (figures["steps"], figures["sampler"]) == (default["steps"],
                                                              default["sampler"]), name



def test_retired_models_are_gone_and_each_names_the_commit_that_ships_it(bundled):
    """A retired model must not also be installed (its name would then load, not be refused),
    and each retired name is among the retired hashes with the same commit."""
    shipped_hashes = {m.model_hash for m in bundled.values()}
    for model_hash, (name, commit) in zoo.RETIRED.items():
        assert model_hash not in shipped_hashes, f"{name}@{model_hash} is retired and shipped"
        assert len(commit) == 40 and int(commit, 16) >= 0, commit
    for name, (successor, commit) in zoo.RETIRED_NAMES.items():
        assert name not in bundled, f"{name} is retired by name and still installed"
        assert (name, commit) in zoo.RETIRED.values(), name
        assert successor.split()[0] in bundled, f"{name}'s successor is not installed"


def test_loading_a_retired_name_says_what_replaced_it_and_where_it_last_shipped(bundled):
    for name, (successor, commit) in zoo.RETIRED_NAMES.items():
        with pytest.raises(CheckpointError) as e:
            api.load(name)
        assert f"{name!r} was retired: {successor} replaced it" in str(e.value)
        assert f"git show {commit}:laplace_codec/weights/{name}.$e" in str(e.value)


@requires_kodak
def test_a_fresh_install_codes_a_kodak_image_with_the_default_model(bundled, tmp_path):
    """The CLI with no --ckpt and no --model, in a fresh process: the file decodes by its
    model hash, and bits and quality agree with the model's recorded Kodak figures."""
    from laplace_codec import images

    src = KODAK / "kodim23.png"
    lgc, rec = tmp_path / "kodim23.lgc", tmp_path / "kodim23.png"
    env = {k: v for k, v in os.environ.items() if k not in (zoo.DIRS_ENV, zoo.DEFAULT_ENV)}
    for args in (["compress", str(src), str(lgc)], ["decompress", str(lgc), str(rec)]):
        run = run_cli(*args, cwd=tmp_path, env=env, timeout=600)
        assert run.returncode == 0, run.stderr
        assert f"model {zoo.DEFAULT_MODEL}@" in run.stdout
    x, x_hat = images.read_image(str(src)), images.read_image(str(rec))
    bpp = 8 * os.path.getsize(lgc) / (x.shape[0] * x.shape[1])
    recorded = bundled[zoo.DEFAULT_MODEL].meta["eval"]
    # one image against the Kodak mean: within a factor of 2.5 in bits, 4 dB in PSNR
    assert recorded["bpp"] / 2.5 < bpp < recorded["bpp"] * 2.5
    assert abs(metrics.psnr(x, x_hat) - recorded["psnr"]) < 4.0
    assert x_hat.shape == x.shape and x_hat.dtype == np.uint8


def test_the_readme_names_the_bundled_default():
    readme = (REPO / "README.md").read_text()
    assert zoo.DEFAULT_MODEL in readme
    with open(os.path.join(zoo.WEIGHTS_DIR, zoo.DEFAULT_MODEL + ".json")) as f:
        assert json.load(f)["name"] == zoo.DEFAULT_MODEL
