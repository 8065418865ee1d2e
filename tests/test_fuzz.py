"""Fuzzing the decoder: damaged and crafted .lgc files end in the format's own error or in
the correct image; never a hang, a crash, a huge allocation or a silently wrong image.

Seeded and bounded. Cases are derived from real files of the trained test codecs:

- *damaged* files (bit flips, byte rewrites, truncations, extensions, header fields rewritten
  in place): most are refused by the header or payload CRC before any decoding;
- *crafted* files, whose CRCs are recomputed after the change (header fields set to extreme
  values: 10^9 x 10^9 images, 255 streams, lengths past the end; stream bytes flipped, cut,
  extended, replaced): these reach the range decoder, so its bounds checks and the
  decoded-symbol CRC are what must catch them.

A decode that succeeds must return exactly the unmodified file's image (cropped to the size
its header states, when a crafted header changes the size within the same padded latent).
Every error must be a :class:`LaplaceCodecError` with a one-line message. Each case runs in a
worker thread with a time bound; the peak RSS of the process may grow by at most
``MAX_GROWTH_GIB`` over the whole run. The outcome counts are printed (``pytest -s``).
``LAPLACE_CODEC_FUZZ_SCALE=10`` multiplies the number of random cases.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import struct
import threading
import time
import warnings
import zlib

import numpy as np
import pytest

from laplace_codec.coding import bitstream
from laplace_codec.errors import LaplaceCodecError

SEED = 20240607
SCALE = float(os.environ.get("LAPLACE_CODEC_FUZZ_SCALE", "1"))
CASE_SECONDS = 60.0  # generous: a shared 2-core machine; a real hang never ends
MAX_GROWTH_GIB = 2.0


# --------------------------------------------------------------------------- the layout
@dataclasses.dataclass
class Fields:
    """Every header field of a file, as written (an independent reading of the layout
    documented in ``bitstream.py``)."""

    magic: bytes
    version: int
    name: bytes
    model_hash: bytes
    height: int
    width: int
    channels: int
    bit_depth: int
    pad_h: int
    pad_w: int
    seed: int
    steps: int
    sampler: int
    lengths: list
    payload_crc: int
    symbols_crc: int
    payload: bytes

    @classmethod
    def parse(cls, data: bytes) -> "Fields":
        n = data[5]
        pos = 6 + n
        h, w, c, d, ph, pw, seed, steps, sampler, k = struct.unpack_from(
            "<IIBBHHIHBB", data, pos + 8)
        pos += 8 + 22
        lengths = list(struct.unpack_from(f"<{k}I", data, pos))
        pos += 4 * k
        pcrc, scrc = struct.unpack_from("<II", data, pos)
        return cls(data[:4], data[4], data[6:6 + n], data[6 + n:14 + n], h, w, c, d, ph, pw,
                   seed, steps, sampler, lengths, pcrc, scrc, data[pos + 12:])

    def offsets(self) -> dict:
        """Byte offset and struct format of each fixed-size field."""
        base = 14 + len(self.name)
        out = dict(version=(4, "B"), name_len=(5, "B"), height=(base, "<I"),
                   width=(base + 4, "<I"), channels=(base + 8, "B"), bit_depth=(base + 9, "B"),
                   pad_h=(base + 10, "<H"), pad_w=(base + 12, "<H"), seed=(base + 14, "<I"),
                   steps=(base + 18, "<H"), sampler=(base + 20, "B"), k=(base + 21, "B"))
        pos = base + 22
        for i in range(len(self.lengths)):
            out[f"length{i}"] = (pos + 4 * i, "<I")
        pos += 4 * len(self.lengths)
        out.update(payload_crc=(pos, "<I"), symbols_crc=(pos + 4, "<I"),
                   header_crc=(pos + 8, "<I"))
        return out

    def build(self, fix_payload_crc: bool = True, k: int | None = None) -> bytes:
        """The file's bytes, with a correct header CRC (and payload CRC unless told not to)."""
        k = len(self.lengths) if k is None else k
        pcrc = zlib.crc32(self.payload) if fix_payload_crc else self.payload_crc
        head = b"".join([
            self.magic, bytes([self.version, len(self.name) & 0xFF]), self.name,
            self.model_hash,
            struct.pack("<IIBBHHIHBB", self.height, self.width, self.channels, self.bit_depth,
                        self.pad_h, self.pad_w, self.seed, self.steps, self.sampler, k & 0xFF),
            struct.pack(f"<{len(self.lengths)}I", *self.lengths),
            struct.pack("<II", pcrc, self.symbols_crc)])
        return head + struct.pack("<I", zlib.crc32(head)) + self.payload

    def streams(self) -> list:
        out, pos = [], 0
        for n in self.lengths:
            out.append(self.payload[pos:pos + n])
            pos += n
        return out

    def with_streams(self, streams) -> "Fields":
        return dataclasses.replace(self, lengths=[len(s) for s in streams],
                                   payload=b"".join(streams))


