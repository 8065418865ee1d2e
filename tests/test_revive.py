"""Reviving dead latent channels (laplace_codec/training/revive.py): the edited checkpoint
decodes the same image, its revived channels are no longer zero, and training resumes from it
with the Adam moments of the edited entries reset."""

import jax.numpy as jnp
import numpy as np
import pytest

from laplace_codec import images
from laplace_codec.errors import InputError
from laplace_codec.models import model as model_lib
from laplace_codec.training import checkpoint, loop, optimizer, revive

CHANNELS = [1, 6]


@pytest.fixture(scope="module")
def revived(trained_laplacian_workdir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("revived"))
    step_dir = revive.revive_checkpoint(trained_laplacian_workdir, CHANNELS, out)
    return checkpoint.load(trained_laplacian_workdir), checkpoint.load(step_dir), out


def test_revived_channels_carry_values_that_nothing_else_sees_yet(revived):
    """Revived channels are non-zero, and every other output is blind to them: changing their
    values changes neither z, nor the image, nor any other channel's y_hat and likelihood (so
    a truly dead channel, whose y_hat was its tiny mean, comes back without disturbing the
    model), while the gradient reaches every weight that could start using them."""
    _, after, _ = revived
    model = after.model()
    x = model_lib.from_uint8(jnp.asarray(images.center_crop(
        images.read_image("sample:astronaut"), 128)[None]))
    variables = {"params": after.params}
    y = model.apply(variables, x, method=model.y_from_x)
    assert float(jnp.abs(y[..., CHANNELS]).max()) >= 0.25  # no longer dead
    moved = y.at[..., CHANNELS].add(3.7)
    z, z_moved = (model.apply(variables, v, method=model.z_from_y) for v in (y, moved))
    np.testing.assert_array_equal(np.asarray(z_moved), np.asarray(z))
    out, out_moved = (model.apply(variables, x, v, z, method=model.from_latents)
                      for v in (y, moved))
    others = [c for c in range(y.shape[-1]) if c not in CHANNELS]
    np.testing.assert_array_equal(np.asarray(out_moved["x_hat"]), np.asarray(out["x_hat"]))
    for key in ("y_hat", "y_likelihood"):
        np.testing.assert_array_equal(np.asarray(out_moved[key][..., others]),
                                      np.asarray(out[key][..., others]))
    assert not np.array_equal(np.asarray(out_moved["y_hat"][..., CHANNELS]),
                              np.asarray(out["y_hat"][..., CHANNELS]))
    # Their entropy model ignores its inputs: mean 0, scale 1, wherever they are.
    assert float(jnp.min(out["y_likelihood"][..., CHANNELS])) < 0.5


def test_the_edited_entries_have_reset_moments(revived, trained_laplacian_workdir):
    _, _, out = revived
    trees = {name: loop.restore_training_state(path)[2]
             for name, path in (("before", trained_laplacian_workdir), ("after", out))}
    adam = {n: optimizer.moments(t["opt_state"]) for n, t in trees.items()}
    key = ("g_s", "Up_0", "Conv_0", "kernel")
    mu = {n: np.asarray(revive._get(a[0], key)) for n, a in adam.items()}
    nu = {n: np.asarray(revive._get(a[1], key)) for n, a in adam.items()}
    np.testing.assert_array_equal(mu["after"][:, :, CHANNELS], 0.0)
    others = [c for c in range(mu["after"].shape[2]) if c not in CHANNELS]
    np.testing.assert_array_equal(mu["after"][:, :, others], mu["before"][:, :, others])
    np.testing.assert_array_equal(nu["after"][:, :, others], nu["before"][:, :, others])
    assert np.all(nu["after"][:, :, CHANNELS] == np.median(nu["before"][:, :, others]))
    weights = np.asarray(revive._get(trees["after"]["params"], key))
    np.testing.assert_array_equal(weights[:, :, CHANNELS], 0.0)


def test_bad_channels_and_entropy_models_are_refused(trained_laplacian_workdir, trained_workdir,
                                                    tmp_path):
    with pytest.raises(InputError, match="distinct indices"):
        revive.revive_checkpoint(trained_laplacian_workdir, [999], str(tmp_path / "a"))
    with pytest.raises(InputError, match="Laplacian-guided"):
        revive.revive_checkpoint(trained_workdir, [0], str(tmp_path / "b"))
