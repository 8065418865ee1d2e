"""The ``laplace-codec`` command line.

    laplace-codec compress IN.png OUT.lgc                # the default bundled model
    laplace-codec compress --model NAME IN.png OUT.lgc   # a bundled model (`models` lists them)
    laplace-codec compress --target-bpp 0.3 IN.png OUT.lgc  # best bundled model within 0.3 bpp
    laplace-codec compress --ckpt DIR IN.png OUT.lgc     # a model you trained
    laplace-codec decompress OUT.lgc REC.png             # a bundled model's file
    laplace-codec decompress --ckpt DIR OUT.lgc REC.png
    laplace-codec compress --ckpt DIFF --steps 25 --sampler ddim IN.png OUT.lgc  # diffusion
    laplace-codec decompress --ckpt DIFF --steps 100 OUT.lgc REC.png  # overrides the header
    laplace-codec info OUT.lgc                           # prints the header
    laplace-codec build-tables --ckpt DIR                # for checkpoints saved without tables
    laplace-codec models                                 # the bundled models
    laplace-codec export --ckpt DIR --name NAME --out D  # pack a checkpoint as a zoo model
    laplace-codec compress --ckpt VR --quality 2.5 IN.png OUT.lgc  # a variable-rate model
    laplace-codec compress A.png B.jpg C.png --out-dir D  # many files, one start-up
    laplace-codec decompress D/*.lgc --out-dir R
    laplace-codec compress IN.png -o OUT.lgc             # -o/--output, as cwebp and bpgenc

Outputs that exist are kept unless -f/--force is given.

``IN`` may be ``sample:NAME`` for one of scikit-image's bundled photographs. User errors
print one line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

from absl import logging as absl_logging

import laplace_codec
from laplace_codec import api, images, zoo
from laplace_codec.atomic import atomic_write
from laplace_codec.coding import bitstream
from laplace_codec.coding import refine as refine_lib
from laplace_codec.coding import tf_backend
from laplace_codec.coding.codec import enable_compilation_cache
from laplace_codec.errors import InputError, LaplaceCodecError
from laplace_codec.evaluation import metrics
from laplace_codec.models.decoders import kinds


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _codec(ckpt: str, steps=None, sampler=None, bundled: bool = False):
    """The codec of a checkpoint, or with ``bundled`` of the zoo model of that name (never a
    folder that happens to share the name)."""
    enable_compilation_cache()
    try:
        return (api.load_bundled if bundled else api.load)(ckpt, steps=steps, sampler=sampler)
    except ValueError as e:  # sampling options for a model that does not sample
        raise _UsageError(str(e)) from None


def _refine_steps(value: str) -> int:
    """``--refine``: a number of steps (0 or more) or ``best``."""
    if value == "best":
        return refine_lib.BEST_STEPS
    try:
        steps = int(value)
    except ValueError:
        steps = -1
    if steps < 0:
        raise argparse.ArgumentTypeError(f"expected a number of steps (0 or more) or 'best', "
                                         f"got {value!r}")
    return steps


def _flags(*names: str) -> str:
    return " and ".join("--" + f.replace("_", "-") for f in names)


def _since_process_start() -> float | None:
    """Seconds since this process started (Linux: from /proc), or None elsewhere."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _pairs(paths: list[str], out_dir: str | None, suffix: str,
           output: str | None = None) -> list[tuple[str, str]]:
    """(input, output) pairs: ``IN OUT``, ``IN -o OUT``, or with ``out_dir`` every path an
    input whose output is named after it (``photo.png`` -> ``D/photo.lgc``; ``sample:NAME``
    -> ``D/NAME...``)."""
    if output is not None:
        if out_dir is not None or len(paths) != 1:
            raise _UsageError(f"-o/--output names the output of one input; give one input "
                              f"with -o OUT, or several inputs and --out-dir D (got "
                              f"{len(paths)} paths{' and --out-dir' if out_dir else ''})")
        return [(paths[0], output)]
    if out_dir is None:
        if len(paths) != 2:
            raise _UsageError(f"give an input and an output (IN OUT or IN -o OUT), or several "
                              f"inputs and --out-dir D (got {len(paths)} paths)")
        return [(paths[0], paths[1])]
    if not os.path.isdir(out_dir):
        raise _UsageError(f"--out-dir {out_dir} is not a folder")
    pairs = []
    for path in paths:
        stem = os.path.splitext(os.path.basename(path.split(":", 1)[-1]))[0]
        pairs.append((path, os.path.join(out_dir, stem + suffix)))
    outputs = [o for _, o in pairs]
    if len(set(outputs)) != len(outputs):
        raise _UsageError("several inputs would write the same output file; give them "
                          "different names")
    return pairs