def test_layout_reader_agrees_with_the_writer():
    header = bitstream.Header(model_name="m-λ", model_hash=bytes(range(8)), height=17, width=31,
                              pad_h=47, pad_w=33, decoder_seed=9, decoder_steps=4,
                              decoder_sampler=2,
                              symbols_crc=0x12345678)
    data = bitstream.pack(header, [b"abc", b"defgh"])
    fields = Fields.parse(data)
    assert (fields.height, fields.width, fields.pad_h, fields.pad_w) == (17, 31, 47, 33)
    assert (fields.seed, fields.steps, fields.sampler) == (9, 4, 2)
    assert fields.lengths == [3, 5] and fields.payload == b"abcdefgh"
    assert fields.build(fix_payload_crc=False) == data
    assert struct.unpack_from("<I", data, fields.offsets()["header_crc"][0])[0] == \
        zlib.crc32(data[:fields.offsets()["header_crc"][0]])


# --------------------------------------------------------------------------- the cases
def _flip(data: bytes, rng, bits: int) -> bytes:
    out = bytearray(data)
    for _ in range(bits):
        pos = int(rng.integers(len(out)))
        out[pos] ^= 1 << int(rng.integers(8))
    return bytes(out)


def _set_field(data: bytes, offsets: dict, name: str, value: int) -> bytes:
    pos, fmt = offsets[name]
    size = struct.calcsize(fmt)
    value &= (1 << (8 * size)) - 1
    return data[:pos] + struct.pack(fmt, value) + data[pos + size:]


def damaged_cases(data: bytes, rng, scale: float):
    """Files changed without fixing any CRC."""
    n = lambda count: max(1, int(count * scale))  # noqa: E731
    fields = Fields.parse(data)
    offsets = fields.offsets()
    head_len = offsets["header_crc"][0] + 4
    for i in range(n(500)):
        yield "bit flips", _flip(data, rng, 1 + i % 4)
    for _ in range(n(150)):
        pos = int(rng.integers(len(data)))
        yield "byte rewrite", data[:pos] + bytes([int(rng.integers(256))]) + data[pos + 1:]
    for length in range(head_len + 1):
        yield "truncation (header)", data[:length]
    for _ in range(n(40)):
        yield "truncation (payload)", data[:int(rng.integers(head_len, len(data)))]
    for _ in range(n(30)):
        extra = rng.integers(0, 256, int(rng.integers(1, 100)), dtype=np.uint8).tobytes()
        yield "extension", data + extra
    yield "extension", data + data
    for name in offsets:
        if name == "header_crc":
            continue
        for value in (0, 1, 255, 65535, 10**9, 2**32 - 1):
            yield "header field in place", _set_field(data, offsets, name, value)


