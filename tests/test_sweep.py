"""Sweep files: the point vocabulary and the commands they expand to."""

import ast

import pytest

from laplace_codec.errors import InputError
from laplace_codec.models import model as model_lib
from laplace_codec.training import config_files, sweep
from tests.conftest import REPO

H = sweep.Hyper()


def test_product_zip_and_chain_build_the_expected_points():
    points = H.product([H.sweep("config.a", [1, 2]), H.sweep("config.b", ["x", "y"])])
    assert points == [{"config.a": 1, "config.b": "x"}, {"config.a": 1, "config.b": "y"},
                      {"config.a": 2, "config.b": "x"}, {"config.a": 2, "config.b": "y"}]
    assert H.zipit([H.sweep("config.a", [1, 2]), H.sweep("config.b", [3, 4])]) == [
        {"config.a": 1, "config.b": 3}, {"config.a": 2, "config.b": 4}]
    assert H.chainit([H.fixed("config.a", 0), H.sweep("config.a", [1])]) == [
        {"config.a": 0}, {"config.a": 1}]
    with pytest.raises(ValueError):
        H.zipit([H.sweep("config.a", [1, 2]), H.sweep("config.b", [3])])


def test_the_ablation_sweeps_expand_to_named_train_commands():
    cmds = sweep.commands(str(REPO / "configs/sweeps/context.py"), "runs/x", [])
    workdirs = [c[3] for c in cmds]
    assert workdirs == [
        "--workdir=runs/x/entropy=hyperprior",
        "--workdir=runs/x/entropy=laplacian,spatial=none",
        "--workdir=runs/x/entropy=laplacian,spatial=local",
        "--workdir=runs/x/entropy=laplacian,spatial=local_global,position=laplacian",
        "--workdir=runs/x/entropy=laplacian,spatial=serial"]
    assert "--config.model.laplacian.spatial=local" in cmds[2]
    assert "--config.name=entropy=hyperprior" in cmds[0]
    pe = sweep.commands(str(REPO / "configs/sweeps/pe.py"), "runs/x", [])
    assert pe[-1][3] == workdirs[3]  # the shared point trains once for both tables
    grouping = sweep.commands(str(REPO / "configs/sweeps/grouping.py"), "runs/x", [])
    assert grouping[0][3] == workdirs[3]
    assert grouping[1][3].endswith("position=laplacian,grouping=even")


def test_the_zoo_sweep_names_points_and_fine_tunes_from_the_base():
    cmds = sweep.commands(str(REPO / "configs/sweeps/zoo.py"), "runs/zoo", [],
                          only="hyperprior-mse")
    assert [c[3] for c in cmds] == [f"--workdir=runs/zoo/hyperprior-mse-{l}"
                                    for l in (0.01, 0.005, 0.02, 0.04)]
    assert "--config.train.init_from=runs/zoo/hyperprior-mse-0.01" in cmds[1]
    assert "--config.loss.lmbda=0.005" in cmds[1]
    assert not any(a.startswith("--config.train.init_from") for a in cmds[0])
    with pytest.raises(InputError, match="no point's name contains 'nope'"):
        sweep.commands(str(REPO / "configs/sweeps/zoo.py"), "runs/zoo", [], only="nope")


def point_configs(path: str, only: str | None = None) -> list:
    """(train command, config) of every point of the sweep file ``path`` (or of those whose
    name contains ``only``), each config with its point's overrides."""
    points = []
    for command in sweep.commands(str(REPO / path), "runs/x", [], only=only):
        overrides = [arg[len("--config."):] for arg in command if arg.startswith("--config.")]
        points.append((command, config_files.load_config(str(REPO / path), overrides)))
    return points


def test_the_sigma_b_sweep_sits_on_the_codec_it_names():
    """Table 1a's decoders train on the frozen MSE codec laplacian-mse-0.01 exactly as
    configs/sweeps/zoo_diffusion.py's lambda = 0.01 point does (model sizes, lambda, steps,
    frozen modules), so its sigma_B_max = 25 point is that point, laplacian-diffusion-0.01
    (in the zoo until 0.5.6): every point differs from it in sigma_B_max, name and logging."""
    from configs.sweeps import sigma_b

    ((_, zoo_point),) = point_configs("configs/sweeps/zoo_diffusion.py",
                                      only="laplacian-diffusion-0.01")
    assert zoo_point.train.init_from == sigma_b.MSE_CODEC
    assert zoo_point.model.diffusion.sigma_b_max == 25.0
    assert set(zoo_point.train.freeze.split(",")) == {"g_a", "h_a", "h_s", "z_prior",
                                                      "y_model", "g_s"}
    decoders = [config for _, config in point_configs("configs/sweeps/sigma_b.py")]
    assert 25.0 in [d.model.diffusion.sigma_b_max for d in decoders]
    for d in decoders:
        d.model.diffusion.sigma_b_max = zoo_point.model.diffusion.sigma_b_max
        d.name, d.train.log_every = zoo_point.name, zoo_point.train.log_every
        assert d.to_dict() == zoo_point.to_dict()


SWEEPS = sorted(str(p.relative_to(REPO)) for p in REPO.glob("configs/sweeps/*.py")
                if p.name != "__init__.py")


@pytest.mark.parametrize("path", SWEEPS)
def test_every_sweep_file_names_its_command_and_its_points_build_their_models(path):
    points = point_configs(path)
    workdirs = [command[3] for command, _ in points]
    assert points and len(set(workdirs)) == len(workdirs), f"{path}: points share a workdir"
    for command, config in points:
        model_lib.decoder_for(model_lib.from_config(config.model))
        assert f"--workdir=runs/x/{config.name}" == command[3]
    docstring = ast.get_docstring(ast.parse((REPO / path).read_text()))
    assert docstring and f"--sweep={path}" in docstring, (
        f"{path}'s docstring should hold the command that runs it")