def _check_outputs(pairs, force: bool) -> None:
    if force:
        return
    existing = [o for _, o in pairs if os.path.exists(o)]
    if existing:
        raise _UsageError(f"{existing[0]} exists" + (f" (and {len(existing) - 1} more)"
                                                      if len(existing) > 1 else "") +
                          "; pass -f/--force to overwrite")


def cmd_compress(args) -> None:
    models = [f for f in ("ckpt", "model") if getattr(args, f) is not None]
    rates = [f for f in ("quality", "lmbda", "target_bpp") if getattr(args, f) is not None]
    if len(models) > 1 or len(rates) > 1:
        raise _UsageError(f"give at most one of --ckpt and --model, and one of --quality, "
                          f"--lmbda and --target-bpp, not {_flags(*models, *rates)}")
    if args.family and (args.target_bpp is None or models):
        raise _UsageError("--family only applies with --target-bpp and the bundled models")
    pairs = _pairs(args.paths, args.out_dir, ".lgc", args.output)
    _check_outputs(pairs, args.force)
    family = args.target_bpp is not None and (args.family or not (models or
                                                                  _default_is_variable()))
    tensorflow_s = _import_tensorflow()
    t0 = time.perf_counter()
    codec = None
    if not family:
        codec = (_codec(args.ckpt, args.steps, args.sampler) if args.ckpt is not None else
                 _codec(args.model or _default_model(), args.steps, args.sampler, bundled=True))
    else:
        enable_compilation_cache()
    loading = time.perf_counter() - t0
    for source, output in pairs:
        image = images.read_image(source)
        t0 = time.perf_counter()
        tried = []
        try:
            if family:  # the bundled fixed-rate family: from the highest rate down
                codec, encoded = api.select_for_bpp(image, args.target_bpp, args.family,
                                                    args.seed, args.steps, args.sampler)
            elif args.target_bpp is not None:
                encoded, _, tried = api.fit_to_bpp(codec, image, args.target_bpp, args.seed,
                                                   refine=args.refine)
            else:
                encoded = codec.encode(image, seed=args.seed, quality=args.quality,
                                       lmbda=args.lmbda, refine=args.refine)
        except ValueError as e:  # a quality or lambda outside the model's range
            raise _UsageError(str(e)) from None
        seconds = time.perf_counter() - t0
        if tried:
            _log("--target-bpp tried: " + ", ".join(f"quality {q:.4g} -> {b:.4f} bpp"
                                                      for q, b in tried))
            if encoded.quality == codec.quality_range[1]:
                _log(f"--target-bpp: the model's highest quality ({encoded.quality:.4g}) "
                     f"fits in {args.target_bpp} bpp; no file of this model is larger")
        atomic_write(output, encoded.data)
        pixels = image.shape[0] * image.shape[1]
        quality = (f", quality {encoded.quality:.4g} (lambda "
                   f"{codec.lmbda_for_quality(encoded.quality):.4g})"
                   if encoded.quality is not None else "")
        print(f"{source} -> {output}: {image.shape[1]}x{image.shape[0]}, "
              f"{len(encoded.data)} bytes, {8 * len(encoded.data) / pixels:.4f} bpp "
              f"(model estimate {encoded.estimated_bits / pixels:.4f}), model "
              f"{codec.model_id}{quality}")
        parts = (f"network {encoded.network_s:.3f} s (compilation included on first use), "
                 f"range coding {encoded.coding_s:.3f} s")
        if tried:
            parts = f"{len(tried)} encodes; the last: {parts}"
        print(f"  encode {seconds:.3f} s: {parts}")
        if args.psnr:
            x_hat = codec.reconstruct(encoded.y_hat, image.shape[0], image.shape[1],
                                      args.seed, quality=encoded.quality)
            ssim = metrics.ms_ssim(image, x_hat)
            print(f"  quality: PSNR {metrics.psnr_from_mse(metrics.mse(image, x_hat)):.2f} dB"
                  + (f", MS-SSIM {ssim:.4f}" if ssim is not None else ""))
    _print_total(tensorflow_s, loading)


def _import_tensorflow() -> float:
    """Import TensorFlow (the range coder's) now, so that the timings name it: seconds."""
    t0 = time.perf_counter()
    tf_backend.compression_ops()
    return time.perf_counter() - t0


