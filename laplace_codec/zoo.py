"""Trained models that ship inside the package (the model zoo).

    laplace-codec models                                  # lists them
    laplace-codec compress photo.png photo.lgc            # the default model
    laplace-codec compress --model NAME photo.png photo.lgc
    laplace-codec compress --target-bpp 0.3 photo.png photo.lgc
    laplace-codec decompress photo.lgc photo_hat.png      # finds the file's model by its hash

A zoo model is two files in ``laplace_codec/weights/`` (or in a directory listed in
``$LAPLACE_CODEC_MODELS``, searched first):

- ``NAME.npz`` (zip-compressed): the weights and the integer coding tables. Large
  convolution and dense kernels are stored as int8 with one float32 scale per output
  channel (``precision "int8"``) or as float16; other arrays stay float32. Encoder and decoder both expand the
  same stored numbers to the same float32 weights, so round trips stay exact; the tables
  are built from those expanded weights.
- ``NAME.json``: what the model is: its config, how it was trained (steps, data, lambda),
  the model hash written into every file it codes (checked at load), and its own Kodak
  figures, measured on the stored weights by :func:`export`.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from laplace_codec.errors import CheckpointError

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
DIRS_ENV = "LAPLACE_CODEC_MODELS"
DEFAULT_ENV = "LAPLACE_CODEC_DEFAULT_MODEL"
# The model `compress` uses without --ckpt or --model (README: "Bundled models").
DEFAULT_MODEL = "laplacian-mse-vr"
PRECISIONS = ("int8", "float16", "float32")
QUANTIZED_MIN_SIZE = 1024  # smaller arrays (biases, GDN of narrow layers) stay float32
META_VERSION = 1
# The last commits that ship the fixed-rate MSE models and the fixed-rate diffusion models.
FIXED_RATE_LAST = "e5be7a46f1e808f3c0d5cdf89f6dd8e2c92a8646"
FIXED_RATE_DIFFUSION_LAST = "3106a9c3a09389e8e4f7bd8f84226861572172c2"
# Models that shipped once and were replaced (a better export under the same name, or a
# retired family): model hash -> (name, the last commit that ships it). Their files are
# refused with the way to decode them, instead of "not a bundled model".
RETIRED: dict[str, tuple[str, str]] = {
    "9ed73bb6951c56cd": ("laplacian-mse-vr", "47a977bd0185f5a2398b4562d77868ca0901d2d2"),  # 12000+9000 steps
    "ee5224d2d4910bda": ("laplacian-mse-vr", "a313ab4bec1889c8de656082417811f42c8f3c31"),  # 12000+9000+10000 steps
    "6ad3bcde117b17af": ("laplacian-mse-vr", "51d5e8f9b16c1dbc0c5a60266c81b5f6e42ddd9a"),  # 12000+9000+20000 steps
    "02e258eca438283c": ("laplacian-mse-vr", "7880adf9ed5bb9394a248902828da72df1442bec"),  # 12000+9000+34000 steps
    "0f9bebec9714415b": ("laplacian-mse-vr", "ef77200ed74e02e92f2397ce3da8041cba6b1c1e"),  # 12000+9000+46000 steps
    "5a2faa467ff95f25": ("laplacian-mse-vr", "3c78621d3708cb162afd5fc4d76820a60fae5a8a"),  # 12000+9000+66000 steps
    "d1965feb185f8374": ("laplacian-mse-vr", "5e55231a481aa08898ff677643a632c4352a94c9"),  # 12000+9000+86000 steps
    "ff0a35c4158beccc": ("laplacian-mse-vr", "035418ecdeb9638a04e08322a16ee9b7b39147e2"),  # 12000+9000+94720 steps
    "19a6c03b15fee553": ("laplacian-mse-vr", "ec0db07ab7922bfead0fac19eb3b7a025a1d5c28"),  # 12000+9000+101512 steps
    "95e3cfd16d1d765d": ("laplacian-diffusion-vr", "a409b3a7418199d0aa15f598fc004357b83c8107"),  # 2000 decoder steps
}
# The fixed-rate MSE family that the variable-rate models replaced in version 0.5.0:
# model hash -> name.
_FIXED_RATE_MSE = {
    "c126b7983551a76a": "laplacian-mse-0.005",
    "57d761f9669ea3e3": "laplacian-mse-0.01",
    "c3e248c7960e1567": "laplacian-mse-0.02",
    "2f5bf3675419ee14": "laplacian-mse-0.04",
    "511468985dada9cb": "hyperprior-mse-0.005",
    "15b369ae2d90041d": "hyperprior-mse-0.01",
    "cc233fdb2e262322": "hyperprior-mse-0.02",
    "042e09cdeb5238c7": "hyperprior-mse-0.04",
}
# The fixed-rate diffusion decoders that laplacian-diffusion-vr replaced in version 0.5.6.
_FIXED_RATE_DIFFUSION = {
    "0192516db6683c5c": "laplacian-diffusion-0.01",
    "12d93b6dc0db9474": "laplacian-diffusion-0.04",
}
# Names no longer installed: name -> (what replaced it, the last commit that ships it).
RETIRED_NAMES: dict[str, tuple[str, str]] = {}


def _retire_fixed_rate(models: dict[str, str], commit: str) -> None:
    """Retires fixed-rate models (model hash -> "FAMILY-LAMBDA") last shipped at ``commit``,
    by hash and by name: each name's successor is the "FAMILY-vr" model at the same lambda."""
    for model_hash, name in models.items():
        prefix, lmbda = name.rsplit("-", 1)
        RETIRED[model_hash] = (name, commit)
        RETIRED_NAMES[name] = (f"{prefix}-vr (`--lmbda {lmbda}`)", commit)


