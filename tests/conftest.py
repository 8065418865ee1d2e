"""Shared fixtures: one trained test checkpoint per session (about 80 s here).

The suite runs in two pytest-xdist workers, a test file each at a time (``-n 2 --dist
loadfile`` in setup.cfg; ``-n 0`` runs it in one process): a trained test model is built
once, by the first worker that needs it (:func:`shared_folder`).

The checkpoint is trained with ``configs/test.py`` on ``../shared/data/train`` when that
folder exists (so it is calibrated on real photographs, never on Kodak), otherwise on the
built-in scikit-image photographs.
"""

import fcntl
import os
import pathlib
import shutil
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# The project's images live beside the repository; LAPLACE_CODEC_DATA may point elsewhere.
SHARED_DATA = pathlib.Path(os.environ.get("LAPLACE_CODEC_DATA", REPO.parent / "shared" / "data"))
KODAK = SHARED_DATA / "kodak"
TRAIN = SHARED_DATA / "train"


def pytest_configure(config):
    """One fresh JAX compilation cache for the session, shared with the subprocesses that
    tests start (train.py, evaluate.py, the CLI), so identical programs compile once.

    Under pytest-xdist each worker gets a folder of its own inside it: JAX writes cache
    entries without a lock, and a worker must never read one that the other is writing.
    """
    if "LAPLACE_CODEC_CACHE" not in os.environ:
        os.environ["LAPLACE_CODEC_CACHE"] = tempfile.mkdtemp(prefix="laplace-codec-jax-")
        config._laplace_codec_cache = os.environ["LAPLACE_CODEC_CACHE"]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ["LAPLACE_CODEC_CACHE"] = os.path.join(os.environ["LAPLACE_CODEC_CACHE"], worker)
    from laplace_codec.coding.codec import enable_compilation_cache

    enable_compilation_cache()


# ``pytest -m "not slow"``: the daily subset (a few minutes). These fixtures train the
# Laplacian, diffusion and variable-rate test models, and these modules run notebooks,
# several processes or eight devices; CI runs everything.
SLOW_FIXTURES = {"trained_laplacian_workdir", "laplacian_codec", "trained_diffusion_workdir",
                 "diffusion_codec", "variable_workdir", "variable_codec"}
SLOW_MODULES = {"test_notebooks", "test_scaling", "test_determinism", "test_fuzz",
                "test_diffusion_codec"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        fixtures = set(getattr(item, "fixturenames", ()))
        # a test parametrized over fixture names asks for them by name (request.getfixturevalue)
        if module in SLOW_MODULES or SLOW_FIXTURES & fixtures or any(
                name in item.name for name in SLOW_FIXTURES):
            item.add_marker(pytest.mark.slow)


def pytest_unconfigure(config):
    cache = getattr(config, "_laplace_codec_cache", None)
    if cache:
        shutil.rmtree(cache, ignore_errors=True)


def run_cli(*args, cwd=None, env=None, timeout=300):
    """``laplace-codec ARGS`` in a fresh Python process: the CompletedProcess (text)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "laplace_codec.cli", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def make_test_config(name="test"):
    import importlib

    return importlib.import_module(f"configs.{name}").get_config()


def shared_folder(name, tmp_path_factory, build):
    """A folder that ``build(path)`` fills once per test session: under pytest-xdist the
    first worker to ask builds it (the others wait on a lock) and every worker uses it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        path = tmp_path_factory.mktemp(name)
        build(path)
        return str(path)
    root = tmp_path_factory.getbasetemp().parent  # the session's folder, above the workers'
    path, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)  # what a failed build left
            path.mkdir()
            build(path)
            done.touch()
    return str(path)


def _train(config_name, tmp_path_factory):
    from laplace_codec.training import loop as training

    config = make_test_config(config_name)
    if TRAIN.is_dir():
        config.data.train_glob = str(TRAIN / "*.png")
    return shared_folder(config_name, tmp_path_factory,
                         lambda path: training.train_and_evaluate(config, str(path)))


@pytest.fixture(scope="session")
def trained_workdir(tmp_path_factory):
    """configs/test.py (hyperprior), trained."""
    return _train("test", tmp_path_factory)


@pytest.fixture(scope="session")
def trained_laplacian_workdir(tmp_path_factory):
    """configs/test_laplacian.py (the paper's entropy model, tiny), trained."""
    return _train("test_laplacian", tmp_path_factory)


@pytest.fixture(scope="session")
def trained_diffusion_workdir(tmp_path_factory):
    """configs/test_diffusion.py (hyperprior + tiny diffusion decoder), trained briefly."""
    return _train("test_diffusion", tmp_path_factory)


@pytest.fixture(scope="session")
def diffusion_codec(trained_diffusion_workdir):
    import laplace_codec

    return laplace_codec.load(trained_diffusion_workdir)


@pytest.fixture(scope="session")
def codec(trained_workdir):
    import laplace_codec

    return laplace_codec.load(trained_workdir)


@pytest.fixture(scope="session")
def laplacian_codec(trained_laplacian_workdir):
    import laplace_codec

    return laplace_codec.load(trained_laplacian_workdir)


@pytest.fixture(scope="session")
def photo():
    """A real photograph (uint8 RGB) from scikit-image's bundled data."""
    from laplace_codec import images

    return images.read_image("sample:astronaut")


def kodak_files():
    return sorted(KODAK.glob("*.png")) if KODAK.is_dir() else []


requires_kodak = pytest.mark.skipif(
    not kodak_files(), reason=f"Kodak images not found at {KODAK}; this test needs "
                              f"../shared/data/kodak beside the repository")
