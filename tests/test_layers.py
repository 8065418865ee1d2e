"""The package's walls, read from its own imports (no module is imported here).

Layers, from the bottom: the foundation (``errors``, ``atomic``, ``images``, ``xla_cpu``) < ``models`` <
``coding`` < ``zoo`` < ``training`` and ``evaluation`` (side by side, neither importing the
other) < ``api`` < ``cli``. A module may import only from its own layer or below; the import
graph has no cycle; the model never touches TensorFlow or the range coder; the bitstream
knows no model; and modules import each other at the top, never inside a function. Lazy
imports stay only for heavy or optional third-party packages, each with a comment that
gives its reason on the import line or the line above.
"""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "laplace_codec"

LAYERS = {  # module prefix -> (rank, group)
    "laplace_codec.errors": (0, "foundation"),
    "laplace_codec.atomic": (0, "foundation"),
    "laplace_codec.images": (0, "foundation"),
    "laplace_codec.xla_cpu": (0, "foundation"),
    "laplace_codec.models": (1, "models"),
    "laplace_codec.coding": (2, "coding"),
    "laplace_codec.zoo": (3, "zoo"),
    "laplace_codec.training": (4, "training"),
    "laplace_codec.evaluation": (4, "evaluation"),
    "laplace_codec.api": (5, "api"),
    "laplace_codec": (6, "package"),  # __init__: the public names, from api and below
    "laplace_codec.cli": (7, "cli"),
}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> tuple[int, str]:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(node: ast.AST, known: set[str]) -> list[str]:
    """The modules an import statement names (``from pkg import mod`` names ``pkg.mod``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    out = []
    for a in node.names:
        full = f"{base}.{a.name}"
        out.append(full if full in known else base)
    return out


def imports(path: pathlib.Path, known: set[str]):
    """(module imported, line, inside a function?) for every import statement of a file."""
    tree = ast.parse(path.read_text())
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner |= {id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name in resolve(node, known):
                yield name, node.lineno, id(node) in inner


def own_graph() -> dict[str, set[str]]:
    known = set(modules())
    return {m: {name for name, _, _ in imports(p, known) if name.startswith("laplace_codec")}
            for m, p in modules().items()}


def test_every_module_has_a_layer():
    for m in modules():
        assert layer(m), m


def test_layers_import_only_downwards():
    wrong = []
    for m, targets in own_graph().items():
        rank, group = layer(m)
        for t in targets:
            t_rank, t_group = layer(t)
            if t_rank > rank or (t_rank == rank and t_group != group):
                wrong.append(f"{m} ({group}) imports {t} ({t_group})")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = own_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if t == m or t == "laplace_codec":
                continue  # a package importing its own submodule, or the top-level package
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t in graph and not state.get(t):
                visit(t, stack + [t])
        state[m] = 2

    for m in sorted(graph):
        if not state.get(m):
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_models_never_import_tensorflow_or_the_coder():
    known = set(modules())
    bad = [f"{m}:{line} imports {name}" for m, p in modules().items()
           if m.startswith("laplace_codec.models")
           for name, line, _ in imports(p, known)
           if name.split(".")[0] in ("tensorflow", "tensorflow_compression_ops")
           or name.startswith("laplace_codec.coding")]
    assert not bad, bad


def test_bitstream_knows_no_model():
    known = set(modules())
    path = modules()["laplace_codec.coding.bitstream"]
    names = {name for name, _, _ in imports(path, known)}
    assert not {n for n in names if n.split(".")[0] in ("jax", "flax", "numpy", "tensorflow")}
    assert not {n for n in names if n.startswith(("laplace_codec.models",
                                                  "laplace_codec.coding.codec"))}


def test_no_imports_inside_functions_between_own_modules():
    known = set(modules())
    bad = [f"{p.relative_to(PACKAGE.parent)}:{line}: {name}" for m, p in modules().items()
           for name, line, inner in imports(p, known)
           if inner and name.startswith("laplace_codec")]
    assert not bad, "move these imports to the top of the module:\n" + "\n".join(bad)


def test_lazy_third_party_imports_give_their_reason():
    known = set(modules())
    stdlib = set(sys.stdlib_module_names)
    bad = []
    for m, p in modules().items():
        lines = p.read_text().splitlines()
        for name, line, inner in imports(p, known):
            if not inner or name.split(".")[0] in stdlib:
                continue
            if "#" not in lines[line - 1] and not lines[line - 2].strip().startswith("#"):
                bad.append(f"{p.relative_to(PACKAGE.parent)}:{line}: {name}")
    assert not bad, "lazy imports without a reason (a comment on or above the line):\n" + \
        "\n".join(bad)


@pytest.mark.parametrize("source,expected", [
    ("from laplace_codec.models import model", ["laplace_codec.models.model"]),
    ("from laplace_codec import zoo, images", ["laplace_codec.zoo", "laplace_codec.images"]),
    ("from laplace_codec.errors import InputError", ["laplace_codec.errors"]),
    ("import jax.numpy as jnp", ["jax.numpy"]),
])
def test_resolve_names_the_imported_module(source, expected):
    assert resolve(ast.parse(source).body[0], set(modules())) == expected
