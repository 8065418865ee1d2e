"""The ``.lgc`` file format. All integers little-endian; layout, in order:

====  ==========  ===========================================================
size  type        field
====  ==========  ===========================================================
4     bytes       magic ``b"LGCF"``
1     uint8       format version: 1, or 2 for a variable-rate model's file
1     uint8       length n of the model name
n     utf-8       model name
8     bytes       model hash: first 8 bytes of SHA-256 over weights and coding tables
4     uint32      image height H (pixels, before padding)
4     uint32      image width W
1     uint8       channels (3)
1     uint8       bit depth (8)
2     uint16      padding added at the bottom (rows)
2     uint16      padding added at the right (columns)
4     uint32      decoder seed (sampling decoders; 0 otherwise)
2     uint16      decoder steps (sampling decoders; 0 otherwise)
1     uint8       decoder sampler: 0 none (MSE decoder), 1 ancestral, 2 ddim (eta = 0)
1     uint8       number of streams k
4     float32     version 2 only: the quality the file was coded at (variable-rate models)
4k    uint32      length in bytes of each stream
4     uint32      CRC32 of the payload (the k streams, concatenated)
4     uint32      CRC32 of the decoded symbols (int32 LE, in coding order)
4     uint32      CRC32 of every header byte before this field
...               payload
====  ==========  ===========================================================

A fixed-rate model writes version 1, a variable-rate model (``models/gain.py``) version 2;
this build reads both.

The header CRC and payload CRC catch corrupted files before any decoding; the symbol CRC
catches a decoder that went out of sync (for instance, tables or weights that differ from
the encoder's) after decoding, so a file never decodes silently into garbage.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import zlib

from laplace_codec.errors import FormatError
from laplace_codec.images import MAX_PIXELS  # larger headers are refused before allocating

MAGIC = b"LGCF"
FORMAT_VERSION = 2  # the newest version written; VERSIONS are read
VERSIONS = (1, 2)
MAX_STREAMS = 64

# H, W, channels, depth, pad_h, pad_w, seed, steps, sampler, k
_FIXED = struct.Struct("<IIBBHHIHBB")
# Decoder sampler codes 0, 1, 2: part of the format, so append new samplers, never reorder.
# Entries after "none" are blur_diffusion.SAMPLERS (tests/test_bitstream.py checks it).
SAMPLERS = ("none", "ancestral", "ddim")
_QUALITY = struct.Struct("<f")
_CRCS = struct.Struct("<II")


@dataclasses.dataclass(frozen=True)
class Header:
    model_name: str
    model_hash: bytes
    height: int
    width: int
    pad_h: int
    pad_w: int
    channels: int = 3
    bit_depth: int = 8
    decoder_seed: int = 0
    decoder_steps: int = 0
    decoder_sampler: int = 0  # index into SAMPLERS
    symbols_crc: int = 0
    quality: float | None = None  # variable-rate models only (format version 2)

    @property
    def version(self) -> int:
        return 1 if self.quality is None else 2

    @property
    def sampler(self) -> str:
        return SAMPLERS[self.decoder_sampler]


def symbols_crc(*arrays) -> int:
    """CRC32 of int32 little-endian symbol arrays, in the order given."""
    crc = 0
    for a in arrays:
        crc = zlib.crc32(a.astype("<i4").tobytes(), crc)
    return crc


def pack(header: Header, streams: list[bytes]) -> bytes:
    name = header.model_name.encode("utf-8")
    if len(name) > 255:
        raise ValueError("model name is longer than 255 bytes")
    if len(header.model_hash) != 8:
        raise ValueError("model hash must be 8 bytes")
    if not 0 <= header.decoder_sampler < len(SAMPLERS):
        raise ValueError(f"decoder_sampler must index {SAMPLERS}")
    if not 1 <= len(streams) <= MAX_STREAMS:
        raise ValueError(f"a file holds 1 to {MAX_STREAMS} streams, got {len(streams)}")
    if header.quality is not None and not (math.isfinite(header.quality)
                                           and header.quality > 0):
        raise ValueError(f"quality must be a positive number, got {header.quality!r}")
    payload = b"".join(streams)
    head = b"".join([
        MAGIC, bytes([header.version, len(name)]), name, header.model_hash,
        _FIXED.pack(header.height, header.width, header.channels, header.bit_depth,
                    header.pad_h, header.pad_w, header.decoder_seed, header.decoder_steps,
                    header.decoder_sampler, len(streams)),
        _QUALITY.pack(header.quality) if header.quality is not None else b"",
        struct.pack(f"<{len(streams)}I", *map(len, streams)),
        _CRCS.pack(zlib.crc32(payload), header.symbols_crc),
    ])
    return head + struct.pack("<I", zlib.crc32(head)) + payload


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise FormatError(f"file is truncated: it ends inside the {what}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    """Parses and verifies a file; raises :class:`FormatError` on anything malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FormatError(f"expected the bytes of a .lgc file, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise FormatError("file is empty")
    r = _Reader(data)
    if r.take(4, "magic number") != MAGIC:
        raise FormatError("not a laplace_codec file (wrong magic number)")
    (version,) = r.take(1, "header")
    if version not in VERSIONS:
        raise FormatError(f"unsupported format version {version} (this build reads "
                          f"versions {', '.join(map(str, VERSIONS))}; a newer file needs a "
                          f"newer laplace_codec)")
    (name_len,) = r.take(1, "header")
    name_bytes = r.take(name_len, "model name")
    model_hash = r.take(8, "model hash")
    h, w, channels, depth, pad_h, pad_w, seed, steps, sampler, k = _FIXED.unpack(
        r.take(_FIXED.size, "header"))
    quality = None
    if version == 2:
        (quality,) = _QUALITY.unpack(r.take(_QUALITY.size, "header"))
    lengths = struct.unpack(f"<{k}I", r.take(4 * k, "stream lengths"))
    payload_crc, sym_crc = _CRCS.unpack(r.take(_CRCS.size, "checksums"))
    head_len = r.pos
    (head_crc,) = struct.unpack("<I", r.take(4, "header checksum"))
    if zlib.crc32(data[:head_len]) != head_crc:
        raise FormatError("header is corrupted (header checksum mismatch)")
    try:
        name = name_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("header is corrupted (model name is not UTF-8)") from None
    if channels != 3 or depth != 8:
        raise FormatError(f"unsupported image layout: {channels} channels, {depth} bits")
    if not (1 <= h and 1 <= w and (h + pad_h) * (w + pad_w) <= MAX_PIXELS):
        raise FormatError(f"implausible image size {h}x{w} (padded by {pad_h}, {pad_w}) in "
                          f"header: this build decodes at most {MAX_PIXELS} pixels")
    if sampler >= len(SAMPLERS) or (sampler == 0) != (steps == 0):
        raise FormatError(f"header is inconsistent: decoder sampler code {sampler} with "
                          f"{steps} steps")
    if quality is not None and not (math.isfinite(quality) and quality > 0):
        raise FormatError(f"header is inconsistent: quality {quality!r}")
    if not (1 <= k <= MAX_STREAMS):
        raise FormatError(f"implausible stream count {k} in header")
    payload = data[r.pos:]
    if len(payload) != sum(lengths):
        what = "truncated" if len(payload) < sum(lengths) else "longer than its header says"
        raise FormatError(f"file is {what}: payload has {len(payload)} bytes, header says "
                          f"{sum(lengths)}")
    if zlib.crc32(payload) != payload_crc:
        raise FormatError("payload is corrupted (payload checksum mismatch)")
    streams, pos = [], 0
    for n in lengths:
        streams.append(payload[pos:pos + n])
        pos += n
    header = Header(model_name=name, model_hash=model_hash, height=h, width=w, pad_h=pad_h,
                    pad_w=pad_w, channels=channels, bit_depth=depth, decoder_seed=seed,
                    decoder_steps=steps, decoder_sampler=sampler, symbols_crc=sym_crc,
                    quality=quality)
    return header, streams
