"""Range coding through tensorflow-compression-ops, including the Elias-gamma escape."""

import numpy as np
import pytest

from laplace_codec import range_coder


def _lookup():
    narrow = range_coder.quantized_cdf(np.array([0.25, 0.5, 0.25, 1e-3]))
    wide = range_coder.quantized_cdf(np.append(np.full(8, 0.999 / 8), 0.001))
    return range_coder.make_lookup([narrow, wide])


def test_round_trip_with_out_of_range_values_over_several_calls():
    lookup = _lookup()
    rng = np.random.default_rng(0)
    values = [rng.integers(-2000, 2000, 500), rng.integers(0, 3, 10000), np.array([2**20, -7])]
    indexes = [rng.integers(0, 2, v.size) for v in values]
    enc = range_coder.Encoder(lookup)
    for v, i in zip(values, indexes):
        enc.encode(v, i)
    data = enc.finish()
    dec = range_coder.Decoder(data, lookup)
    for v, i in zip(values, indexes):
        np.testing.assert_array_equal(dec.decode(i), v)
    assert dec.finish()


def test_in_range_symbols_cost_close_to_their_entropy():
    lookup = _lookup()
    rng = np.random.default_rng(1)
    values = rng.choice(3, size=100_000, p=[0.25, 0.5, 0.25])
    enc = range_coder.Encoder(lookup)
    enc.encode(values, np.zeros_like(values))
    bits = 8 * len(enc.finish())
    assert 1.5 * values.size <= bits <= 1.51 * values.size  # entropy is 1.5 bits


def test_negative_pmf_is_refused():
    with pytest.raises(ValueError, match="non-negative"):
        range_coder.quantized_cdf(np.array([0.5, 0.6, -0.1]))