_retire_fixed_rate(_FIXED_RATE_MSE, FIXED_RATE_LAST)
_retire_fixed_rate(_FIXED_RATE_DIFFUSION, FIXED_RATE_DIFFUSION_LAST)


@dataclasses.dataclass(frozen=True)
class ZooModel:
    """One installed zoo model: its name, the files holding it, and its description."""

    name: str
    weights: str  # path of NAME.npz
    meta: dict

    @property
    def family(self) -> str:
        return self.meta["family"]

    @property
    def lmbda(self) -> float:
        return float(self.meta["training"]["lmbda"])

    @property
    def model_hash(self) -> str:
        return self.meta["model_hash"]


def training_steps(name: str) -> str:
    """The steps behind zoo model ``name``, through the models it was started from
    (``train.init_from`` naming an installed model or a folder of that name): "12000+3000".
    An export records its source's steps as ``training.steps_before`` (the source may later
    be replaced by a newer export of the same name), which then ends the chain."""
    models = available()
    parts, seen = [], set()
    while name in models and name not in seen:
        seen.add(name)
        meta = models[name].meta
        parts.append(str(meta["training"]["steps"]))
        if meta["training"].get("steps_before"):
            parts.append(meta["training"]["steps_before"])
            break
        source = meta.get("config", {}).get("train", {}).get("init_from", "") or ""
        name = os.path.basename(source.rstrip("/\\"))
    return "+".join(reversed(parts))


def directories() -> list[str]:
    """Where zoo models are looked for: ``$LAPLACE_CODEC_MODELS`` first, then the package."""
    extra = [d for d in os.environ.get(DIRS_ENV, "").split(os.pathsep) if d]
    return extra + [WEIGHTS_DIR]


def available() -> dict[str, ZooModel]:
    """Every installed zoo model by name (the first directory holding a name wins)."""
    found: dict[str, ZooModel] = {}
    for d in directories():
        if not os.path.isdir(d):
            continue
        for entry in sorted(os.listdir(d)):
            if not entry.endswith(".json"):
                continue
            name = entry[:-len(".json")]
            weights = os.path.join(d, name + ".npz")
            if name in found or not os.path.isfile(weights):
                continue
            try:
                with open(os.path.join(d, entry)) as f:
                    meta = json.load(f)
            except (OSError, ValueError) as e:
                raise CheckpointError(f"zoo model description {os.path.join(d, entry)} is "
                                      f"unreadable: {e}") from None
            if meta.get("meta_version") != META_VERSION or meta.get("name") != name:
                continue  # not a zoo description (or one of another version)
            found[name] = ZooModel(name, weights, meta)
    return found