def _print_total(tensorflow_s: float, loading: float) -> None:
    total = _since_process_start()
    if total is not None:
        print(f"total {total:.2f} s since the command started: TensorFlow import "
              f"{tensorflow_s:.2f} s, model loading {loading:.2f} s; the rest is Python and "
              f"JAX start-up and the work above")


def _default_is_variable() -> bool:
    """Whether the default bundled model is variable-rate (``--target-bpp`` then searches its
    quality instead of choosing among a fixed-rate family)."""
    name = zoo.default_name()
    models = zoo.available()
    return name in models and bool(models[name].meta["config"]["model"].get("rate_lmbdas"))


def _read_file(path: str) -> bytes:
    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    with open(path, "rb") as f:
        return f.read()


LOSSY_SUFFIXES = (".jpg", ".jpeg", ".webp", ".avif", ".heic", ".jxl")


def cmd_decompress(args) -> None:
    pairs = _pairs(args.paths, args.out_dir, ".png", args.output)
    _check_outputs(pairs, args.force)
    loading, tensorflow_s, codecs = 0.0, 0.0, {}
    for source, output in pairs:
        data = _read_file(source)
        header, _ = bitstream.unpack(data)
        if not codecs:
            tensorflow_s = _import_tensorflow()
        t0 = time.perf_counter()
        if args.ckpt:
            codec = codecs.get("ckpt") or _codec(args.ckpt)
            codecs["ckpt"] = codec
        else:
            enable_compilation_cache()
            key = header.model_hash
            codec = codecs.get(key) or api.bundled_codec_of(header.model_name, key, source)
            codecs[key] = codec
        loading += time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            decoded = codec.decode(data, steps=args.steps, sampler=args.sampler)
        except ValueError as e:
            raise _UsageError(str(e)) from None
        seconds = time.perf_counter() - t0
        if output.lower().endswith(LOSSY_SUFFIXES):
            _log(f"laplace-codec: warning: {output} is a lossy format: the decoded image is "
                 f"compressed again; write .png to keep it exactly")
        images.write_image(output, decoded.image)
        print(f"{source} -> {output}: {header.width}x{header.height}, decode {seconds:.3f} s "
              f"(network {decoded.network_s:.3f} s, compilation included on first use; "
              f"range coding {decoded.coding_s:.3f} s), model {codec.model_id}")
    _print_total(tensorflow_s, loading)


def cmd_info(args) -> None:
    data = _read_file(args.input)
    header, streams = bitstream.unpack(data)
    pixels = header.height * header.width
    rows = [
        ("file", args.input),
        ("format version", header.version),
        ("model", f"{header.model_name}@{header.model_hash.hex()}"),
        ("size", f"{header.width}x{header.height}, {header.channels} channels, "
                 f"{header.bit_depth} bits"),
        ("padding", f"{header.pad_h} rows, {header.pad_w} columns"),
        ("decoder", kinds.kind_of_sampler(header.sampler).describe(
            header.decoder_seed, header.decoder_steps, header.sampler)),
        ("quality", "fixed-rate model" if header.quality is None else f"{header.quality:.6g}"),
        ("streams", ", ".join(f"{len(s)} bytes" for s in streams)),
        ("total", f"{len(data)} bytes, {8 * len(data) / pixels:.4f} bpp"),
        ("symbols crc32", f"{header.symbols_crc:08x}"),
    ]
    for key, value in rows:
        print(f"{key:>15}: {value}")


def cmd_build_tables(args) -> None:
    print(f"coding tables written to {api.rebuild_tables(args.ckpt)}")


def _default_model() -> str:
    name = zoo.default_name()
    if name not in zoo.available():
        raise _UsageError(f"the default model {name} is not installed; pass --ckpt DIR (a "
                          f"model you trained) or --model NAME (`laplace-codec models`)")
    return name


