"""The front door: a codec from a checkpoint or a bundled model's name, and the operations
that need the whole library (choosing a model for a bit budget, packaging a checkpoint as a
bundled model, rebuilding a checkpoint's coding tables, evaluating checkpoints).

    import laplace_codec
    codec = laplace_codec.load("laplacian-mse-vr")     # a bundled model, a workdir or a step
    data = codec.compress(x)                           # uint8 RGB (H, W, 3) -> .lgc bytes
    x_hat = codec.decompress(data)

The command line (``cli.py``) and the entry points (``evaluate.py``) call only this module
and the light ones below it (``zoo``, ``coding.bitstream``, ``images``).
"""

from __future__ import annotations

import datetime
import io
import json
import os

import ml_collections
import numpy as np

from laplace_codec import images, zoo
from laplace_codec.atomic import atomic_write
from laplace_codec.coding import tables as tables_lib
from laplace_codec.coding.codec import Codec
from laplace_codec.errors import CheckpointError, InputError
from laplace_codec.evaluation import anchors as anchors_lib
from laplace_codec.evaluation import evaluate as evaluation
from laplace_codec.models import model as model_lib
from laplace_codec.training import checkpoint


def load(path: str | None = None, name: str | None = None, steps: int | None = None,
         sampler: str | None = None) -> Codec:
    """Loads a trained codec from a checkpoint (a training workdir or one of its steps) or,
    when ``path`` is not a file system path, the bundled zoo model of that name
    (``laplace-codec models`` lists them); without ``path``, the default model (the
    command line's: ``$LAPLACE_CODEC_DEFAULT_MODEL`` or ``laplacian-mse-vr``). ``name`` renames
    a checkpoint's codec (default: its config's name); a bundled model is chosen by ``path``.
    ``steps`` and ``sampler`` set a diffusion decoder's defaults for the files it writes."""
    if path is None:
        if name is not None:
            raise ValueError(f"load(name={name!r}) names a checkpoint's codec; it does not "
                             f"choose a bundled model: load({name!r}) loads the zoo model of "
                             f"that name, load(PATH, name=...) a checkpoint under that name")
        return load_bundled(zoo.default_name(), steps=steps, sampler=sampler)
    if not os.path.exists(os.path.expanduser(path)):
        if path in zoo.available() or path in zoo.RETIRED_NAMES:  # zoo.find refuses the latter
            return load_bundled(path, steps=steps, sampler=sampler)
        raise CheckpointError(f"checkpoint directory not found: {os.path.abspath(path)} (nor "
                              f"is {path!r} an installed zoo model: `laplace-codec models` "
                              f"lists them)")
    ckpt = checkpoint.load(path)
    tables = tables_lib.CodingTables.from_dict(ckpt.tables) if ckpt.tables is not None else None
    return Codec(ckpt.model(), ckpt.params, tables,
                 name or ckpt.config.get("name", "laplace_codec"), steps=steps, sampler=sampler,
                 lmbda=float(ckpt.config.loss.lmbda))


def load_bundled(name: str, steps: int | None = None, sampler: str | None = None) -> Codec:
    """The codec of the zoo model ``name`` (never a folder that happens to share the name)."""
    entry = zoo.find(name)
    arrays = zoo.read(entry)
    tables = tables_lib.CodingTables.from_dict({k[len("t:"):]: v for k, v in arrays.items()
                                                if k.startswith("t:")})
    config = ml_collections.ConfigDict(entry.meta["config"])
    model = model_lib.from_config(config.model)
    codec = Codec(model, zoo.unpack(arrays), tables, name, steps=steps, sampler=sampler,
                  lmbda=entry.lmbda)
    if codec.model_hash.hex() != entry.model_hash:
        raise CheckpointError(f"zoo model {name}: the weights in {entry.weights} do not give "
                              f"the recorded model hash {entry.model_hash} (damaged or "
                              f"replaced); reinstall the package")
    return codec