def crafted_header_cases(data: bytes, rng):
    """Header fields rewritten, every CRC recomputed: checks beyond the checksums."""
    f = Fields.parse(data)
    rep = dataclasses.replace
    for h in (0, 1, f.height + 1, f.height + 64, 4096, 8192, 8193, 10**9, 2**32 - 1):
        yield "size", rep(f, height=h).build()
    for w in (0, 1, f.width - 1, f.width + 64, 8192, 10**9, 2**32 - 1):
        yield "size", rep(f, width=w).build()
    yield "size 10^9 x 10^9", rep(f, height=10**9, width=10**9).build()
    yield "size 8192 x 8192 (the largest decodable)", rep(f, height=8192, width=8192,
                                                           pad_h=0, pad_w=0).build()
    yield "size 2^16 x 2^10", rep(f, height=2**16, width=2**10, pad_h=0, pad_w=0).build()
    # Same padded size, different crop: a file that says so decodes to the crop.
    hp = f.height + f.pad_h
    for h in {max(1, hp - 63), hp - 1, hp}:
        yield "size (same padded size)", rep(f, height=h, pad_h=hp - h).build()
    for ph in (0, 1, f.pad_h + 1, 63, 64, 65535):
        yield "padding", rep(f, pad_h=ph).build()
    for pw in (0, (f.pad_w + 1) % 64, 64, 65535):
        yield "padding", rep(f, pad_w=pw).build()
    for c, d in ((0, 8), (1, 8), (4, 8), (255, 8), (3, 0), (3, 16), (3, 255)):
        yield "channels / bit depth", rep(f, channels=c, bit_depth=d).build()
    for v in (0, 2, 255):
        yield "format version", rep(f, version=v).build()
    yield "magic", rep(f, magic=b"LGCG").build()
    for name in (b"", b"x", b"x" * 255, b"\xff\xfe\xfd", f.name + b"-other"):
        yield "model name", rep(f, name=name).build()
    yield "model name length past the end", rep(f, name=b"x" * 300).build()
    yield "model hash", rep(f, model_hash=rng.integers(0, 256, 8, np.uint8).tobytes()).build()
    for seed, steps, sampler in ((1, 0, 0), (2**32 - 1, 65535, 0), (0, 1, 0), (0, 0, 1),
                                 (7, 25, 1), (7, 25, 2), (7, 25, 3), (0, 0, 255)):
        yield "decoder seed / steps / sampler", rep(f, seed=seed, steps=steps,
                                                    sampler=sampler).build()
    yield "symbols crc", rep(f, symbols_crc=f.symbols_crc ^ 1).build()
    yield "payload crc", rep(f, payload_crc=f.payload_crc ^ 1).build(fix_payload_crc=False)
    total = sum(f.lengths)
    streams = f.streams()
    # Stream counts and lengths.
    yield "stream count 0", rep(f, lengths=[]).build()
    yield "stream count 1", rep(f, lengths=[total]).build()
    yield "stream count 3", rep(f, lengths=[f.lengths[0], f.lengths[1], 0]).build()
    yield "stream count 3", rep(f, lengths=[1, f.lengths[0] - 1, f.lengths[1]]).build()
    yield "stream count 64", rep(f, lengths=[total] + [0] * 63).build()
    yield "stream count 65", rep(f, lengths=[total] + [0] * 64).build()
    yield "stream count 255", rep(f, lengths=[total] + [0] * 254).build()
    yield "stream count byte says 255, 2 lengths", f.build(k=255)
    for a in (0, 1, f.lengths[0] - 1, f.lengths[0] + 1, total):
        yield "stream lengths moved", rep(f, lengths=[a, total - a]).build()
    for lengths in ([2**32 - 1, 0], [f.lengths[0], 2**32 - 1], [2**31, 2**31]):
        yield "stream lengths huge", rep(f, lengths=lengths).build()
    yield "streams swapped", f.with_streams(streams[::-1]).build()
    yield "streams duplicated", f.with_streams([streams[0], streams[0]]).build()


def crafted_payload_cases(data: bytes, rng, scale: float):
    """Stream bytes changed, CRCs recomputed: the range decoder and the symbol CRC decide."""
    n = lambda count: max(1, int(count * scale))  # noqa: E731
    f = Fields.parse(data)
    streams = f.streams()

    def edit(i, new):
        s = list(streams)
        s[i] = new
        return f.with_streams(s).build()

    for j in range(n(150)):
        i = j % 2
        yield f"stream {i} bit flips", edit(i, _flip(streams[i], rng, 1 + j % 3))
    for j in range(n(20)):
        i = j % 2
        yield f"stream {i} cut", edit(i, streams[i][:int(rng.integers(len(streams[i])))])
    for j in range(n(20)):
        i = j % 2
        extra = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        yield f"stream {i} extended", edit(i, streams[i] + extra)
    for j in range(n(10)):
        i = j % 2
        junk = rng.integers(0, 256, len(streams[i]), dtype=np.uint8).tobytes()
        yield f"stream {i} random bytes", edit(i, junk)
    for i in (0, 1):
        yield f"stream {i} empty", edit(i, b"")
        yield f"stream {i} zeros", edit(i, bytes(len(streams[i])))
        yield f"stream {i} overlong varint", edit(i, b"\xff" * 6 + streams[i])
        yield f"stream {i} length prefix 2^35", edit(i, b"\xff\xff\xff\xff\x7f" + streams[i])
        yield f"stream {i} escapes of 2^35", edit(i, streams[i] + b"\xff\xff\xff\xff\x7f" * 8)


# --------------------------------------------------------------------------- the runner
def _peak_rss_gib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return 0.0


def _with_time_bound(fn, seconds: float):
    """(result, error, seconds) of ``fn()`` run in a daemon thread; raises on a hang."""
    box = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - every outcome is classified
            box["error"] = e

    t0 = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"case did not finish within {seconds} s")
    return box.get("result"), box.get("error"), time.perf_counter() - t0


def _message_kind(e: Exception) -> str:
    """The error message with its numbers and names blanked, for the outcome table."""
    text = re.sub(r"\b[0-9a-f]{16}\b", "HASH", str(e))
    text = re.sub(r"\d+", "#", text)
    return f"{type(e).__name__}: {text.split(':')[0] if 'model' in text else text}"[:100]


