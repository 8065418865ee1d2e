"""The Laplacian-guided entropy model: causality of every variant, position biases,
windows, and exact round trips."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from laplace_codec.coding import codec as codec_lib
from laplace_codec.models.entropy import laplacian as le
from laplace_codec.coding import tables
from laplace_codec.models.entropy import window_attention as wa
from laplace_codec.models.model import CompressionModel

VARIANTS = [
    dict(spatial="none"),
    dict(spatial="local"),
    dict(spatial="local_global", position="none"),
    dict(spatial="local_global", position="relative"),
    dict(spatial="local_global", position="diamond"),
    dict(spatial="local_global", position="laplacian"),
    dict(spatial="local_global", position="laplacian", grouping="even"),
    dict(spatial="serial"),
]
SMALL = dict(width=16, attention_dim=8, heads=2, window=4)


def _ids(v):
    return "-".join(str(x) for x in v.values())


@functools.cache
def _entropy_model(**options):
    model = le.LaplacianEntropyModel(M=32, **SMALL, **options)
    h, w = 6, 11  # not a multiple of the window: attention pads and masks
    hyper = jax.random.normal(jax.random.PRNGKey(0), (1, h, w, 12))
    y = jax.random.normal(jax.random.PRNGKey(1), (1, h, w, 32)) * 3
    params = model.init({"params": jax.random.PRNGKey(2), "noise": jax.random.PRNGKey(3)},
                        y, hyper, True)
    step = jax.jit(lambda key, arg, hyper, y_hat: model.apply(
        params, key, arg, hyper, y_hat, method=model.step_params), static_argnums=0)
    return model, step, hyper, np.asarray(jnp.round(y))


def _masks(model, shape):
    masks = []
    for s in model.coding_steps(shape):
        mask = np.zeros(shape, bool)
        mask[s.index] = True
        masks.append((s, mask))
    return masks


@pytest.mark.parametrize("options", VARIANTS, ids=_ids)
def test_parameters_never_move_when_a_forbidden_input_changes(options):
    model, step, hyper, y_hat = _entropy_model(**options)
    masks = _masks(model, y_hat.shape[1:])
    total = np.sum([m for _, m in masks], axis=0)
    assert np.array_equal(total, np.ones(y_hat.shape[1:]))  # the steps partition y
    rng = np.random.default_rng(0)
    decoded = np.zeros(y_hat.shape[1:], bool)
    for s, mask in masks:
        # The decoder holds zeros where nothing is decoded yet; change all of it.
        known = np.where(decoded, y_hat[0], 0.0)[None]
        mu, sigma = map(np.asarray, step(s.key, s.arg, hyper, known))
        forbidden = np.where(decoded, y_hat[0], rng.normal(0, 50, y_hat.shape[1:]))[None]
        mu2, sigma2 = map(np.asarray, step(s.key, s.arg, hyper, forbidden.astype(np.float32)))
        if s.local:  # only the step's own elements were computed
            np.testing.assert_array_equal(mu2, mu)
            np.testing.assert_array_equal(sigma2, sigma)
        else:
            np.testing.assert_array_equal(mu2[0][mask], mu[0][mask])
            np.testing.assert_array_equal(sigma2[0][mask], sigma[0][mask])
        decoded |= mask


@pytest.mark.parametrize("options", VARIANTS[1:3] + VARIANTS[-1:], ids=_ids)
def test_non_anchor_parameters_do_use_their_anchors(options):
    """The control for the test above: allowed inputs do reach the parameters."""
    model, step, hyper, y_hat = _entropy_model(**options)
    (_, before), (s, mask) = _masks(model, y_hat.shape[1:])[:2]  # chunk 0 anchors decoded
    known = np.where(before, y_hat[0], 0.0)[None]
    changed = np.where(before, y_hat[0] + 5.0, 0.0)[None]
    mu, _ = step(s.key, s.arg, hyper, known)
    mu2, _ = step(s.key, s.arg, hyper, changed.astype(np.float32))
    if not s.local:
        mu, mu2 = np.asarray(mu)[0][mask], np.asarray(mu2)[0][mask]
    assert not np.array_equal(mu, mu2)


def test_serial_step_equals_the_full_map_computation():
    """The per-position serial decoder computes what the whole-map forward computes,
    borders included."""
    model, step, hyper, y_hat = _entropy_model(spatial="serial")
    params = model.init({"params": jax.random.PRNGKey(2), "noise": jax.random.PRNGKey(3)},
                        jnp.asarray(y_hat), hyper, True)  # the same key: the same params
    h, w = y_hat.shape[1:3]
    for j, (start, stop) in enumerate(model.chunks()):
        full_mu, full_sigma = model.apply(params, j, 0, hyper, jnp.asarray(y_hat),
                                          method=model.chunk_params)
        for p in range(h * w):
            mu, sigma = step(j, p, hyper, y_hat)
            np.testing.assert_allclose(mu, full_mu[0, p // w, p % w], rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(sigma, full_sigma[0, p // w, p % w], rtol=1e-4,
                                       atol=1e-5)


def test_laplacian_bias_of_a_2x2_window_is_figure_3():
    a, s = 1.5, 0.8
    distance = np.array([[0, 1, 1, 2],   # (0,0) to (0,0), (0,1), (1,0), (1,1)
                         [1, 0, 2, 1],   # (0,1)
                         [1, 2, 0, 1],   # (1,0)
                         [2, 1, 1, 0]])  # (1,1)
    hand = a ** 2 * np.exp(-distance / (2 * s ** 2))
    np.testing.assert_allclose(np.asarray(wa.laplacian_bias(a, s, 2)), hand, rtol=1e-5)


def test_relative_table_indexes_offsets_as_swin():
    index = wa.relative_index(2)
    assert index[0, 3] == (1 + 1) * 3 + (1 + 1)  # query (0,0), key (1,1): dy = dx = 1
    assert index[3, 0] == 0  # dy = dx = -1
    assert index[1, 2] == (1 + 1) * 3 + (-1 + 1)  # query (0,1), key (1,0): dy 1, dx -1
    bias = wa.PositionBias("relative", 3, 2)
    params = bias.init(jax.random.PRNGKey(0))
    table = np.asarray(params["params"]["table"])
    out = np.asarray(bias.apply(params))
    dy, dx = wa.window_offsets(3)
    for q in range(9):
        for k in range(9):
            assert out[1, q, k] == table[(dy[q, k] + 2) * 5 + dx[q, k] + 2, 1]


def test_diamond_table_has_thirteen_offsets_and_one_far_bucket():
    index = wa.diamond_index(6)
    dy, dx = wa.window_offsets(6)
    near = np.abs(dy) + np.abs(dx) <= 2
    assert len(np.unique(index[near])) == 13 and np.all(index[~near] == 13)
    assert np.all(index[(dy == 0) & (dx == 0)] == 6)  # raster position of (0, 0)
    for offset in {(a, b) for a, b in zip(dy[near], dx[near])}:
        assert len(np.unique(index[(dy == offset[0]) & (dx == offset[1])])) == 1


@pytest.mark.parametrize("shift,rolled", [(0, False), (2, False), (2, True)])
def test_a_query_never_sees_outside_its_window(shift, rolled):
    window, h, w = 4, (8 if rolled else 10), (12 if rolled else 13)
    attn = wa.WindowAttention(dim=8, heads=2, window=window, shift=shift, position="relative")
    x = jax.random.normal(jax.random.PRNGKey(0), (1, h, w, 8))
    valid = jnp.ones((1, h, w), bool)
    params = attn.init(jax.random.PRNGKey(1), x, valid)
    run = jax.jit(lambda x: attn.apply(params, x, valid, rolled=rolled))
    base = np.asarray(run(x))
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    win = ((rows + shift) // window) * 100 + (cols + shift) // window
    for q in [(0, 0), (1, 1), (2, 5), (h - 1, w - 1), (5, 7)]:
        outside = win != win[q]
        noise = np.where(outside[None, :, :, None], 10.0, 0.0)
        np.testing.assert_array_equal(np.asarray(run(x + noise))[0][q], base[0][q])
        inside = (win == win[q]) & ~((rows == q[0]) & (cols == q[1]))
        if inside.any():
            noise = np.where(inside[None, :, :, None], 10.0, 0.0)
            assert not np.array_equal(np.asarray(run(x + noise))[0][q], base[0][q])


@pytest.mark.parametrize("position", ["relative", "laplacian"])
def test_rolled_shifted_windows_give_the_padded_windows_values(position):
    # The training forward's cyclic roll (a quarter of the tokens on an 8 x 8 latent) must
    # compute the attention that coding computes with padding, masks and gradients included.
    window, shift, h, w = 4, 2, 8, 12
    attn = wa.WindowAttention(dim=8, heads=2, window=window, shift=shift, position=position)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, h, w, 8))
    valid = jax.random.bernoulli(jax.random.PRNGKey(3), 0.6, (2, h, w))
    params = attn.init(jax.random.PRNGKey(1), x, valid)
    params = jax.tree_util.tree_map(lambda v: v + 0.3 * jnp.sin(jnp.arange(v.size)).reshape(
        v.shape), params)  # a position bias that is not flat
    target = jax.random.normal(jax.random.PRNGKey(4), x.shape)

    def loss(p, x, rolled):
        return jnp.sum(attn.apply(p, x, valid, rolled=rolled) * target)

    padded, rolled = (attn.apply(params, x, valid, rolled=r) for r in (False, True))
    assert not np.allclose(padded, attn.apply(params, x, valid, rolled=False)[:, ::-1])
    np.testing.assert_allclose(rolled, padded, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(jax.grad(loss, (0, 1))(params, x, False)),
                    jax.tree_util.tree_leaves(jax.grad(loss, (0, 1))(params, x, True))):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_chunk_sizes():
    assert le.chunk_sizes(256, "uneven") == (16, 16, 32, 64, 128)
    assert le.chunk_sizes(320, "uneven") == (16, 16, 32, 64, 192)
    assert le.chunk_sizes(32, "uneven") == (2, 2, 4, 8, 16)
    assert le.chunk_sizes(256, "even") == (52, 51, 51, 51, 51)
    with pytest.raises(ValueError, match="multiple of 16"):
        le.chunk_sizes(40, "uneven")


@functools.cache
def _random_codec(**options):
    model = CompressionModel(N=16, M=32, entropy="laplacian",
                             entropy_options=tuple(sorted({**SMALL, **options}.items())))
    variables = model.init({"params": jax.random.PRNGKey(0), "noise": jax.random.PRNGKey(1)},
                           jnp.zeros((1, 64, 64, 3)), train=True)
    params = variables["params"]
    return codec_lib.Codec(model, params, tables.tables_for(model, params), "random")


@pytest.mark.parametrize("options", VARIANTS, ids=_ids)
def test_exact_round_trip_for_every_variant(options, photo):
    codec = _random_codec(**options)
    x = np.ascontiguousarray(photo[100:170, 50:240])  # latent 8 x 16, two windows wide
    encoded = codec.encode(x)
    np.testing.assert_array_equal(codec.decode(encoded.data).y_hat, encoded.y_hat)
    np.testing.assert_array_equal(codec.decompress(encoded.data),
                                  codec.reconstruct(encoded.y_hat, *x.shape[:2]))


@pytest.mark.parametrize("h, w", [(1, 1), (130, 70), (200, 330)])
def test_exact_round_trip_on_odd_sizes(photo, h, w):
    codec = _random_codec(spatial="local_global", position="laplacian")
    x = np.ascontiguousarray(np.tile(photo, (1, 1, 1))[:h, :w])
    encoded = codec.encode(x)
    np.testing.assert_array_equal(codec.decode(encoded.data).y_hat, encoded.y_hat)
