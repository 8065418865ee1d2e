"""Actual file sizes against the model's estimate on the Kodak images, for trained test
checkpoints of the hyperprior and of the Laplacian-guided entropy model."""

import numpy as np
import pytest

from laplace_codec.coding import bitstream
from laplace_codec import images
from tests.conftest import kodak_files, requires_kodak


@requires_kodak
@pytest.mark.parametrize("fixture", ["codec", "laplacian_codec"])
def test_actual_bits_within_one_percent_of_estimate_plus_header(fixture, request):
    """Over the set, file bits minus headers are within 1% of the model's -log2 likelihood;
    per image, the coder never costs 1% more than the model (it may cost less: the
    escape codes rare outliers more cheaply than the Gaussian tail prices them).
    """
    codec = request.getfixturevalue(fixture)
    header_bits = 8 * len(bitstream.pack(
        bitstream.Header(codec.name, codec.model_hash, 768, 512, 0, 0), [b"", b""]))
    total_actual = total_estimate = 0.0
    for path in kodak_files():
        x = images.read_image(str(path))
        encoded = codec.encode(x)
        actual = 8 * len(encoded.data) - header_bits
        assert actual <= 1.01 * encoded.estimated_bits, (path.name, actual,
                                                         encoded.estimated_bits)
        total_actual += actual
        total_estimate += encoded.estimated_bits
        np.testing.assert_array_equal(codec.decompress(encoded.data),
                                      codec.reconstruct(encoded.y_hat, *x.shape[:2]))
    assert abs(total_actual - total_estimate) <= 0.01 * total_estimate