def default_name() -> str:
    return os.environ.get(DEFAULT_ENV) or DEFAULT_MODEL


def install_retired(name: str, commit: str) -> str:
    """How to install retired model ``name`` from ``commit`` beside this release: shell
    commands for a clone of laplace_codec, and the environment variable that finds it."""
    return (f"in a clone of laplace_codec, `mkdir -p retired-models && for e in npz json; do "
            f"git show {commit}:laplace_codec/weights/{name}.$e > retired-models/{name}.$e; "
            f"done`, then run with {DIRS_ENV}=retired-models")


def find(name: str) -> ZooModel:
    models = available()
    if name not in models and name in RETIRED_NAMES:
        successor, commit = RETIRED_NAMES[name]
        raise CheckpointError(f"zoo model {name!r} was retired: {successor} replaced it "
                              f"(`laplace-codec models` lists the installed ones); to use "
                              f"{name} anyway, install it: {install_retired(name, commit)}")
    if name not in models:
        have = ", ".join(sorted(models)) or "none are installed"
        raise CheckpointError(f"no zoo model named {name!r} (installed: {have}); "
                              f"`laplace-codec models` lists them")
    return models[name]


def params(name: str) -> dict:
    """The float32 parameter tree of the zoo model ``name`` (the weights its files are
    coded with), e.g. to start training from it (``train.init_from=NAME``)."""
    return unpack(read(find(name)))


def read(entry: ZooModel) -> dict[str, np.ndarray]:
    """Every array of ``entry``'s NAME.npz (weights and coding tables)."""
    try:
        with np.load(entry.weights) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise CheckpointError(f"zoo model weights {entry.weights} are unreadable (damaged?): "
                              f"{e}") from None


def find_by_hash(model_hash: bytes) -> ZooModel | None:
    """The installed zoo model whose files carry ``model_hash`` (8 bytes), if any."""
    for m in available().values():
        if m.model_hash == model_hash.hex():
            return m
    return None


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")


def pack(params, precision: str) -> dict[str, np.ndarray]:
    """Flat arrays storing ``params`` at ``precision`` (see the module docstring)."""
    _check_precision(precision)
    out = {}
    for key, leaf in _flatten(params):
        a = np.asarray(leaf, dtype=np.float32)
        small = a.size < QUANTIZED_MIN_SIZE or precision == "float32"
        if not small and precision == "int8" and _is_kernel(key):
            scale = np.max(np.abs(a.reshape(-1, a.shape[-1])), axis=0) / 127.0
            scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
            out["q:" + key] = np.clip(np.round(a / scale), -127, 127).astype(np.int8)
            out["s:" + key] = scale
        elif not small:
            out["h:" + key] = a.astype(np.float16)
        else:
            out["f:" + key] = a
    return out


def _flatten(tree, prefix: str = ""):
    """(``"g_a/conv_0/kernel"``, array) for every leaf of a nested mapping of parameters."""
    for name in sorted(tree):
        value = tree[name]
        key = f"{prefix}/{name}" if prefix else str(name)
        if hasattr(value, "items"):
            yield from _flatten(value, key)
        else:
            yield key, value


def _is_kernel(key: str) -> bool:
    """Convolution and dense kernels: ``kernel``, and the entropy model's ``kernel_1``..."""
    leaf = key.rsplit("/", 1)[-1]
    return leaf == "kernel" or (leaf.startswith("kernel_") and leaf[len("kernel_"):].isdigit())


def unpack(arrays) -> dict:
    """The float32 parameter tree stored by :func:`pack` (identical on every machine)."""
    params: dict = {}
    for stored in arrays:
        kind, key = stored.split(":", 1)
        if kind == "s":
            continue
        if kind == "q":
            value = arrays[stored].astype(np.float32) * arrays["s:" + key]
        elif kind in ("h", "f"):
            value = arrays[stored].astype(np.float32)
        else:
            continue  # coding tables and other entries
        node = params
        *parents, leaf = key.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return params