def bundled_codec_of(model_name: str, model_hash: bytes, what: str = "the file") -> Codec:
    """The bundled codec whose files carry ``model_hash`` (a file's header names it), or a
    :class:`CheckpointError` saying which checkpoint to pass instead."""
    entry = zoo.find_by_hash(model_hash)
    if entry is None and model_hash.hex() in zoo.RETIRED:
        name, commit = zoo.RETIRED[model_hash.hex()]
        raise CheckpointError(
            f"{what} was written by {name}@{model_hash.hex()}, a bundled model that has been "
            f"replaced since; decode it with that model installed beside this release "
            f"({zoo.install_retired(name, commit)}), or pass a checkpoint of it with --ckpt "
            f"DIR")
    if entry is None:
        raise CheckpointError(f"{what} was written by model {model_name}@{model_hash.hex()}, "
                              f"which is not a bundled model; pass that model's --ckpt DIR")
    return load_bundled(entry.name)


def select_for_bpp(image: np.ndarray, target_bpp: float, family: str | None = None,
                   seed: int = 0, steps: int | None = None, sampler: str | None = None):
    """(codec, encoded) of the best model of ``family`` whose file of ``image`` fits in
    ``target_bpp`` bits per pixel: models are tried from the highest rate down (smallest
    lambda first, then the highest recorded bpp), and the first file that fits is kept.
    ``steps`` and ``sampler`` apply to diffusion models, as in :func:`load`."""
    if not (isinstance(target_bpp, (int, float)) and target_bpp > 0):
        raise InputError(f"target bpp must be a positive number, got {target_bpp!r}")
    if family is None:
        family = zoo.find(zoo.default_name()).family
    # The loss is D + lmbda * R: the smallest lmbda spends the most bits (best quality).
    candidates = sorted((m for m in zoo.available().values() if m.family == family),
                        key=lambda m: (m.lmbda, -m.meta.get("eval", {}).get("bpp", 0.0)))
    if not candidates:
        families = sorted({m.family for m in zoo.available().values()})
        raise CheckpointError(f"no zoo model of family {family!r} is installed (families: "
                              f"{', '.join(families) or 'none'})")
    pixels = image.shape[0] * image.shape[1]
    smallest = None
    for m in candidates:
        codec = load_bundled(m.name, steps, sampler)
        encoded = codec.encode(image, seed=seed)
        bpp = 8 * len(encoded.data) / pixels
        if bpp <= target_bpp:
            return codec, encoded
        smallest = min(smallest or (bpp, m.name), (bpp, m.name))
    raise InputError(f"no {family} model codes this image in {target_bpp} bpp; the smallest "
                     f"file is {smallest[0]:.4f} bpp ({smallest[1]}); raise --target-bpp")


TARGET_TOLERANCE = 0.03  # fit_to_bpp stops within this fraction under the target


def fit_to_bpp(codec: Codec, image: np.ndarray, target_bpp: float, seed: int = 0,
               max_encodes: int = 14, refine: int = 0):
    """(encoded, quality, tried) for a variable-rate ``codec``: the highest quality whose real
    file of ``image`` fits in ``target_bpp`` bits per pixel, found by encoding (``tried``
    lists each (quality, bpp) in order). The rate grows with the quality, so the search
    brackets the target (regula falsi on log bpp, kept inside the bracket) and stops at a
    file within ``TARGET_TOLERANCE`` under it, or at the top of the range if that fits."""
    if not (isinstance(target_bpp, (int, float)) and target_bpp > 0):
        raise InputError(f"target bpp must be a positive number, got {target_bpp!r}")
    if codec.quality_range is None:
        raise InputError(f"model {codec.name} has a fixed rate; --target-bpp searches the "
                         f"quality of a variable-rate model (or the bundled fixed-rate family)")
    pixels = image.shape[0] * image.shape[1]
    tried, files = [], {}

    def bpp_at(q: float) -> float:
        encoded = codec.encode(image, seed=seed, quality=q, refine=refine)
        files[encoded.quality] = encoded
        tried.append((encoded.quality, 8 * len(encoded.data) / pixels))
        return tried[-1][1]

    low, high = codec.quality_range
    if bpp_at(high) <= target_bpp:
        return files[tried[-1][0]], tried[-1][0], tried
    b_high = tried[-1][1]
    b_low = bpp_at(low)
    if b_low > target_bpp:
        raise InputError(f"no quality of {codec.name} codes this image in {target_bpp} bpp; "
                         f"the smallest file is {b_low:.4f} bpp (quality {low:g}); raise "
                         f"--target-bpp")
    while len(tried) < max_encodes and (target_bpp - b_low) / target_bpp > TARGET_TOLERANCE:
        span = high - low
        if span < 1e-4:
            break
        t = (np.log(target_bpp) - np.log(b_low)) / (np.log(b_high) - np.log(b_low))
        q = low + span * float(np.clip(t, 0.1, 0.9))
        b = bpp_at(q)
        q = tried[-1][0]
        if b <= target_bpp:
            low, b_low = q, b
        else:
            high, b_high = q, b
    return files[low], low, tried