@dataclasses.dataclass
class Report:
    outcomes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    kinds: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failures: list = dataclasses.field(default_factory=list)
    slowest: tuple = (0.0, "")
    cases: int = 0

    def show(self, title: str) -> str:
        seconds, what = self.slowest
        lines = [f"{title}: {self.cases} cases, slowest {seconds:.2f} s ({what})"]
        lines += [f"  {n:6d}  {k}" for k, n in sorted(self.outcomes.items())]
        lines += ["  errors by message:"]
        lines += [f"  {n:6d}  {k}" for k, n in self.kinds.most_common()]
        return "\n".join(lines)


def run_cases(codec, original: bytes, cases, report: Report) -> None:
    """Decodes each case and checks it against the oracle described in the module doc."""
    ref = Fields.parse(original)
    hp, wp = ref.height + ref.pad_h, ref.width + ref.pad_w
    full = codec.decode(original)
    reference = codec.reconstruct(full.y_hat, hp, wp)
    for what, data in cases:
        report.cases += 1
        try:
            image, error, seconds = _with_time_bound(lambda: codec.decompress(data), CASE_SECONDS)
        except TimeoutError as e:
            report.failures.append(f"{what}: {e}")
            report.outcomes["HANG"] += 1
            continue
        if seconds > report.slowest[0]:
            report.slowest = (seconds, what)
        if error is not None:
            message = str(error)
            if not isinstance(error, LaplaceCodecError):
                report.outcomes[f"CRASH {type(error).__name__}"] += 1
                report.failures.append(f"{what}: {type(error).__name__}: {message[:300]}")
            elif not message.strip() or "\n" in message:
                report.outcomes["multi-line message"] += 1
                report.failures.append(f"{what}: message not one line: {message!r}")
            else:
                report.outcomes[f"refused: {type(error).__name__}"] += 1
                report.kinds[_message_kind(error)] += 1
            continue
        got = Fields.parse(data)
        same_latent = (got.height + got.pad_h, got.width + got.pad_w) == (hp, wp)
        if same_latent and np.array_equal(image, reference[:got.height, :got.width]):
            same_size = (got.height, got.width) == (ref.height, ref.width)
            report.outcomes["decoded: the original image" if same_size
                            else "decoded: the crop its header states"] += 1
        else:
            report.outcomes["WRONG IMAGE"] += 1
            report.failures.append(f"{what}: decoded to a wrong image of shape {image.shape}")


CODECS = ["codec", "laplacian_codec"]


def _new_decodable_shape(data: bytes, original: bytes) -> bool:
    """Whether a crafted header makes the decoder work on another latent shape (each new
    shape compiles the model's step functions again: seconds for the Laplacian model)."""
    try:
        f, o = Fields.parse(data), Fields.parse(original)
    except (struct.error, IndexError):
        return False
    hp, wp = f.height + f.pad_h, f.width + f.pad_w
    return (hp % 64 == 0 and wp % 64 == 0 and f.pad_h < 64 and f.pad_w < 64 and f.height >= 1
            and f.width >= 1 and hp * wp <= bitstream.MAX_PIXELS
            and (hp, wp) != (o.height + o.pad_h, o.width + o.pad_w))


@pytest.mark.parametrize("codec_name", CODECS)
def test_fuzzed_files_fail_cleanly_or_decode_correctly(codec_name, request, photo):
    codec = request.getfixturevalue(codec_name)
    rng = np.random.default_rng(SEED)
    scale = SCALE
    sizes = [(64, 64), (37, 101)]
    report = Report()
    rss0 = _peak_rss_gib()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for h, w in sizes:
            original = codec.compress(np.ascontiguousarray(photo[:h, :w]))
            run_cases(codec, original, damaged_cases(original, rng, scale), report)
            header_cases = crafted_header_cases(original, rng)
            if codec_name != "codec":  # the hyperprior covers them, at a fraction of the time
                header_cases = (c for c in header_cases
                                if not _new_decodable_shape(c[1], original))
            run_cases(codec, original, header_cases, report)
            run_cases(codec, original, crafted_payload_cases(original, rng, scale), report)
    growth = _peak_rss_gib() - rss0
    print("\n" + report.show(f"fuzz {codec_name}") +
          f"\n  {time.perf_counter() - t0:.1f} s, peak RSS growth {growth:.2f} GiB")
    assert not report.failures, "\n".join(report.failures[:20])
    assert report.cases >= 1300 * min(SCALE, 1)
    # The crafted payloads must reach the decoder: some are caught by the symbol CRC.
    assert any("out of sync" in k for k in report.kinds), report.kinds
    assert growth < MAX_GROWTH_GIB
