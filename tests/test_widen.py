"""Widening the transforms (laplace_codec/training/widen.py): the wider model computes what
the narrow one did, the gradient reaches the weights that were set to zero, and a warm start
with ``train.widen`` does the same from a trained checkpoint."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from laplace_codec import images
from laplace_codec.errors import InputError
from laplace_codec.models import model as model_lib
from laplace_codec.training import checkpoint, loop, widen


def _image(size=64):
    return model_lib.from_uint8(jnp.asarray(images.center_crop(
        images.read_image("sample:astronaut"), size)[None]))


def _outputs(model, params, x, quality):
    out = model.apply({"params": params}, x, False, quality)
    return {k: np.asarray(out[k]) for k in ("x_hat", "y_likelihood", "z_likelihood")}


def _assert_same(a, b):
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=2e-5, atol=2e-6, err_msg=key)


def test_a_widened_model_computes_the_narrow_models_outputs_and_learns_its_new_channels():
    """Residual blocks, GDN, sub-pixel convolutions and gain units: x_hat and both
    likelihoods agree, and the loss's gradient reaches the kernel rows of g_s that take the
    new channels into the old ones, zero at the start (so training can use them)."""
    kw = dict(M=16, res_blocks=1, entropy="hyperprior", rate_lmbdas=(0.02, 0.005))
    narrow = model_lib.CompressionModel(N=8, **kw)
    wide = model_lib.CompressionModel(N=12, N_hyper=8, **kw)
    x, q = _image(), jnp.float32(1.5)
    p_narrow = narrow.init(jax.random.PRNGKey(0), x, False, q)["params"]
    p_fresh = wide.init(jax.random.PRNGKey(1), x, False, q)["params"]
    p_wide = widen.widen(p_narrow, p_fresh)
    _assert_same(_outputs(narrow, p_narrow, x, q), _outputs(wide, p_wide, x, q))

    kernel = p_wide["g_s"]["Up_1"]["Conv_0"]["kernel"]  # (3, 3, 12 in, 4 x 12 out)
    np.testing.assert_array_equal(kernel[:, :, 8:, :][..., np.r_[0:8, 12:20, 24:32, 36:44]], 0.0)

    y_hat = jnp.round(wide.apply({"params": p_wide}, x, q, method=wide.y_from_x))

    def loss(g_s):
        x_hat = wide.apply({"params": dict(p_wide, g_s=g_s)}, y_hat, q, method=wide.synthesize)
        return jnp.mean(jnp.square(x_hat - x))

    grad = jax.grad(loss)(p_wide["g_s"])["Up_1"]["Conv_0"]["kernel"]
    assert float(jnp.abs(grad[:, :, 8:, :]).max()) > 0.0


def test_train_widen_starts_from_a_trained_checkpoint_with_its_outputs(trained_laplacian_workdir):
    """``loop.warm_start(..., widen_transforms=True)``, as ``train.widen`` runs it: the
    Laplacian entropy model, z and the hyper transforms copied, g_a and g_s widened."""
    source = checkpoint.load(trained_laplacian_workdir)
    narrow = source.model()
    config = source.config.model.copy_and_resolve_references()
    config.N_hyper, config.N = config.N, config.N + 8
    wide = model_lib.from_config(config)
    x = _image(128)
    fresh = wide.init(jax.random.PRNGKey(3), x, False)["params"]
    params, copied, left = loop.warm_start(fresh, trained_laplacian_workdir,
                                           widen_transforms=True)
    assert not left and len(copied) == len(jax.tree_util.tree_leaves(fresh))
    _assert_same(_outputs(narrow, source.params, x, None), _outputs(wide, params, x, None))


def test_widening_to_fewer_channels_or_another_hyperprior_width_is_refused():
    kw = dict(M=16, res_blocks=0, entropy="hyperprior")
    x = _image()
    p = {n: jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), jax.eval_shape(
            model_lib.CompressionModel(**kw, **size).init, jax.random.PRNGKey(0), x)["params"])
         for n, size in (("8", dict(N=8)), ("12", dict(N=12)), ("12h12", dict(N=12, N_hyper=12)))}
    with pytest.raises(InputError, match="not more than the 12"):
        widen.widen(p["12"], p["8"])
    with pytest.raises(InputError, match="N_hyper to the source's 8"):
        widen.widen(p["8"], p["12h12"])