def rebuild_tables(path: str) -> str:
    """Builds the coding tables of the checkpoint at ``path`` from its weights and stores
    them in it (for checkpoints saved without tables); returns the step folder."""
    ckpt = checkpoint.load(path)
    model = ckpt.model(check_tables=False)  # the stored tables, if any, are being replaced
    checkpoint.save_tables(path, tables_lib.tables_for(model, ckpt.params).to_dict())
    return ckpt.directory


def evaluate(ckpts: list[str], data_glob: str, steps: int | None = None,
             sampler: str | None = None, qualities=None, **options) -> dict:
    """Evaluates the checkpoints or bundled models ``ckpts`` (one curve) on the images of
    ``data_glob``: a variable-rate model at each of ``qualities`` (default: its integer
    qualities, one per rate level); ``options`` are those of
    :func:`evaluation.evaluate.evaluate`."""
    codecs = []
    for c in ckpts:
        codec = load(c)
        if codec.diffusion:
            codec.set_sampling(steps, sampler)
        if codec.quality_range is None:
            if qualities:
                raise InputError(f"{c} is a fixed-rate model: it takes no --quality")
            codecs.append(codec)
            continue
        low, high = codec.quality_range
        for q in qualities or range(int(low), int(high) + 1):
            codecs.append(codec.with_quality(float(q)))
    return evaluation.evaluate(codecs, data_glob, **options)


EVAL_KEYS = ("bpp", "estimated_bpp", "psnr", "psnr_of_mean_mse", "ms_ssim", "lpips",
             "colour_shift", "encode_s", "decode_s")


def _measure(codec: Codec, paths: list[str], eval_glob: str, progress: bool) -> dict:
    """A zoo entry's own figures from real files of ``paths``: ``eval`` (at the default
    quality of a variable-rate model), and for a variable-rate model ``eval_curve`` (one
    point per integer quality) and its BD-rate against VTM (``bd_rate_vs_vtm``, percent)."""
    sampling = dict(steps=codec.steps, sampler=codec.sampler) if codec.diffusion else {}
    if not codec.variable_rate:
        mean = evaluation.evaluate_codec(codec, paths, progress=progress)["mean"]
        return dict(eval=dict(data=eval_glob, images=len(paths),
                              **{k: mean[k] for k in EVAL_KEYS}, **sampling))
    low, high = codec.quality_range
    curve = []
    for q in range(int(low), int(high) + 1):
        mean = evaluation.evaluate_codec(codec.with_quality(float(q)), paths,
                                         progress=progress)["mean"]
        curve.append(dict(quality=float(q), lmbda=codec.lmbda_for_quality(q),
                          **{k: mean[k] for k in EVAL_KEYS}))
    default = min(curve, key=lambda p: abs(p["quality"] - codec.quality))
    results = {"bpp": [p["bpp"] for p in curve], "psnr-rgb": [p["psnr"] for p in curve]}
    bd = evaluation.safe_bd_rate(anchors_lib.load("vtm"), dict(results=results))
    return dict(eval=dict(data=eval_glob, images=len(paths), quality=default["quality"],
                          **{k: default[k] for k in EVAL_KEYS}, **sampling),
                eval_curve=curve, bd_rate_vs_vtm=bd)


