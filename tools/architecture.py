"""The model's architecture as a Mermaid flowchart, read off the code itself.

The README's figure is the output of

    python -m tools.architecture --config=configs/cpu/laplacian.py

Modules, parameter counts, tensor shapes (for a 768x512 image), chunk widths and context
networks come from tracing the Flax module abstractly (``jax.eval_shape``: no weights are
computed); only the data flow between the top-level modules is written here, and it must
name every top-level module the model has, so a new module cannot be left out of the figure
silently. ``tests/test_architecture.py`` checks that the README holds the current figure.
"""

from __future__ import annotations

import argparse
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from laplace_codec.atomic import atomic_write
from laplace_codec.errors import InputError
from laplace_codec.models import model as model_lib
from laplace_codec.training import config_files

README_BEGIN = "<!-- architecture: begin -->"
README_END = "<!-- architecture: end -->"

# (source, module, destination) of CompressionModel.__call__, in order.
FLOW = (
    ("x", "g_a", "y"),
    ("y", "h_a", "z"),
    ("z", "z_prior", "z_hat"),
    ("z_hat", "h_s", "hyper"),
    ("y", "y_model", "y_hat"),
    ("hyper", "y_model", "y_hat"),
    ("y_hat", "g_s", "x_hat"),
)
DIFFUSION_FLOW = (("y_hat", "g_s", "pyramid"), ("pyramid", "phi", "x_hat"))
# Variable rate: the quality sets the gains that scale y and z before quantisation (and
# their inverses after it).
GAIN_FLOW = (("quality", "y_gain", "y"), ("quality", "z_gain", "z"))
ROLE = {
    "g_a": "analysis transform",
    "h_a": "hyper analysis",
    "z_prior": "factorized prior, Q, range coder",
    "h_s": "hyper synthesis",
    "y_model": "entropy model of y, Q, range coder",
    "g_s": "synthesis transform",
    "phi": "blurring-diffusion U-Net",
    "y_gain": "gain units on y (variable rate)",
    "z_gain": "gain units on z (variable rate)",
}


def _count(tree) -> int:
    return int(sum(np.prod(a.shape) for a in jax.tree_util.tree_leaves(tree)))


def _shape(a) -> str:
    return "x".join(str(d) for d in a.shape[1:])


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 10_000 else f"{n:,}"


def describe(model_config: ml_collections.ConfigDict, height: int = 512,
             width: int = 768) -> dict:
    """Modules (parameters, output shapes) and, for the Laplacian model, its chunks, of the
    model of ``model_config`` traced on one ``height`` x ``width`` image."""
    if height % model_lib.PAD_MULTIPLE or width % model_lib.PAD_MULTIPLE or height <= 0 \
            or width <= 0:
        raise InputError(f"height and width must be positive multiples of "
                         f"{model_lib.PAD_MULTIPLE}, got {height}x{width}")
    model = model_lib.from_config(model_config)
    x = jnp.zeros((1, height, width, 3), jnp.float32)
    rngs = {"params": jax.random.PRNGKey(0), "noise": jax.random.PRNGKey(1)}
    # A diffusion decoder (phi, conditioned on the g_s pyramid, samples the image) runs phi
    # in the training forward only.
    diffusion = train = model_lib.decoder_for(model).samples
    out, variables = jax.eval_shape(lambda: model.init_with_output(
        rngs, x, train=train, quality=model_lib.default_quality(model, batch=1),
        capture_intermediates=True))
    params, inter = variables["params"], variables["intermediates"]
    flow = FLOW
    if diffusion:  # g_s gives phi's condition, phi the image
        flow = tuple(e for e in FLOW if e[1] != "g_s") + DIFFUSION_FLOW
    if model.rate_lmbdas:
        flow += GAIN_FLOW
    named = {m for _, m, _ in flow}
    missing = sorted(set(params) - named)
    if missing:
        raise RuntimeError(f"modules {missing} are not in architecture.FLOW; add them there")
    tensors = {"x": _shape(x), "y": _shape(inter["g_a"]["__call__"][0]),
               "z": _shape(inter["h_a"]["__call__"][0]),
               "hyper": _shape(inter["h_s"]["__call__"][0]), "y_hat": _shape(out["y_hat"])}
    tensors["z_hat"] = tensors["z"]
    tensors["x_hat"] = tensors["x"]
    if model.rate_lmbdas:
        tensors["quality"] = f"1 to {len(model.rate_lmbdas)}"
    if diffusion:
        tensors["pyramid"] = ", ".join(_shape(a) for a in inter["g_s"]["__call__"][0])
    modules = {name: {"class": type(getattr(model.bind(variables), name)).__name__,
                      "params": _count(params[name])} for name in params}
    chunks = []
    y_params = params["y_model"]
    bounds = model_lib.entropy_model(model).chunks() if model.entropy == "laplacian" else []
    for j, (start, stop) in enumerate(bounds):
        has = lambda net: f"{net}_{j}" in y_params  # noqa: E731
        inputs = ["hyper"] + (["channel_ctx"] if f"channel_ctx_{j - 1}" in y_params else [])
        blocks = len([k for k in y_params.get(f"global_ctx_{j}", {}) if k.startswith("block")])
        if has("serial_net"):
            steps = ["position by position: " + " + ".join(inputs + ["serial_ctx"])
                     + " -> serial_net"]
        elif has("nonanchor_net"):
            extra = ["local_ctx"] + ([f"global_ctx ({blocks} Swin blocks)"]
                                     if has("global_ctx") else [])
            steps = ["anchors: " + " + ".join(inputs) + " -> anchor_net",
                     "non-anchors: + " + " + ".join(extra) + " -> nonanchor_net"]
        else:
            steps = ["all positions: " + " + ".join(inputs) + " -> anchor_net"]
        chunks.append({"channels": stop - start, "steps": steps})
    return {"decoder": model.decoder, "entropy": model.entropy,
            "entropy_options": dict(model.entropy_options), "flow": flow, "tensors": tensors,
            "modules": modules, "chunks": chunks, "total_params": _count(params),
            "image": f"{width}x{height}"}


