"""Variable rate: gain units (Cui et al. 2021), the quality in the file, and the search for a
target bit rate. The model is configs/test_variable.py, trained for two steps only: what is
tested here (exact round trips at any quality, the header, the rate growing with the
quality, the search) holds for any weights."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import make_test_config, shared_folder
from conftest import run_cli as cli
from laplace_codec import api, images
from laplace_codec.coding import bitstream
from laplace_codec.errors import FormatError, InputError
from laplace_codec.models import gain
from laplace_codec.models import model as model_lib
from laplace_codec.training import loop as training
from laplace_codec.training import optimizer, rate_levels

LMBDAS = (0.04, 0.02, 0.01, 0.005)


@pytest.fixture(scope="session")
def variable_workdir(tmp_path_factory):
    config = make_test_config("test_variable")
    config.train.num_steps = 2
    config.train.checkpoint_every = 2
    return shared_folder("variable", tmp_path_factory,
                         lambda path: training.train_and_evaluate(config, str(path)))


@pytest.fixture(scope="session")
def variable_codec(variable_workdir):
    return api.load(variable_workdir)


@pytest.fixture(scope="module")
def photo():
    return images.read_image("sample:astronaut")[:192, :256]


def test_quality_and_lambda_interpolate_on_a_log_scale():
    for level, lmbda in enumerate(LMBDAS, start=1):
        assert float(gain.lmbda_for_quality(level, LMBDAS)) == pytest.approx(lmbda, rel=1e-6)
        assert gain.quality_for_lmbda(lmbda, LMBDAS) == pytest.approx(level)
    # halfway between levels 2 and 3: the geometric mean of their lambdas
    assert float(gain.lmbda_for_quality(2.5, LMBDAS)) == pytest.approx(math.sqrt(0.02 * 0.01),
                                                                       rel=1e-6)
    assert gain.quality_for_lmbda(0.0075, LMBDAS) == pytest.approx(
        3 + math.log(0.01 / 0.0075) / math.log(2))  # between 0.01 (3) and 0.005 (4)
    assert gain.default_quality(LMBDAS) == 3.0  # lambda 0.01


@pytest.mark.parametrize("lmbdas", [(0.01,), (0.01, 0.02), (0.02, 0.02), (0.02, -0.01)])
def test_rate_levels_must_fall_strictly(lmbdas):
    with pytest.raises(ValueError, match="largest"):
        gain.check_lmbdas(lmbdas)


def test_gain_unit_interpolates_each_channel_geometrically():
    unit = gain.GainUnit(LMBDAS, 3)
    params = unit.init(jax.random.PRNGKey(0), 1.0)
    table = jax.random.normal(jax.random.PRNGKey(1), (4, 3))
    params = {"params": {"log_gain": table, "log_inverse": -table}}
    g, inv = unit.apply(params, jnp.array([1.0, 2.25, 4.0]))
    expect = np.exp(np.stack([table[0], 0.75 * table[1] + 0.25 * table[2], table[3]]))
    np.testing.assert_allclose(g[:, 0, 0, :], expect, rtol=1e-6)
    np.testing.assert_allclose(inv[:, 0, 0, :] * g[:, 0, 0, :], 1.0, rtol=1e-6)


def test_gains_start_at_the_square_root_of_the_lambda_ratio():
    unit = gain.GainUnit(LMBDAS, 2)
    g = unit.apply(unit.init(jax.random.PRNGKey(0), 1.0), jnp.arange(1.0, 5.0),
                   method=unit.gain)
    ref = math.exp(np.mean(np.log(LMBDAS)))
    np.testing.assert_allclose(g[:, 0, 0, 0], [math.sqrt(ref / v) for v in LMBDAS], rtol=1e-6)


def test_training_draws_a_quality_per_image_and_weights_its_rate(variable_workdir):
    """The loss is mean MSE + mean(lambda(q_i) * bpp_i), q_i drawn uniformly per image."""
    config = make_test_config("test_variable")
    model = model_lib.from_config(config.model)
    params = api.load(variable_workdir).params["params"]
    rng = jax.random.PRNGKey(3)
    batch = np.stack([images.center_crop(images.read_image(f"sample:{n}"), 128)
                      for n in ("astronaut", "coffee", "chelsea", "rocket")])
    loss, metrics = training.rate_distortion(model, params, jnp.asarray(batch), rng,
                                             config.loss)
    q = jax.random.uniform(jax.random.fold_in(rng, 7), (4,), minval=1.0, maxval=4.0)
    assert len(set(np.asarray(q).round(4))) == 4  # one quality per image
    out = model.apply({"params": params}, model_lib.from_uint8(jnp.asarray(batch)), train=True,
                      quality=q, rngs={"noise": rng})
    bits = -(jnp.sum(jnp.log2(out["y_likelihood"]), axis=(1, 2, 3))
             + jnp.sum(jnp.log2(out["z_likelihood"]), axis=(1, 2, 3)))
    mse = jnp.mean(jnp.square(out["x_hat"] - model_lib.from_uint8(jnp.asarray(batch))))
    hand = mse + jnp.mean(gain.lmbda_for_quality(q, LMBDAS) * bits / (128 * 128))
    assert float(loss) == pytest.approx(float(hand), rel=1e-5)
    # loss.quality_weight = 1: each image's D + lambda R times lambda_ref / lambda, the
    # units of bits (R + D / lambda, scaled), which weights high rates most.
    weighted = config.loss.copy_and_resolve_references()
    weighted.quality_weight = 1.0
    loss_w, metrics_w = training.rate_distortion(model, params, jnp.asarray(batch), rng,
                                                 weighted)
    lmbda = gain.lmbda_for_quality(q, LMBDAS)
    mse_each = jnp.mean(jnp.square(out["x_hat"] - model_lib.from_uint8(jnp.asarray(batch))),
                        axis=(1, 2, 3))
    ref = math.exp(np.mean(np.log(LMBDAS)))
    hand_w = jnp.mean(ref / lmbda * (mse_each + lmbda * bits / (128 * 128)))
    assert float(loss_w) == pytest.approx(float(hand_w), rel=1e-5)
    assert abs(float(loss_w) - float(loss)) > 1e-3 * float(loss)  # the weights matter
    assert float(metrics_w["mse"]) == pytest.approx(float(mse), rel=1e-5)  # reported plain
    # The gains train: two steps moved them from where they start.
    start = np.log([math.sqrt(math.exp(np.mean(np.log(LMBDAS))) / v) for v in LMBDAS])
    for unit in ("y_gain", "z_gain"):
        moved = np.abs(np.asarray(params[unit]["log_gain"]) - start[:, None])
        assert moved.max() > 1e-5, unit


@pytest.mark.parametrize("quality", [1.0, 2.3, 4.0])
def test_round_trip_is_exact_at_any_quality(variable_codec, photo, quality):
    encoded = variable_codec.encode(photo, quality=quality)
    assert encoded.quality == pytest.approx(quality)
    header, _ = bitstream.unpack(encoded.data)
    assert header.version == 2 and header.quality == encoded.quality
    decoded = variable_codec.decode(encoded.data)
    np.testing.assert_array_equal(decoded.y_hat, encoded.y_hat)
    np.testing.assert_array_equal(
        decoded.image, variable_codec.reconstruct(encoded.y_hat, *photo.shape[:2],
                                                  quality=quality))


def test_rate_grows_with_quality_and_lambda_selects_it(variable_codec, photo):
    sizes = [len(variable_codec.compress(photo, quality=q)) for q in (1.0, 2.0, 3.0, 4.0)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert variable_codec.compress(photo, lmbda=0.02) == variable_codec.compress(photo,
                                                                                 quality=2.0)
    assert variable_codec.quality_range == (1.0, 4.0)
    assert variable_codec.compress(photo) == variable_codec.compress(photo, quality=3.0)


def test_bad_qualities_are_refused(variable_codec, codec, photo):
    with pytest.raises(ValueError, match=r"outside this model's range \[1, 4\]"):
        variable_codec.compress(photo, quality=4.5)
    with pytest.raises(ValueError, match="outside this model's range"):
        variable_codec.compress(photo, lmbda=0.1)
    with pytest.raises(ValueError, match="a quality or a lambda, not both"):
        variable_codec.compress(photo, quality=2, lmbda=0.02)
    with pytest.raises(ValueError, match="fixed rate"):
        codec.compress(photo, quality=2.0)
    assert codec.quality_range is None


def test_a_header_quality_outside_the_range_is_refused(variable_codec, photo):
    encoded = variable_codec.encode(photo, quality=2.0)
    header, streams = bitstream.unpack(encoded.data)
    forged = bitstream.pack(dataclasses.replace(header, quality=9.0), streams)
    with pytest.raises(FormatError, match="outside this model's range"):
        variable_codec.decode(forged)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.8])
def test_target_bpp_lands_within_three_percent_under(variable_codec, photo, fraction):
    low = 8 * len(variable_codec.compress(photo, quality=1.0)) / photo[..., 0].size
    high = 8 * len(variable_codec.compress(photo, quality=4.0)) / photo[..., 0].size
    target = low + fraction * (high - low)
    encoded, quality, tried = api.fit_to_bpp(variable_codec, photo, target)
    bpp = 8 * len(encoded.data) / photo[..., 0].size
    assert target * (1 - api.TARGET_TOLERANCE) <= bpp <= target, tried
    assert encoded.quality == quality and (quality, bpp) in tried
    with pytest.raises(InputError, match="smallest file"):
        api.fit_to_bpp(variable_codec, photo, low / 2)


def test_cli_codes_at_a_quality_and_info_prints_it(variable_workdir, tmp_path):
    src = tmp_path / "in.png"
    images.write_image(str(src), images.read_image("sample:coffee")[:128, :192])
    out = tmp_path / "out.lgc"
    done = cli("compress", "--ckpt", variable_workdir, "--lmbda", "0.02", str(src), str(out))
    assert done.returncode == 0, done.stderr
    assert "quality 2 (lambda 0.02)" in done.stdout
    info = cli("info", str(out))
    assert "format version: 2" in info.stdout and "quality: 2" in info.stdout
    done = cli("compress", "-f", "--ckpt", variable_workdir, "--quality", "7", str(src),
               str(out))
    assert done.returncode == 2 and "outside this model's range [1, 4]" in done.stderr
    done = cli("compress", "-f", "--ckpt", variable_workdir, "--quality", "2", "--lmbda",
               "0.02", str(src), str(out))
    assert done.returncode == 2 and "one of --quality, --lmbda and --target-bpp" in done.stderr


def test_export_records_the_curve_and_the_cli_lists_and_searches_it(variable_workdir, tmp_path,
                                                                    monkeypatch, capsys):
    from laplace_codec import cli, zoo

    data = tmp_path / "eval"
    data.mkdir()
    for name in ("coffee", "chelsea"):
        x = images.read_image(f"sample:{name}")[:64, :128]
        images.write_image(str(data / f"{name}.png"), x)
    out = str(tmp_path / "models")
    entry = api.export(variable_workdir, "vr", out, eval_glob=str(data), progress=False)
    meta = entry.meta
    assert meta["quality_range"] == [1.0, 4.0] and meta["default_quality"] == 3.0
    assert meta["training"]["rate_lmbdas"] == list(LMBDAS)
    assert meta["training"]["lmbda"] == pytest.approx(0.01)
    curve = meta["eval_curve"]
    assert [p["quality"] for p in curve] == [1.0, 2.0, 3.0, 4.0]
    assert [p["lmbda"] for p in curve] == pytest.approx(list(LMBDAS))
    assert meta["eval"]["quality"] == 3.0 and meta["eval"]["bpp"] == curve[2]["bpp"]
    assert "bd_rate_vs_vtm" in meta
    monkeypatch.setenv(zoo.DIRS_ENV, out)
    monkeypatch.setenv(zoo.DEFAULT_ENV, "vr")
    assert cli.main(["models"]) == 0
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("vr (default)"))
    assert "0.005-0.04" in row and "1-4 (3)" in row
    # --target-bpp with a variable-rate default model searches its quality
    src, lgc = data / "coffee.png", tmp_path / "coffee.lgc"
    target = (curve[1]["bpp"] + curve[2]["bpp"]) / 2
    assert cli.main(["compress", "--target-bpp", str(target), str(src), str(lgc)]) == 0
    captured = capsys.readouterr()
    assert "--target-bpp tried: quality 4 ->" in captured.err
    assert 8 * lgc.stat().st_size / (64 * 128) <= target
    assert "highest quality" not in captured.err
    # a target above the highest quality's file: that file, and the message says why
    assert cli.main(["compress", "-f", "--target-bpp", "50", str(src), str(lgc)]) == 0
    captured = capsys.readouterr()
    assert "the model's highest quality (4) fits in 50.0 bpp" in captured.err


def test_new_rate_levels_continue_the_log_gains_linearly_in_log_lambda():
    old = LMBDAS
    new = (0.08,) + LMBDAS[:2] + (math.sqrt(0.02 * 0.01),) + LMBDAS[2:] + (0.0025,)
    rows = rate_levels.level_map(old, new)
    assert rows[1:3] == [(0, 0, 0.0), (1, 1, 0.0)] and rows[4:6] == [(2, 2, 0.0), (3, 3, 0.0)]
    # 0.08 is one octave above level 1: the line through levels 1 and 2, one step back
    assert rows[0][:2] == (0, 1) and rows[0][2] == pytest.approx(-1.0)
    assert rows[3][:2] == (1, 2) and rows[3][2] == pytest.approx(0.5)   # the geometric middle
    assert rows[6][:2] == (2, 3) and rows[6][2] == pytest.approx(2.0)
    with pytest.raises(InputError, match="missing"):
        rate_levels.level_map(old, (0.04, 0.02, 0.005))


def test_extended_checkpoint_is_the_same_model_at_its_old_levels(variable_workdir, photo,
                                                                 tmp_path, trained_workdir):
    new = LMBDAS + (0.0025,)
    step_dir = rate_levels.extend_checkpoint(variable_workdir, new, str(tmp_path / "wide"))
    config, model, state = training.restore_training_state(step_dir)  # shapes fit the config
    assert tuple(config.model.rate_lmbdas) == new
    _, old_model, old_state = training.restore_training_state(variable_workdir)
    x = model_lib.from_uint8(jnp.asarray(photo[None, :64, :64]))
    for q in (1.0, 2.5, 4.0):
        a = old_model.apply({"params": old_state["params"]}, x, quality=q)["x_hat"]
        b = model.apply({"params": state["params"]}, x, quality=q)["x_hat"]
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    old_g = np.asarray(old_state["params"]["y_gain"]["log_gain"])
    new_g = np.asarray(state["params"]["y_gain"]["log_gain"])
    np.testing.assert_allclose(new_g[4], 2 * old_g[3] - old_g[2], rtol=1e-6, atol=1e-6)
    mu, nu = optimizer.moments(state["opt_state"])
    old_mu, old_nu = optimizer.moments(old_state["opt_state"])
    for moment, old_moment in ((mu, old_mu), (nu, old_nu)):
        table = np.asarray(moment["z_gain"]["log_inverse"])
        old_table = np.asarray(old_moment["z_gain"]["log_inverse"])
        np.testing.assert_array_equal(table[:4], old_table)
        np.testing.assert_array_equal(table[4], old_table[3])  # the nearest level's
    np.testing.assert_array_equal(np.asarray(optimizer.moments(state["opt_state"])[0]["g_s"]
                                             ["Up_0"]["Conv_0"]["kernel"]),
                                  np.asarray(old_mu["g_s"]["Up_0"]["Conv_0"]["kernel"]))
    with pytest.raises(InputError, match="already holds step"):
        rate_levels.extend_checkpoint(variable_workdir, new, str(tmp_path / "wide"))
    with pytest.raises(InputError, match="fixed-rate"):
        rate_levels.extend_checkpoint(trained_workdir, new, str(tmp_path / "fixed"))
