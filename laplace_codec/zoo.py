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
import datetime
import io
import json
import os

import ml_collections
import numpy as np

from laplace_codec.errors import CheckpointError, InputError

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
DIRS_ENV = "LAPLACE_CODEC_MODELS"
DEFAULT_ENV = "LAPLACE_CODEC_DEFAULT_MODEL"
# The model `compress` uses without --ckpt or --model (README: "Bundled models").
DEFAULT_MODEL = "laplacian-mse-0.01"
PRECISIONS = ("int8", "float16", "float32")
QUANTIZED_MIN_SIZE = 1024  # smaller arrays (biases, GDN of narrow layers) stay float32
META_VERSION = 1


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
    (``train.init_from`` naming an installed model or a folder of that name): "12000+3000"."""
    models = available()
    parts, seen = [], set()
    while name in models and name not in seen:
        seen.add(name)
        meta = models[name].meta
        parts.append(str(meta["training"]["steps"]))
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


def find(name: str) -> ZooModel:
    models = available()
    if name not in models:
        have = ", ".join(sorted(models)) or "none are installed"
        raise CheckpointError(f"no zoo model named {name!r} (installed: {have}); "
                              f"`laplace-codec models` lists them")
    return models[name]


def params(name: str) -> dict:
    """The float32 parameter tree of the zoo model ``name`` (the weights its files are
    coded with), e.g. to start training from it (``train.init_from=NAME``)."""
    return unpack(_read(find(name)))


def _read(entry: ZooModel) -> dict[str, np.ndarray]:
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
    import jax

    _check_precision(precision)
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        key = "/".join(str(getattr(k, "key", k)) for k in path)
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


def load(name: str, steps: int | None = None, sampler: str | None = None):
    """The :class:`~laplace_codec.coding.codec.Codec` of the zoo model ``name``."""
    from laplace_codec.coding import codec as codec_lib
    from laplace_codec.models import model as model_lib
    from laplace_codec.coding.tables import CodingTables

    entry = find(name)
    arrays = _read(entry)
    tables = CodingTables.from_dict({k[len("t:"):]: v for k, v in arrays.items()
                                     if k.startswith("t:")})
    config = ml_collections.ConfigDict(entry.meta["config"])
    model = model_lib.from_config(config.model)
    codec = codec_lib.Codec(model, unpack(arrays), tables, name, steps=steps, sampler=sampler)
    if codec.model_hash.hex() != entry.model_hash:
        raise CheckpointError(f"zoo model {name}: the weights in {entry.weights} do not give "
                              f"the recorded model hash {entry.model_hash} (damaged or "
                              f"replaced); reinstall the package")
    return codec


def _portable_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (a repository's
    runs/...), so the description does not record one machine's folders; else absolute."""
    relative = os.path.relpath(os.path.abspath(path))
    return os.path.abspath(path) if relative.startswith("..") else relative