def cmd_models(args) -> None:
    models = zoo.available()
    if not models:
        print(f"no bundled models are installed (looked in {', '.join(zoo.directories())})")
        return
    default = zoo.default_name()
    header = ("name", "entropy", "decoder", "lambda", "quality", "steps", "stored", "MB",
              "bpp", "PSNR", "LPIPS", "BD vs VTM")
    rows = []
    for m in sorted(models.values(), key=lambda m: (m.family, m.lmbda)):
        e = m.meta.get("eval", {})
        fmt = lambda key, spec: format(e[key], spec) if e.get(key) is not None else "-"  # noqa
        # with a diffusion decoder's decoding default (export --steps/--sampler)
        decoder = kinds.decoder_kind(m.meta["decoder"]).summary(m.meta["config"]["model"])
        lmbdas = m.meta["training"].get("rate_lmbdas")
        if lmbdas:  # a variable-rate model: its range (bpp and PSNR at the default quality)
            low, high = m.meta["quality_range"]
            lmbda = f"{min(lmbdas):g}-{max(lmbdas):g}"
            quality = f"{low:g}-{high:g} ({m.meta['default_quality']:g})"
        else:
            lmbda, quality = f"{m.lmbda:g}", "fixed"
        bd = m.meta.get("bd_rate_vs_vtm")
        rows.append((m.name + (" (default)" if m.name == default else ""), m.meta["entropy"],
                     decoder, lmbda, quality, zoo.training_steps(m.name),
                     m.meta["precision"], f"{m.meta['size_bytes'] / 1e6:.1f}",
                     fmt("bpp", ".4f"), fmt("psnr", ".2f"), fmt("lpips", ".4f"),
                     f"{bd:+.1f}%" if bd is not None else "-"))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    evals = {m.meta["eval"]["data"] for m in models.values() if "eval" in m.meta}
    if evals:
        print(f"bpp, PSNR (mean of per-image) and LPIPS: real files of {', '.join(evals)}, at "
              f"the default quality of a variable-rate model (`compress --quality` takes any "
              f"in its range); BD vs VTM: its curve's BD-rate on PSNR against VTM")


