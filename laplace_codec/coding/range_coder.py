"""Range coding through tensorflow-compression-ops, with a bounded escape of our own.

A *lookup* is a 2-D int32 table, one row per distribution: ``row[0]`` is the coder precision,
followed by the quantized CDF of the row's symbols ``0 .. L-1`` and of the escape symbol
``L``; rows are padded with their final value, which the coder reads as zero-probability
padding. Integers outside a row's support are coded as its escape symbol, and their values
are appended to the stream as zigzag varints (at most 5 bytes each).

The coder's own Elias-gamma escape (negative precision) is not used: on a crafted stream its
length prefix never terminates, so a hostile file would hang the decoder. With positive
precision every decode call ends, whatever the bytes.

Stream layout: ``varint(len(range_bytes)) + range_bytes + varint escapes``. Whole arrays are
coded per op call (about 40 M symbols/s here); callers group the elements that share a
coding step into one call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from laplace_codec.coding import tf_backend
from laplace_codec.errors import FormatError

PRECISION = 16
_INT32 = (-(2**31), 2**31 - 1)


def _ops():
    return tf_backend.tf(), tf_backend.compression_ops()


def quantized_cdf(pmf: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Integer CDF (length ``len(pmf) + 1``) of a pmf whose last entry is the escape mass.

    Every positive entry keeps a nonzero count, so every symbol stays codable.
    """
    pmf = np.asarray(pmf, np.float32)
    if pmf.ndim != 1 or pmf.size < 2:
        raise ValueError(f"pmf must be a 1-D array of at least 2 entries, got shape {pmf.shape}")
    if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
        raise ValueError("pmf entries must be finite and non-negative (clip the tail mass at 0)")
    if pmf[-1] <= 0:
        raise ValueError("the last pmf entry is the escape symbol and must be positive")
    tf, tfc_ops = _ops()
    return tfc_ops.pmf_to_quantized_cdf(tf.constant(pmf), precision=precision).numpy()


def make_lookup(cdfs: Sequence[np.ndarray], precision: int = PRECISION) -> np.ndarray:
    """Stacks CDFs into one lookup table (first column: the precision)."""
    width = max(len(c) for c in cdfs)
    lookup = np.empty((len(cdfs), width + 1), np.int32)
    lookup[:, 0] = precision
    for row, cdf in zip(lookup, cdfs):
        row[1:1 + len(cdf)] = cdf
        row[1 + len(cdf):] = cdf[-1]
    return lookup


def escape_symbols(lookup: np.ndarray) -> np.ndarray:
    """The escape symbol of each row: the last symbol with nonzero probability."""
    cdf = lookup[:, 1:]
    full = cdf >= (1 << lookup[:, :1])
    return (np.argmax(full, axis=1) - 1).astype(np.int32)


def _write_varint(out: bytearray, n: int) -> None:
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


class _VarintReader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def read(self) -> int:
        n = shift = 0
        for _ in range(5):
            if self.pos >= len(self.data):
                raise FormatError("stream is truncated (escaped values missing)")
            byte = self.data[self.pos]
            self.pos += 1
            n |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return n
            shift += 7
        raise FormatError("stream is corrupted (overlong escaped value)")


def _zigzag(v: int) -> int:
    return (v << 1) ^ (v >> 63)


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


class Encoder:
    """One stream; ``encode`` may be called many times before ``finish``."""

    def __init__(self, lookup: np.ndarray):
        tf, self._tfc = _ops()
        self._escape = escape_symbols(lookup)
        self._handle = self._tfc.create_range_encoder([], tf.constant(lookup, tf.int32))
        self._escaped = bytearray()

    def encode(self, values: np.ndarray, indexes: np.ndarray) -> None:
        """Codes int32 ``values`` (symbols of their rows) with the rows ``indexes``."""
        values = np.ascontiguousarray(values, np.int32).ravel()
        indexes = np.ascontiguousarray(indexes, np.int32).ravel()
        if not values.size:
            return
        escape = self._escape[indexes]
        outside = (values < 0) | (values >= escape)
        if outside.any():
            for v in values[outside].tolist():
                _write_varint(self._escaped, _zigzag(v))
            values = np.where(outside, escape, values)
        self._handle = self._tfc.entropy_encode_index(self._handle, indexes, values)

    def finish(self) -> bytes:
        coded = self._tfc.entropy_encode_finalize(self._handle).numpy()
        head = bytearray()
        _write_varint(head, len(coded))
        return bytes(head) + coded + bytes(self._escaped)


class Decoder:
    """Reads back, call for call, what an :class:`Encoder` wrote with the same lookup."""

    def __init__(self, data: bytes, lookup: np.ndarray):
        self._tf, self._tfc = _ops()
        self._escape = escape_symbols(lookup)
        reader = _VarintReader(data)
        length = reader.read()
        if reader.pos + length > len(data):
            raise FormatError("stream is truncated (range-coded part)")
        coded = data[reader.pos:reader.pos + length]
        self._escaped = _VarintReader(data, reader.pos + length)
        self._handle = self._tfc.create_range_decoder(
            self._tf.constant(coded, self._tf.string), self._tf.constant(lookup, self._tf.int32))

    def decode(self, indexes: np.ndarray) -> np.ndarray:
        indexes = np.ascontiguousarray(indexes, np.int32)
        if not indexes.size:
            return np.zeros(indexes.shape, np.int32)
        flat = indexes.ravel()
        self._handle, values = self._tfc.entropy_decode_index(
            self._handle, flat, [flat.size], self._tf.int32)
        values = values.numpy().astype(np.int64)
        outside = np.nonzero(values == self._escape[flat])[0]
        for i in outside.tolist():
            values[i] = _unzigzag(self._escaped.read())
        if outside.size and (values.min() < _INT32[0] or values.max() > _INT32[1]):
            raise FormatError("stream is corrupted (escaped value out of range)")
        return values.astype(np.int32).reshape(indexes.shape)

    def finish(self) -> bool:
        """True when both parts were consumed exactly (a weak check; see the CRCs)."""
        ok = bool(self._tfc.entropy_decode_finalize(self._handle).numpy())
        return ok and self._escaped.pos == len(self._escaped.data)