def mermaid(d: dict) -> str:
    """A Mermaid ``flowchart`` of ``describe``'s result."""
    lines = ["flowchart LR"]
    for name, shape in d["tensors"].items():
        lines.append(f'  {name}(["{name}<br/>{shape}"])')
    for name, m in d["modules"].items():
        if name == "y_model" and d["chunks"]:
            continue
        lines.append(f'  {name}["{name}: {m["class"]}<br/>{ROLE[name]}<br/>'
                     f'{_millions(m["params"])} params"]')
    if d["chunks"]:
        opts = d["entropy_options"]
        m = d["modules"]["y_model"]
        lines.append(f'  subgraph y_model ["y_model: {m["class"]}, {_millions(m["params"])} '
                     f'params; spatial={opts.get("spatial")}, position={opts.get("position")}"]')
        lines.append("    direction TB")
        for j, c in enumerate(d["chunks"]):
            detail = "<br/>".join(c["steps"])
            lines.append(f'    chunk_{j}["chunk {j}: {c["channels"]} channels<br/>{detail}"]')
        for j in range(1, len(d["chunks"])):
            lines.append(f"    chunk_{j - 1} --> chunk_{j}")
        lines.append("  end")
    for src, module in dict.fromkeys((src, m) for src, m, _ in d["flow"]):
        lines.append(f"  {src} --> {module}")
    for dst in dict.fromkeys((m, dst) for _, m, dst in d["flow"]):
        lines.append(f"  {dst[0]} --> {dst[1]}")
    return "\n".join(lines) + "\n"


def readme_block(d: dict, command: str) -> str:
    """The README section between the markers: the command and the figure."""
    return (f"{README_BEGIN}\n"
            f"Drawn by `{command}` (shapes H x W x C for a {d['image']} image; "
            f"{_millions(d['total_params'])} parameters in all):\n\n```mermaid\n{mermaid(d)}```\n{README_END}")


def replace_in(text: str, block: str) -> str:
    pattern = re.compile(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise InputError(f"no {README_BEGIN} ... {README_END} section in the text")
    return pattern.sub(lambda _: block, text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/cpu/laplacian.py")
    parser.add_argument("--readme", help="rewrite the figure in this README in place")
    args = parser.parse_args(argv)
    config = config_files.load_config(args.config)
    d = describe(config.model)
    command = f"python -m tools.architecture --config={args.config}"
    if args.readme:
        with open(args.readme) as f:
            text = f.read()

        atomic_write(args.readme, replace_in(text, readme_block(d, command)).encode())
    else:
        print(mermaid(d), end="")


if __name__ == "__main__":
    main()
