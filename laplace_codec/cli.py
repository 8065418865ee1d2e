"""The ``laplace-codec`` command line.

    laplace-codec compress --ckpt DIR IN.png OUT.lgc     # prints bpp and times
    laplace-codec decompress --ckpt DIR OUT.lgc REC.png
    laplace-codec compress --ckpt DIFF --steps 25 --sampler ddim IN.png OUT.lgc  # diffusion
    laplace-codec decompress --ckpt DIFF --steps 100 OUT.lgc REC.png  # overrides the header
    laplace-codec info OUT.lgc                           # prints the header
    laplace-codec build-tables --ckpt DIR                # for checkpoints saved without tables

``IN`` may be ``sample:NAME`` for one of scikit-image's bundled photographs. User errors
print one line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _codec(ckpt: str, steps=None, sampler=None):
    from laplace_codec.codec import enable_compilation_cache, load

    enable_compilation_cache()
    try:
        return load(ckpt, steps=steps, sampler=sampler)
    except ValueError as e:  # sampling options for a model that does not sample
        raise _UsageError(str(e)) from None


def cmd_compress(args) -> None:
    from laplace_codec import images

    if not args.ckpt:
        raise _UsageError("compress needs --ckpt DIR (a training workdir or checkpoint step)")
    image = images.read_image(args.input)
    codec = _codec(args.ckpt, args.steps, args.sampler)
    t0 = time.perf_counter()
    encoded = codec.encode(image, seed=args.seed)
    seconds = time.perf_counter() - t0
    images.atomic_write(args.output, encoded.data)
    pixels = image.shape[0] * image.shape[1]
    print(f"{args.input} -> {args.output}: {image.shape[1]}x{image.shape[0]}, "
          f"{len(encoded.data)} bytes, {8 * len(encoded.data) / pixels:.4f} bpp "
          f"(model estimate {encoded.estimated_bits / pixels:.4f}), encode {seconds:.3f} s "
          f"(network {encoded.network_s:.3f} s, range coding {encoded.coding_s:.3f} s), "
          f"model {codec.model_id}")


def _read_file(path: str) -> bytes:
    from laplace_codec.errors import InputError

    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    with open(path, "rb") as f:
        return f.read()


def cmd_decompress(args) -> None:
    from laplace_codec import bitstream, images

    data = _read_file(args.input)
    header, _ = bitstream.unpack(data)
    if not args.ckpt:
        raise _UsageError(f"{args.input} was written by model {header.model_name}@"
                          f"{header.model_hash.hex()}; pass that model's --ckpt DIR")
    codec = _codec(args.ckpt)
    t0 = time.perf_counter()
    try:
        image = codec.decompress(data, steps=args.steps, sampler=args.sampler)
    except ValueError as e:
        raise _UsageError(str(e)) from None
    seconds = time.perf_counter() - t0
    images.write_image(args.output, image)
    print(f"{args.input} -> {args.output}: {header.width}x{header.height}, decode "
          f"{seconds:.3f} s, model {codec.model_id}")


def cmd_info(args) -> None:
    from laplace_codec import bitstream

    data = _read_file(args.input)
    header, streams = bitstream.unpack(data)
    pixels = header.height * header.width
    rows = [
        ("file", args.input),
        ("format version", bitstream.FORMAT_VERSION),
        ("model", f"{header.model_name}@{header.model_hash.hex()}"),
        ("size", f"{header.width}x{header.height}, {header.channels} channels, "
                 f"{header.bit_depth} bits"),
        ("padding", f"{header.pad_h} rows, {header.pad_w} columns"),
        ("decoder", "MSE synthesis" if not header.decoder_sampler else
         f"diffusion, {header.sampler} sampler, {header.decoder_steps} steps, "
         f"seed {header.decoder_seed}"),
        ("streams", ", ".join(f"{len(s)} bytes" for s in streams)),
        ("total", f"{len(data)} bytes, {8 * len(data) / pixels:.4f} bpp"),
        ("symbols crc32", f"{header.symbols_crc:08x}"),
    ]
    for key, value in rows:
        print(f"{key:>15}: {value}")


def cmd_build_tables(args) -> None:
    from laplace_codec import checkpoint, training

    ckpt = checkpoint.load(args.ckpt)
    model = checkpoint.model_of(dict(ckpt, tables=None))  # the tables are being rebuilt
    tables = training.tables_for(model, ckpt["params"])
    checkpoint.save_tables(args.ckpt, tables.to_dict())
    print(f"coding tables written to {ckpt['directory']}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laplace-codec", description="Learned image compression with laplace_codec.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compress", help="compress an image into a .lgc file")
    p.add_argument("--ckpt", help="training workdir or checkpoint step of the model")
    p.add_argument("input", help="image file, or sample:NAME for a bundled photograph")
    p.add_argument("output", help="output .lgc file")
    p.add_argument("--steps", type=int, help="diffusion decoders: sampling steps to record "
                   "in the file (default: the model's)")
    p.add_argument("--sampler", choices=("ancestral", "ddim"),
                   help="diffusion decoders: sampler to record in the file")
    p.add_argument("--seed", type=int, default=0, help="diffusion decoders: sampler seed")
    p.set_defaults(func=cmd_compress)
    p = sub.add_parser("decompress", help="decode a .lgc file into an image")
    p.add_argument("--ckpt", help="checkpoint of the model named in the file")
    p.add_argument("input", help=".lgc file")
    p.add_argument("output", help="output image (PNG unless the suffix says otherwise)")
    p.add_argument("--steps", type=int, help="diffusion decoders: override the file's steps")
    p.add_argument("--sampler", choices=("ancestral", "ddim"),
                   help="diffusion decoders: override the file's sampler")
    p.set_defaults(func=cmd_decompress)
    p = sub.add_parser("info", help="print the header of a .lgc file")
    p.add_argument("input")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("build-tables", help="build and save a checkpoint's coding tables")
    p.add_argument("--ckpt", required=True)
    p.set_defaults(func=cmd_build_tables)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    from laplace_codec.errors import LaplaceCodecError

    def show_warning(message, category, *rest, **kw):
        _log(f"laplace-codec: warning: {message}")

    warnings.showwarning = show_warning
    try:
        args.func(args)
    except (LaplaceCodecError, _UsageError) as e:
        _log(f"laplace-codec: error: {e}")
        return 2
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


if __name__ == "__main__":
    sys.exit(main())
