"""The network pieces: sub-pixel upsampling, the fast-gradient convolution, latent
shapes, and the two likelihoods."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from laplace_codec.models import layers
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


def test_the_gradient_of_depth_to_space_is_space_to_depth():
    # depth_to_space has its own gradient (strided slices): it must be the transpose of the
    # rearrangement, i.e. its exact inverse, and equal to what autodiff gives for it.
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3, 5, 27)), jnp.float32)
    y = depth_to_space(x, 3)
    np.testing.assert_array_equal(layers.space_to_depth(y, 3), x)
    g = jnp.asarray(np.random.default_rng(1).normal(size=y.shape), jnp.float32)

    def plain(v):  # the same rearrangement, differentiated by JAX
        return v.reshape(2, 3, 5, 3, 3, 3).transpose(0, 1, 3, 2, 4, 5).reshape(2, 9, 15, 3)

    np.testing.assert_array_equal(plain(x), y)
    np.testing.assert_array_equal(jax.vjp(lambda v: depth_to_space(v, 3), x)[1](g)[0],
                                  jax.vjp(plain, x)[1](g)[0])
    with pytest.raises(ValueError, match="divisible by 3"):
        layers.space_to_depth(y[:, :8], 3)


@pytest.mark.parametrize("height,width,kernel,stride,c_in,c_out", [
    (16, 12, 5, 2, 4, 6),  # the transforms' Down layer: input gradient by depth-to-space,
    # kernel gradient by phases
    (8, 8, 3, 2, 4, 6),
    (12, 12, 7, 2, 4, 6),
    (12, 9, 5, 3, 4, 6),  # stride 3: phases of two, two and one taps
    (15, 16, 5, 2, 4, 6),  # odd height: the plain transposed gradient
    (10, 10, 3, 1, 4, 6),
    (9, 11, 3, 1, 32, 3),  # few outputs: the kernel gradient as one matrix product
    (7, 6, 5, 1, 40, 2),
])
def test_conv_equals_flax_conv_with_the_same_gradients(height, width, kernel, stride, c_in,
                                                       c_out):
    # layers.Conv replaces nn.Conv in the transforms: the same parameters (names, shapes and
    # initial values, so checkpoints load), outputs and gradients, computed another way.
    assert (kernel ** 2 * c_out <= layers.NARROW * c_in) == (c_in > 4)  # both paths tested
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, height, width, c_in)),
                    jnp.float32)
    ours, flax_conv = layers.Conv(c_out, (kernel, kernel), (stride, stride)), nn.Conv(
        c_out, (kernel, kernel), (stride, stride))
    params = ours.init(jax.random.PRNGKey(1), x)
    flax_params = flax_conv.init(jax.random.PRNGKey(1), x)
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(flax_params)):
        np.testing.assert_array_equal(a, b)
    params = jax.tree_util.tree_map(lambda v: v + 0.1 * jnp.cos(jnp.arange(v.size).reshape(
        v.shape)), params)  # a nonzero bias, so that its gradient is tested too

    def grads(module):
        return jax.grad(lambda p, x: jnp.sum(jnp.sin(module.apply(p, x))), (0, 1))(params, x)

    np.testing.assert_allclose(ours.apply(params, x), flax_conv.apply(params, x), atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(grads(ours)),
                    jax.tree_util.tree_leaves(grads(flax_conv))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


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
