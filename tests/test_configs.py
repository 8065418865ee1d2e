"""Every training config loads, describes a model that can be built, freezes only modules
that model has, and names in its docstring the command that runs it."""

import ast

import pytest

from conftest import REPO
from laplace_codec.errors import InputError
from laplace_codec.models import model as model_lib
from laplace_codec.training import config_files
from laplace_codec.training import loop as training

CONFIGS = sorted(str(p.relative_to(REPO)) for p in [*REPO.glob("configs/*.py"),
                                                    *REPO.glob("configs/cpu/*.py")]
                 if p.name != "__init__.py")


def test_the_list_holds_the_campaign_configs():
    assert {"configs/base.py", "configs/cpu/variable_long.py",
            "configs/cpu/variable_diffusion.py"} <= set(CONFIGS)


@pytest.mark.parametrize("path", CONFIGS)
def test_a_config_builds_its_model_and_names_its_command(path):
    config = config_files.load_config(str(REPO / path))
    model = model_lib.from_config(config.model)
    model_lib.decoder_for(model)  # the decoder's options are valid
    training.frozen_modules(config, model)  # raises for a module the model lacks
    docstring = ast.get_docstring(ast.parse((REPO / path).read_text()))
    assert docstring and f"--config={path}" in docstring, (
        f"{path}'s docstring should hold the command that runs it")


def test_overrides_are_parsed_as_the_fields_type():
    path = str(REPO / "configs/cpu/variable_diffusion.py")
    config = config_files.load_config(path, ["loss.unet_target=False", "model.diffusion.width=16",
                                             "model.diffusion.multipliers=(1, 4, 6, 8)",
                                             "model.diffusion.attention_levels=3",
                                             "optim.learning_rate=1e-4"])
    assert config.loss.unet_target is False  # bool("False") would be True
    assert config.model.diffusion.multipliers == (1, 4, 6, 8)  # not the string's characters
    assert config.model.diffusion.attention_levels == (3,)
    assert (config.model.diffusion.width, config.optim.learning_rate) == (16, 1e-4)
    with pytest.raises(InputError, match="cannot set loss.unet_target='maybe'"):
        config_files.load_config(path, ["loss.unet_target=maybe"])