def _portable_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (a repository's
    runs/...), so the description does not record one machine's folders; else absolute."""
    relative = os.path.relpath(os.path.abspath(path))
    return os.path.abspath(path) if relative.startswith("..") else relative


def export(ckpt: str, name: str, out_dir: str = zoo.WEIGHTS_DIR, precision: str = "int8",
           family: str | None = None, description: str = "", eval_glob: str | None = None,
           progress: bool = True, steps: int | None = None,
           sampler: str | None = None) -> zoo.ZooModel:
    """Packs a trained checkpoint as the zoo model ``name`` in ``out_dir``.

    The coding tables are rebuilt from the stored (expanded) weights, and with ``eval_glob``
    (Kodak) the model's own figures are measured with real files from those weights and
    recorded in ``NAME.json``. Both files are written atomically. ``steps`` and ``sampler``
    (diffusion decoders only) replace the training config's decoding defaults: the exported
    model compresses with them unless told otherwise, and its figures are measured with them.
    """
    if not name or any(c in name for c in "/\\:@ ") or len(name.encode()) > 255:
        raise ValueError(f"zoo model name {name!r} must be non-empty, at most 255 bytes, "
                         f"without '/', '\\', ':', '@' or spaces")
    if precision not in zoo.PRECISIONS:  # before the checkpoint is read
        raise ValueError(f"unknown precision {precision!r}; choose one of {zoo.PRECISIONS}")
    paths = images.image_files(eval_glob) if eval_glob else []
    source = checkpoint.load(ckpt)
    model = source.model()
    arrays = zoo.pack(source.params, precision)
    params = zoo.unpack(arrays)
    tables = tables_lib.tables_for(model, params)
    codec = Codec(model, params, tables, name, steps=steps, sampler=sampler)
    config = source.config
    if codec.diffusion:
        config.model.diffusion.update(steps=codec.steps, sampler=codec.sampler)
    train_glob = config.data.get("train_glob", "")
    try:
        train_images = len(images.image_files(train_glob)) if train_glob else None
    except Exception:  # the data may not be on this machine any more
        train_images = None
    # A variable-rate model is listed at its default quality's lambda.
    lmbda = (codec.lmbda_for_quality(codec.quality) if codec.variable_rate
             else float(config.loss.lmbda))
    meta = dict(
        meta_version=zoo.META_VERSION, name=name,
        family=family or f"{model.entropy}-{model.decoder}",
        description=description, entropy=model.entropy, decoder=model.decoder,
        precision=precision, model_hash=codec.model_hash.hex(),
        training=dict(lmbda=lmbda, steps=int(source.step),
                      batch_size=int(config.data.batch_size), crop=int(config.data.crop),
                      data=train_glob or "scikit-image sample photographs",
                      data_images=train_images, config_name=config.get("name", ""),
                      checkpoint=_portable_path(source.directory)),
        exported=datetime.date.today().isoformat(),
        config=json.loads(config.to_json()),
    )
    # The run's record of its source's steps when it started; older runs have none, and then
    # the source installed now stands in (wrong if a newer export replaced it since).
    source_name = os.path.basename((config.train.get("init_from") or "").rstrip("/\\"))
    before = config.train.get("init_from_steps") or (
        zoo.training_steps(source_name) if source_name else "")
    if before:
        meta["training"]["steps_before"] = before
    if codec.variable_rate:
        meta["quality_range"] = list(codec.quality_range)
        meta["default_quality"] = codec.quality
        meta["training"]["rate_lmbdas"] = list(model.rate_lmbdas)
    if eval_glob:
        meta.update(_measure(codec, paths, eval_glob, progress))
    os.makedirs(out_dir, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **{f"t:{k}": v for k, v in tables.to_dict().items()})
    weights = os.path.join(out_dir, name + ".npz")
    atomic_write(weights, buffer.getvalue())
    meta["size_bytes"] = os.path.getsize(weights)
    atomic_write(os.path.join(out_dir, name + ".json"),
                        (json.dumps(meta, indent=1) + "\n").encode())
    return zoo.ZooModel(name, weights, meta)

