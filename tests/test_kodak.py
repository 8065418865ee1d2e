"""Actual file sizes against the model's estimate on the Kodak images."""

import numpy as np

from laplace_codec import bitstream, images
from tests.conftest import kodak_files, requires_kodak


@requires_kodak
def test_actual_bits_within_one_percent_of_estimate_plus_header(codec):
    header_bits = 8 * len(bitstream.pack(
        bitstream.Header(codec.name, codec.model_hash, 768, 512, 0, 0), [b"", b""]))
    for path in kodak_files():
        x = images.read_image(str(path))
        encoded = codec.encode(x)
        actual = 8 * len(encoded.data)
        assert abs(actual - header_bits - encoded.estimated_bits) <= \
            0.01 * encoded.estimated_bits, (path.name, actual, encoded.estimated_bits)
        np.testing.assert_array_equal(codec.decompress(encoded.data),
                                      codec.reconstruct(encoded.y_hat, *x.shape[:2]))
