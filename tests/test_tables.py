"""Coding tables: Gaussian rows, scale indexing, and factorized-prior supports."""

import numpy as np
from scipy import special

from laplace_codec.models.entropy import gaussian_conditional as gc
from laplace_codec.coding import tables


def test_scale_table_is_64_log_spaced_values():
    scales = gc.scale_table()
    assert scales.size == 64
    np.testing.assert_allclose([scales[0], scales[-1]], [0.11, 256.0])
    np.testing.assert_allclose(np.diff(np.log(scales)), np.log(256 / 0.11) / 63)


def test_scale_to_index_picks_the_nearest_scale_in_log():
    scales = gc.scale_table()
    edges = gc.scale_bin_edges(scales)
    np.testing.assert_array_equal(gc.scale_to_index(scales, edges), np.arange(64))
    ratio = np.sqrt(scales[1] / scales[0])
    np.testing.assert_array_equal(gc.scale_to_index(scales[5:7] * ratio * 0.999, edges), [5, 6])
    np.testing.assert_array_equal(gc.scale_to_index(scales[5:7] * ratio * 1.001, edges), [6, 7])
    np.testing.assert_array_equal(gc.scale_to_index([0.01, 1e6], edges), [0, 63])


def test_gaussian_rows_hold_the_discretized_gaussian():
    scales = np.array([0.11, 1.0, 7.5])
    cdfs, offsets = tables.gaussian_rows(scales)
    for s, cdf, off in zip(scales, cdfs, offsets):
        assert cdf[0] == 0 and cdf[-1] == 2**16 and np.all(np.diff(cdf) > 0)
        assert len(cdf) == 2 * off + 3  # symbols -off..off, the escape, and the leading 0
        p0 = (cdf[off + 1] - cdf[off]) / 2**16
        assert abs(p0 - (special.ndtr(0.5 / s) - special.ndtr(-0.5 / s))) < 2 * len(cdf) / 2**16


def test_factorized_rows_cover_a_known_logistic():
    loc, scale = np.array([[3.0], [-10.0]]), np.array([[1.0], [4.0]])
    cdfs, offsets = tables.factorized_rows(lambda v: (v - loc) / scale, channels=2)
    for c in range(2):
        half = scale[c, 0] * np.log(2 / 1e-6)  # logistic quantile of tail_mass / 2
        lo, hi = -offsets[c], -offsets[c] + len(cdfs[c]) - 3
        assert abs(lo - (loc[c, 0] - half)) <= 1.5 and abs(hi - (loc[c, 0] + half)) <= 1.5
        # The most probable symbol sits at the location.
        assert np.argmax(np.diff(cdfs[c])[:-1]) - offsets[c] == int(loc[c, 0])
