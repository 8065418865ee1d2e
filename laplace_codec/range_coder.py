"""Range coding through tensorflow-compression-ops: the only module that imports TensorFlow.

A *lookup* is a 2-D int32 table, one row per distribution: ``row[0]`` is the negated coder
precision (negative enables the Elias-gamma escape, so any integer can be coded), followed by
the quantized CDF of the row's symbols ``0 .. L-1`` and the escape symbol ``L``; rows are
padded with their final value, which the coder reads as zero-probability padding.

Whole arrays are coded per op call (about 40 M symbols/s here); callers group the elements
that share a coding step into one call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from laplace_codec import tf_backend

PRECISION = 16


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
    tf, tfc_ops = _ops()
    return tfc_ops.pmf_to_quantized_cdf(tf.constant(pmf), precision=precision).numpy()


def make_lookup(cdfs: Sequence[np.ndarray], precision: int = PRECISION) -> np.ndarray:
    """Stacks CDFs into one lookup table with the escape-enabling negative precision column."""
    width = max(len(c) for c in cdfs)
    lookup = np.empty((len(cdfs), width + 1), np.int32)
    lookup[:, 0] = -precision
    for row, cdf in zip(lookup, cdfs):
        row[1:1 + len(cdf)] = cdf
        row[1 + len(cdf):] = cdf[-1]
    return lookup


class Encoder:
    """One range-coded stream; ``encode`` may be called many times before ``finish``."""

    def __init__(self, lookup: np.ndarray):
        tf, self._tfc = _ops()
        self._handle = self._tfc.create_range_encoder([], tf.constant(lookup, tf.int32))

    def encode(self, values: np.ndarray, indexes: np.ndarray) -> None:
        """Codes integer ``values`` with the lookup rows ``indexes`` (same shape)."""
        values = np.ascontiguousarray(values, np.int32).ravel()
        indexes = np.ascontiguousarray(indexes, np.int32).ravel()
        if values.size:
            self._handle = self._tfc.entropy_encode_index(self._handle, indexes, values)

    def finish(self) -> bytes:
        return self._tfc.entropy_encode_finalize(self._handle).numpy()


class Decoder:
    """Reads back, call for call, what an :class:`Encoder` wrote with the same lookup."""

    def __init__(self, data: bytes, lookup: np.ndarray):
        self._tf, self._tfc = _ops()
        self._handle = self._tfc.create_range_decoder(
            self._tf.constant(data, self._tf.string), self._tf.constant(lookup, self._tf.int32))

    def decode(self, indexes: np.ndarray) -> np.ndarray:
        indexes = np.ascontiguousarray(indexes, np.int32)
        if not indexes.size:
            return np.zeros(indexes.shape, np.int32)
        flat = indexes.ravel()
        self._handle, values = self._tfc.entropy_decode_index(
            self._handle, flat, [flat.size], self._tf.int32)
        return values.numpy().reshape(indexes.shape)

    def finish(self) -> bool:
        """True when the stream was consumed consistently (a weak check; see the CRCs)."""
        return bool(self._tfc.entropy_decode_finalize(self._handle).numpy())