def export(ckpt: str, name: str, out_dir: str = WEIGHTS_DIR, precision: str = "int8",
           family: str | None = None, description: str = "", eval_glob: str | None = None,
           progress: bool = True, steps: int | None = None,
           sampler: str | None = None) -> ZooModel:
    """Packs a trained checkpoint as the zoo model ``name`` in ``out_dir``.

    The coding tables are rebuilt from the stored (expanded) weights, and with ``eval_glob``
    (Kodak) the model's own figures are measured with real files from those weights and
    recorded in ``NAME.json``. Both files are written atomically. ``steps`` and ``sampler``
    (diffusion decoders only) replace the training config's decoding defaults: the exported
    model compresses with them unless told otherwise, and its figures are measured with them.
    """
    from laplace_codec.training import checkpoint, data, loop as training
    from laplace_codec.evaluation import evaluate as evaluation
    from laplace_codec import images
    from laplace_codec.coding import codec as codec_lib

    if not name or any(c in name for c in "/\\:@ ") or len(name.encode()) > 255:
        raise ValueError(f"zoo model name {name!r} must be non-empty, at most 255 bytes, "
                         f"without '/', '\\', ':', '@' or spaces")
    _check_precision(precision)  # before the checkpoint is read
    paths = data.image_files(eval_glob) if eval_glob else []
    source = checkpoint.load(ckpt)
    model = checkpoint.model_of(source)
    arrays = pack(source["params"], precision)
    params = unpack(arrays)
    tables = training.tables_for(model, params)
    codec = codec_lib.Codec(model, params, tables, name, steps=steps, sampler=sampler)
    config = source["config"]
    if codec.diffusion:
        config.model.diffusion.update(steps=codec.steps, sampler=codec.sampler)
    train_glob = config.data.get("train_glob", "")
    try:
        train_images = len(data.image_files(train_glob)) if train_glob else None
    except Exception:  # the data may not be on this machine any more
        train_images = None
    meta = dict(
        meta_version=META_VERSION, name=name,
        family=family or f"{model.entropy}-{model.decoder}",
        description=description, entropy=model.entropy, decoder=model.decoder,
        precision=precision, model_hash=codec.model_hash.hex(),
        training=dict(lmbda=float(config.loss.lmbda), steps=int(source["step"]),
                      batch_size=int(config.data.batch_size), crop=int(config.data.crop),
                      data=train_glob or "scikit-image sample photographs",
                      data_images=train_images, config_name=config.get("name", ""),
                      checkpoint=_portable_path(source["directory"])),
        exported=datetime.date.today().isoformat(),
        config=json.loads(config.to_json()),
    )
    if eval_glob:
        result = evaluation.evaluate_codec(codec, paths, progress=progress)
        meta["eval"] = dict(data=eval_glob, images=len(paths),
                            **{k: result["mean"][k] for k in
                               ("bpp", "estimated_bpp", "psnr", "psnr_of_mean_mse",
                                "ms_ssim", "lpips", "encode_s", "decode_s")})
        if codec.diffusion:
            meta["eval"].update(steps=codec.steps, sampler=codec.sampler)
    os.makedirs(out_dir, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **{f"t:{k}": v for k, v in tables.to_dict().items()})
    weights = os.path.join(out_dir, name + ".npz")
    images.atomic_write(weights, buffer.getvalue())
    meta["size_bytes"] = os.path.getsize(weights)
    images.atomic_write(os.path.join(out_dir, name + ".json"),
                        (json.dumps(meta, indent=1) + "\n").encode())
    return ZooModel(name, weights, meta)


def select_for_bpp(image: np.ndarray, target_bpp: float, family: str | None = None,
                   seed: int = 0, steps: int | None = None, sampler: str | None = None):
    """(codec, encoded) of the best model of ``family`` whose file of ``image`` fits in
    ``target_bpp`` bits per pixel: models are tried from the highest rate down (smallest
    lambda first, then the highest recorded bpp), and the first file that fits is kept.
    ``steps`` and ``sampler`` apply to diffusion models, as in :func:`load`."""
    if not (isinstance(target_bpp, (int, float)) and target_bpp > 0):
        raise InputError(f"target bpp must be a positive number, got {target_bpp!r}")
    if family is None:
        family = find(default_name()).family
    # The loss is D + lmbda * R: the smallest lmbda spends the most bits (best quality).
    candidates = sorted((m for m in available().values() if m.family == family),
                        key=lambda m: (m.lmbda, -m.meta.get("eval", {}).get("bpp", 0.0)))
    if not candidates:
        families = sorted({m.family for m in available().values()})
        raise CheckpointError(f"no zoo model of family {family!r} is installed (families: "
                              f"{', '.join(families) or 'none'})")
    pixels = image.shape[0] * image.shape[1]
    smallest = None
    for m in candidates:
        codec = load(m.name, steps, sampler)
        encoded = codec.encode(image, seed=seed)
        bpp = 8 * len(encoded.data) / pixels
        if bpp <= target_bpp:
            return codec, encoded
        smallest = min(smallest or (bpp, m.name), (bpp, m.name))
    raise InputError(f"no {family} model codes this image in {target_bpp} bpp; the smallest "
                     f"file is {smallest[0]:.4f} bpp ({smallest[1]}); raise --target-bpp")
