"""The network pieces: sub-pixel upsampling, latent shapes, and the two likelihoods."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from laplace_codec.models.entropy import gaussian_conditional as gc
from laplace_codec.models.entropy.factorized_prior import FactorizedPrior
from laplace_codec.models.layers import depth_to_space
from laplace_codec.models.model import CompressionModel


def test_depth_to_space_matches_tensorflow_layout():
    import tensorflow as tf

    x = np.arange(2 * 3 * 5 * 12, dtype=np.float32).reshape(2, 3, 5, 12)
    ours = np.asarray(depth_to_space(jnp.asarray(x), 2))
    theirs = tf.nn.depth_to_space(x, 2).numpy()
    np.testing.assert_array_equal(ours, theirs)
    # Hand example: the four channels of one pixel become a 2x2 block in raster order.
    small = depth_to_space(jnp.asarray([[[[0.0, 1.0, 2.0, 3.0]]]]), 2)
    np.testing.assert_array_equal(np.asarray(small)[0, :, :, 0], [[0, 1], [2, 3]])


def test_latent_shapes_are_h16_and_h64():
    model = CompressionModel(N=8, M=12)
    x = jnp.zeros((1, 128, 192, 3))
    variables = model.init({"params": jax.random.PRNGKey(0), "noise": jax.random.PRNGKey(1)},
                           x, train=True)
    y, z = model.apply(variables, x, method=model.analyze)
    assert y.shape == (1, 8, 12, 12)
    assert z.shape == (1, 2, 3, 8)
    out = model.apply(variables, x, train=False)
    assert out["x_hat"].shape == x.shape


def test_gaussian_likelihood_matches_hand_computation():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 5, 1000).astype(np.float32)
    mu = rng.normal(0, 2, 1000).astype(np.float32)
    sigma = rng.uniform(0.11, 20, 1000).astype(np.float32)
    ours = np.asarray(gc.likelihood(y, mu, sigma))
    d = y.astype(np.float64) - mu
    hand = special.ndtr((d + 0.5) / sigma) - special.ndtr((d - 0.5) / sigma)
    np.testing.assert_allclose(ours, np.maximum(hand, gc.LIKELIHOOD_BOUND), rtol=2e-4,
                               atol=1e-7)


def test_factorized_prior_is_a_pmf_over_integers():
    prior = FactorizedPrior(channels=4)
    z = jnp.zeros((1, 1, 1, 4))
    params = prior.init(jax.random.PRNGKey(3), z)
    grid = jnp.arange(-300, 301, dtype=jnp.float32)[:, None] * jnp.ones((1, 4))
    mass = np.asarray(prior.apply(params, grid)).sum(axis=0)
    np.testing.assert_allclose(mass, 1.0, atol=1e-4)
