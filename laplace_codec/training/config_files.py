"""Config files by path: ``get_config()`` modules as ``train.py --config=FILE`` reads them,
for the sweep runner, the benchmarks and the architecture figure."""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import types

import ml_collections

from laplace_codec.errors import InputError


def load_module(path: str, name: str = "config_file") -> types.ModuleType:
    """Executes the config file at ``path`` with the working directory on ``sys.path`` (config
    files import the ``configs`` package, as when run from the repository root)."""
    if not os.path.isfile(path):
        raise InputError(f"config file not found: {path}")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.getcwd())
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.getcwd())
    if not hasattr(module, "get_config"):
        raise InputError(f"{path} is not a config file: it defines no get_config()")
    return module


def load_config(path: str, overrides=()) -> ml_collections.ConfigDict:
    """``get_config()`` of the file at ``path`` with dotted overrides applied: ``KEY=VALUE``
    strings (the value converted to the field's type) or a mapping of keys to values."""
    config = load_module(path).get_config()
    items = overrides.items() if hasattr(overrides, "items") else (
        item.split("=", 1) for item in overrides)
    for key, value in items:
        *parents, last = key.split(".")
        target = config
        try:
            for p in parents:
                target = target[p]
            if isinstance(value, str) and not isinstance(target[last], str):
                value = _parse(value, target[last])
            target[last] = value
        except (KeyError, AttributeError, TypeError, ValueError) as e:
            raise InputError(f"cannot set {key}={value!r} in {path}: {e}") from None
    return config


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _parse(text: str, current):
    """``text`` as a value of ``current``'s type: booleans by name (``bool("False")`` would
    be True), tuples and lists as Python literals (``(1, 2)``; ``tuple("(1, 2)")`` would be
    its characters), None-valued fields as a literal or else the string."""
    if isinstance(current, bool):
        if text.strip().lower() not in _BOOLEANS:
            raise ValueError(f"expected true or false, got {text!r}")
        return _BOOLEANS[text.strip().lower()]
    if isinstance(current, (tuple, list)):
        value = ast.literal_eval(text)
        if not isinstance(value, (tuple, list)):
            value = (value,)
        return type(current)(value)
    if current is None:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    return type(current)(text)
