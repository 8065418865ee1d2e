"""Integer CDF tables for range coding, built once after training and stored with weights.

The decoder never rebuilds them: tiny float differences between machines would otherwise
desynchronise the range decoder. ``CodingTables`` holds
- ``z_*``: one row per channel of z, from the learned factorized prior;
- ``y_*``: one row per table scale of the Gaussian conditional, with the float32 bin
  edges that map a predicted sigma to its row.
A row codes the integer ``v`` as symbol ``v + offset[row]``; anything outside the row's
support is coded as the row's escape symbol followed by its value (``range_coder.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from laplace_codec.coding import range_coder
from laplace_codec.errors import CheckpointError
from laplace_codec.models import model as model_lib
from laplace_codec.models.entropy import gaussian_conditional as gc

TAIL_MASS = 1e-6
Z_SEARCH_RANGE = 2048


@dataclasses.dataclass(frozen=True)
class CodingTables:
    z_lookup: np.ndarray
    z_offset: np.ndarray
    y_lookup: np.ndarray
    y_offset: np.ndarray
    scale_edges: np.ndarray

    FIELDS = ("z_lookup", "z_offset", "y_lookup", "y_offset", "scale_edges")

    def to_dict(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in self.FIELDS}

    @classmethod
    def from_dict(cls, d: dict) -> "CodingTables":
        missing = [k for k in cls.FIELDS if k not in d]
        if missing:
            raise CheckpointError(f"coding tables are incomplete (missing {', '.join(missing)})")
        dtypes = dict(z_lookup=np.int32, z_offset=np.int32, y_lookup=np.int32,
                      y_offset=np.int32, scale_edges=np.float32)
        tables = cls(**{k: np.asarray(d[k]).astype(dtypes[k]) for k in cls.FIELDS})
        for name in ("z_lookup", "y_lookup"):
            lookup = getattr(tables, name)
            if lookup.ndim != 2 or not np.all((lookup[:, 0] >= 1) & (lookup[:, 0] <= 16)):
                raise CheckpointError(
                    f"coding table {name} is not in this version's format (precision column "
                    f"outside 1..16); rebuild the tables with `laplace-codec build-tables "
                    f"--ckpt DIR`")
        if len(tables.y_offset) != len(tables.y_lookup) or \
                len(tables.scale_edges) != len(tables.y_lookup) - 1 or \
                len(tables.z_offset) != len(tables.z_lookup):
            raise CheckpointError("coding tables are inconsistent (row counts differ); rebuild "
                                  "them with `laplace-codec build-tables --ckpt DIR`")
        return tables

    def digest(self) -> bytes:
        h = hashlib.sha256()
        for k in self.FIELDS:
            a = np.ascontiguousarray(getattr(self, k))
            h.update(k.encode())
            h.update(str(a.shape).encode())
            h.update(a.tobytes())
        return h.digest()


def gaussian_rows(scales: np.ndarray, tail_mass: float = TAIL_MASS):
    """(cdfs, offsets) of the unit-bin discretized zero-mean Gaussian at each scale."""
    cdfs, offsets = [], []
    for s in scales:
        half = int(np.ceil(s * special.ndtri(1 - tail_mass / 2)))
        k = np.arange(-half, half + 1, dtype=np.float64)
        pmf = gc.mass(k, s)
        pmf = np.append(pmf, max(1.0 - pmf.sum(), tail_mass))
        cdfs.append(range_coder.quantized_cdf(pmf))
        offsets.append(half)
    return cdfs, np.asarray(offsets, np.int32)


def factorized_rows(logits_cdf: Callable[[np.ndarray], np.ndarray], channels: int,
                    tail_mass: float = TAIL_MASS):
    """(cdfs, offsets) of each channel's learned prior over its integer support.

    ``logits_cdf`` maps an array (channels, n) of points to the logits of the cumulative.
    The support of a channel runs from the first integer whose upper bin edge holds more
    than tail_mass / 2 of the mass to the last whose lower edge holds less than
    1 - tail_mass / 2.
    """
    k = np.arange(-Z_SEARCH_RANGE, Z_SEARCH_RANGE + 1, dtype=np.float32)
    upper = np.asarray(logits_cdf(np.broadcast_to(k + 0.5, (channels, k.size))), np.float64)
    lower = np.asarray(logits_cdf(np.broadcast_to(k - 0.5, (channels, k.size))), np.float64)
    cdf_upper, cdf_lower = special.expit(upper), special.expit(lower)
    cdfs, offsets = [], []
    for c in range(channels):
        inside = np.nonzero((cdf_upper[c] > tail_mass / 2) & (cdf_lower[c] < 1 - tail_mass / 2))[0]
        if inside.size == 0:
            raise CheckpointError(f"the factorized prior of channel {c} has no usable support")
        lo, hi = inside[0], inside[-1]
        pmf = np.clip(cdf_upper[c, lo:hi + 1] - cdf_lower[c, lo:hi + 1], 0.0, None)
        pmf = np.append(pmf, max(1.0 - pmf.sum(), tail_mass))
        cdfs.append(range_coder.quantized_cdf(pmf))
        offsets.append(-int(k[lo]))
    return cdfs, np.asarray(offsets, np.int32)


def build_tables(logits_cdf: Callable[[np.ndarray], np.ndarray], z_channels: int,
                 num_scales: int = gc.NUM_SCALES) -> CodingTables:
    """All coding tables of a model, from its factorized prior's cumulative."""
    z_cdfs, z_offset = factorized_rows(logits_cdf, z_channels)
    scales = gc.scale_table(num_scales)
    y_cdfs, y_offset = gaussian_rows(scales)
    return CodingTables(
        z_lookup=range_coder.make_lookup(z_cdfs), z_offset=z_offset,
        y_lookup=range_coder.make_lookup(y_cdfs), y_offset=y_offset,
        scale_edges=gc.scale_bin_edges(scales))


@functools.cache
def _logits_fn(model: model_lib.CompressionModel):
    return jax.jit(lambda p, v: model.apply({"params": p}, v, method=model.z_logits_cdf))


def tables_for(model: model_lib.CompressionModel, params) -> CodingTables:
    """The coding tables of a model's trained parameters (built once, then stored with the
    weights: in the checkpoint at every save, and in a bundled model's file)."""
    logits = _logits_fn(model)
    return build_tables(lambda v: np.asarray(logits(params, jnp.asarray(v))), model.z_channels)
