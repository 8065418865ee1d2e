"""The .lgc container: every damaged, truncated or foreign file raises FormatError."""

import struct

import numpy as np
import pytest

from laplace_codec.coding import bitstream
from laplace_codec.errors import FormatError

HEADER = bitstream.Header(model_name="tiny-λ", model_hash=bytes(range(8)), height=17,
                          width=31, pad_h=47, pad_w=33, decoder_seed=7, decoder_steps=25,
                          decoder_sampler=2, symbols_crc=0xDEADBEEF)
STREAMS = [b"\x01\x02\x03", b"", b"payload bytes"]


def test_round_trip_keeps_every_field():
    header, streams = bitstream.unpack(bitstream.pack(HEADER, STREAMS))
    assert header == HEADER
    assert streams == STREAMS


def test_every_single_byte_change_is_detected():
    data = bytearray(bitstream.pack(HEADER, STREAMS))
    for pos in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            damaged = data.copy()
            damaged[pos] ^= flip
            with pytest.raises(FormatError):
                bitstream.unpack(bytes(damaged))


def test_truncation_and_extension_are_detected():
    data = bitstream.pack(HEADER, STREAMS)
    for n in range(len(data)):
        with pytest.raises(FormatError):
            bitstream.unpack(data[:n])
    with pytest.raises(FormatError, match="longer than its header says"):
        bitstream.unpack(data + b"\x00")


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "wrong magic"),
    (b"LGCF\x09", "unsupported format version 9"),
])
def test_foreign_files_are_refused(data, message):
    with pytest.raises(FormatError, match=message):
        bitstream.unpack(data)


def test_huge_image_claims_are_refused_before_decoding():
    big = bitstream.Header(model_name="m", model_hash=bytes(8), height=10**9 // 1000,
                           width=10**9 // 1000, pad_h=0, pad_w=0)
    with pytest.raises(FormatError, match="implausible image size"):
        bitstream.unpack(bitstream.pack(big, [b"x"]))


def test_layout_is_little_endian_as_documented():
    data = bitstream.pack(HEADER, STREAMS)
    name = HEADER.model_name.encode()
    assert data[:4] == b"LGCF" and data[4] == 1 and data[5] == len(name)
    pos = 6 + len(name) + 8
    h, w = struct.unpack_from("<II", data, pos)
    assert (h, w) == (17, 31)


def test_symbols_crc_depends_on_order_and_values():
    a, b = np.array([1, 2, 3]), np.array([4])
    assert bitstream.symbols_crc(a, b) != bitstream.symbols_crc(b, a)
    assert bitstream.symbols_crc(a) != bitstream.symbols_crc(a + 1)


@pytest.mark.parametrize("sampler,steps", [(3, 25), (255, 25), (0, 25), (1, 0)])
def test_inconsistent_decoder_fields_are_refused(sampler, steps):
    """A header whose CRC is right but whose sampler code is unknown, or that names a sampler
    without steps (or steps without a sampler), is refused."""
    import zlib

    data = bytearray(bitstream.pack(HEADER, STREAMS))
    fixed = 4 + 1 + 1 + len(HEADER.model_name.encode()) + 8
    offset = fixed + struct.calcsize("<IIBBHHI")
    struct.pack_into("<HB", data, offset, steps, sampler)
    head_len = fixed + bitstream._FIXED.size + 4 * len(STREAMS) + 8
    struct.pack_into("<I", data, head_len, zlib.crc32(bytes(data[:head_len])))
    with pytest.raises(FormatError, match="sampler"):
        bitstream.unpack(bytes(data))


def test_sampler_codes_cover_every_sampler_in_order():
    """The header's sampler codes are the samplers of blur_diffusion after "none"."""
    from laplace_codec.models.decoders import blur_diffusion

    assert bitstream.SAMPLERS == ("none",) + blur_diffusion.SAMPLERS
