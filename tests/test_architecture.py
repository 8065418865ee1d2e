"""The architecture figure is read off the model, and the README holds the current one."""

import pytest

from conftest import REPO, make_test_config
from laplace_codec.training import config_files
from tools import architecture
from laplace_codec.models.entropy import laplacian as laplacian_entropy
from laplace_codec.errors import InputError


def test_readme_holds_the_current_figure():
    config = config_files.load_config(str(REPO / "configs/cpu/laplacian.py"))
    d = architecture.describe(config.model)
    command = "python -m tools.architecture --config=configs/cpu/laplacian.py"
    readme = (REPO / "README.md").read_text()
    assert architecture.readme_block(d, command) in readme, (
        "the README's architecture figure is stale; run "
        "python -m tools.architecture --readme README.md")


@pytest.mark.parametrize("grouping", ["uneven", "even"])
def test_chunks_shapes_and_counts_come_from_the_model(grouping):
    config = make_test_config("test_laplacian")
    config.model.laplacian.grouping = grouping
    d = architecture.describe(config.model, height=128, width=192)
    M = config.model.M
    sizes = laplacian_entropy.chunk_sizes(M, grouping)
    assert [c["channels"] for c in d["chunks"]] == list(sizes)
    assert d["tensors"]["y"] == f"8x12x{M}" and d["tensors"]["x"] == "128x192x3"
    assert d["tensors"]["z"].startswith("2x3x")
    assert sum(m["params"] for m in d["modules"].values()) == d["total_params"]
    assert "channel_ctx" not in d["chunks"][0]["steps"][0]  # the first chunk has none before it
    assert all("channel_ctx" in c["steps"][0] for c in d["chunks"][1:])


def test_hyperprior_and_diffusion_figures():
    hyper = architecture.describe(make_test_config("test").model, 64, 64)
    assert hyper["chunks"] == [] and "phi" not in hyper["modules"]
    assert 'y_model["y_model: MeanScaleHyperprior' in architecture.mermaid(hyper)
    diff = architecture.describe(make_test_config("test_diffusion").model, 64, 64)
    text = architecture.mermaid(diff)
    assert "g_s --> pyramid" in text and "pyramid --> phi" in text and "phi --> x_hat" in text
    assert "g_s --> x_hat" not in text  # the diffusion image comes from phi


def test_bad_input_is_refused(monkeypatch):
    config = make_test_config("test")
    with pytest.raises(InputError, match="multiples of 64"):
        architecture.describe(config.model, 100, 64)
    with pytest.raises(InputError, match="architecture: begin"):
        architecture.replace_in("no markers here", "x")
    monkeypatch.setattr(architecture, "FLOW", architecture.FLOW[1:])  # g_a left out
    with pytest.raises(RuntimeError, match="g_a"):
        architecture.describe(config.model, 64, 64)


@pytest.mark.parametrize("spatial, first, passes", [
    ("none", "all positions: hyper + channel_ctx -> anchor_net", 1),
    ("serial", "position by position: hyper + channel_ctx + serial_ctx -> serial_net", 1),
    ("local", "anchors: hyper + channel_ctx -> anchor_net", 2)])
def test_every_spatial_context_is_drawn_with_its_coding_passes(spatial, first, passes):
    config = make_test_config("test_laplacian")
    config.model.laplacian.spatial = spatial
    chunks = architecture.describe(config.model, 64, 64)["chunks"]
    assert len(chunks) == 5
    assert chunks[1]["steps"][0] == first and len(chunks[1]["steps"]) == passes
    if spatial == "local":
        assert chunks[1]["steps"][1] == "non-anchors: + local_ctx -> nonanchor_net"