def cmd_export(args) -> None:
    try:
        entry = api.export(args.ckpt, args.name, args.out, args.precision, args.family,
                           args.description, args.eval, steps=args.steps,
                           sampler=args.sampler)
    except ValueError as e:
        raise _UsageError(str(e)) from None
    e = entry.meta.get("eval")
    figures = (f"; {e['images']} images: {e['bpp']:.4f} bpp, PSNR {e['psnr']:.2f} dB, "
               f"LPIPS {e['lpips']:.4f}") if e else ""
    print(f"{entry.weights}: {entry.meta['size_bytes'] / 1e6:.2f} MB ({args.precision}), "
          f"model {entry.name}@{entry.model_hash}{figures}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laplace-codec", description="Learned image compression with laplace_codec.")
    parser.add_argument("--version", action="version",
                        version=f"laplace-codec {laplace_codec.__version__} (file format "
                                f"versions {', '.join(map(str, bitstream.VERSIONS))})")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compress", help="compress an image into a .lgc file")
    p.add_argument("--ckpt", help="the model: a training workdir, a checkpoint step, or a "
                   "bundled model's name")
    p.add_argument("--model", help=f"bundled model (`laplace-codec models`; default: "
                   f"{zoo.default_name()})")
    p.add_argument("--quality", type=float, help="variable-rate models: the quality, a "
                   "continuous scale from 1 up to the model's number of rate levels (higher "
                   "is better; `laplace-codec models` shows each model's range; default: the "
                   "quality of lambda 0.01)")
    p.add_argument("--lmbda", type=float, help="variable-rate models: code at the quality "
                   "trained for this lambda (loss D + lambda R), instead of --quality")
    p.add_argument("--target-bpp", type=float, dest="target_bpp",
                   help="the highest quality whose file fits in this many bpp (a variable-"
                   "rate model's quality is searched with real encodes; otherwise the best "
                   "bundled fixed-rate model is chosen)")
    p.add_argument("--family", help="with --target-bpp: the bundled family to choose from "
                   "(default: the default model's)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="IN OUT: an image file (or "
                   "sample:NAME for a bundled photograph) and the .lgc file to write (or IN "
                   "with -o OUT); with --out-dir, any number of images")
    p.add_argument("--out-dir", dest="out_dir", help="write D/NAME.lgc for every input "
                   "image (one start-up for many files)")
    p.add_argument("-o", "--output", help="the .lgc file to write (instead of a second PATH)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--refine", type=_refine_steps, default=0, metavar="N|best",
                   help="optimise the image's latents for N steps before coding (fewer bits "
                   "at the same quality; the file decodes as any other; default 0); 'best' "
                   f"is {refine_lib.BEST_STEPS} steps (4.3%% fewer bits on Kodak with the default "
                   "model, about 32 s per Kodak image on 2 CPU cores)")
    p.add_argument("--psnr", action="store_true", help="also print the PSNR (and MS-SSIM) "
                   "of the image the file decodes to")
    p.add_argument("--steps", type=int, help="diffusion decoders: sampling steps to record "
                   "in the file (default: the model's)")
    p.add_argument("--sampler", choices=bitstream.SAMPLERS[1:],
                   help="diffusion decoders: sampler to record in the file")
    p.add_argument("--seed", type=int, default=0, help="diffusion decoders: sampler seed")
    p.set_defaults(func=cmd_compress)
    p = sub.add_parser("decompress", help="decode a .lgc file into an image")
    p.add_argument("--ckpt", help="checkpoint of the model named in the file (default: "
                   "the bundled model that wrote it)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="IN OUT: a .lgc file and the "
                   "image to write (PNG unless the suffix says otherwise; or IN with -o OUT); "
                   "with --out-dir, any number of .lgc files")
    p.add_argument("--out-dir", dest="out_dir", help="write D/NAME.png for every input file")
    p.add_argument("-o", "--output", help="the image to write (instead of a second PATH)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--steps", type=int, help="diffusion decoders: override the file's steps")
    p.add_argument("--sampler", choices=bitstream.SAMPLERS[1:],
                   help="diffusion decoders: override the file's sampler")
    p.set_defaults(func=cmd_decompress)
    p = sub.add_parser("info", help="print the header of a .lgc file")
    p.add_argument("input", help=".lgc file")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("build-tables", help="build and save a checkpoint's coding tables")
    p.add_argument("--ckpt", required=True, help="training workdir or checkpoint step whose "
                   "tables to build (from its weights) and store in it")
    p.set_defaults(func=cmd_build_tables)
    p = sub.add_parser("models", help="list the bundled models")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("export", help="pack a trained checkpoint as a zoo model")
    p.add_argument("--ckpt", required=True, help="training workdir or checkpoint step")
    p.add_argument("--name", required=True, help="model name (written into its files)")
    p.add_argument("--out", required=True, help="directory for NAME.npz and NAME.json; "
                   "point $LAPLACE_CODEC_MODELS at it to use the model")
    p.add_argument("--precision", default="int8", choices=zoo.PRECISIONS,
                   help="storage of large kernels (default int8, one scale per channel)")
    p.add_argument("--family", help="family name for --target-bpp (default: "
                   "ENTROPY-DECODER)")
    p.add_argument("--description", default="", help="one line on what the model is")
    p.add_argument("--eval", help="glob of images (Kodak) to measure and record the "
                   "model's own figures on")
    p.add_argument("--steps", type=int, help="diffusion decoders: the default number of "
                   "sampling steps of the exported model (default: the training config's)")
    p.add_argument("--sampler", choices=bitstream.SAMPLERS[1:], help="diffusion decoders: "
                   "the default sampler of the exported model (default: the config's)")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    absl_logging.set_verbosity(absl_logging.ERROR)

    def show_warning(message, category, *rest, **kw):
        _log(f"laplace-codec: warning: {message}")

    warnings.showwarning = show_warning
    try:
        args.func(args)
    except (LaplaceCodecError, _UsageError) as e:
        _log(f"laplace-codec: error: {e}")
        return 2
    except BrokenPipeError:  # whoever read our output stopped (`| head`): end quietly
        return 141  # as a shell reports a process ended by SIGPIPE
    except OSError as e:
        _log(f"laplace-codec: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "))
        return 2
    except MemoryError:
        _log("laplace-codec: error: out of memory (the image is too large for this machine)")
        return 2
    except RuntimeError as e:  # XLA reports exhausted memory as XlaRuntimeError
        if "RESOURCE_EXHAUSTED" not in str(e):
            raise
        _log("laplace-codec: error: out of memory (the image is too large for this machine)")
        return 2
    except KeyboardInterrupt:
        _log("laplace-codec: interrupted; no output was written")
        return 130
    return 0


def run() -> None:
    """The ``laplace-codec`` command: :func:`main`, then exit without the interpreter's teardown.

    With TensorFlow and JAX loaded, Python's orderly shutdown takes 0.7-1 s (measured on this
    project's CPU machines, see benchmarks/cli_latency.py), longer than the coding itself, and
    does nothing a finished command needs: every output is written atomically and closed
    before :func:`main` returns. Exceptions that escape :func:`main` still end normally."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe: nothing more can be said
            code = code or 141
    os._exit(code)


if __name__ == "__main__":
    run()
