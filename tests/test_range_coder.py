"""Range coding through tensorflow-compression-ops, including our bounded escape (the
coder's own Elias-gamma escape is not used)."""

import numpy as np
import pytest

from laplace_codec.coding import range_coder


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


def test_decoding_hostile_bytes_always_terminates():
    """The coder's own Elias-gamma escape loops forever on some streams (for instance a
    row [0.5, 0.5] and the bytes 80 00 00 00); ours must end on any input, in bounded time.
    Run in a subprocess so that a regression fails instead of hanging the suite."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import numpy as np
        from laplace_codec.coding import range_coder
        from laplace_codec.errors import FormatError
        lookup = range_coder.make_lookup([range_coder.quantized_cdf(np.array([0.5, 0.5])),
                                          range_coder.quantized_cdf(np.array([0.2] * 5))])
        rng = np.random.default_rng(0)
        streams = [b"\\x04\\x80\\x00\\x00\\x00", b"\\x04\\x80\\x00\\x00\\x01", b"", b"\\xff" * 9]
        streams += [rng.bytes(int(n)) for n in rng.integers(1, 64, 300)]
        outcomes = {"ok": 0, "error": 0}
        for data in streams:
            try:
                dec = range_coder.Decoder(data, lookup)
                dec.decode(rng.integers(0, 2, 1000).astype(np.int32))
                outcomes["ok"] += 1
            except FormatError:
                outcomes["error"] += 1
        print(outcomes)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "'ok'" in done.stdout
