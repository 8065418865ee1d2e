"""The diffusion decoder inside the codec: training, files that always decode to the same
pixels, step and sampler overrides, EMA weights, and warm starts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from laplace_codec.coding import bitstream
from laplace_codec.training import checkpoint, loop as training
from laplace_codec.models import model as model_lib
from tests.conftest import make_test_config


@pytest.fixture(scope="module")
def image(photo):
    return photo[37:37 + 70, 60:60 + 100]  # not a multiple of 64: padding is exercised


@pytest.fixture(scope="module")
def encoded(diffusion_codec, image):
    return diffusion_codec.encode(image, seed=11)


def test_training_logged_the_diffusion_terms(trained_diffusion_workdir):
    import json

    with open(f"{trained_diffusion_workdir}/metrics.jsonl") as f:
        records = [json.loads(line) for line in f]
    last = records[-1]
    assert last["step"] == 40 and last["skipped_steps"] == 0
    for key in ("eps_mse", "lpips", "bpp", "loss"):
        assert np.isfinite(last[key]), key
    # eq. 12: L = lmbda R + eps-MSE + beta LPIPS
    config = make_test_config("test_diffusion")
    np.testing.assert_allclose(
        last["loss"], config.loss.lmbda * last["bpp"] + last["eps_mse"]
        + config.loss.beta * last["lpips"], rtol=1e-5)


def test_header_records_the_sampling_and_two_decodes_agree(diffusion_codec, encoded, image):
    header, _ = bitstream.unpack(encoded.data)
    assert (header.decoder_seed, header.decoder_steps, header.sampler) == (11, 4, "ancestral")
    first = diffusion_codec.decompress(encoded.data)
    second = diffusion_codec.decompress(encoded.data)
    assert first.shape == image.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(
        first, diffusion_codec.reconstruct(encoded.y_hat, *image.shape[:2], seed=11, steps=4,
                                           sampler="ancestral"))


def test_seed_steps_and_sampler_change_the_sample(diffusion_codec, encoded, image):
    base = diffusion_codec.decompress(encoded.data)
    other_seed = diffusion_codec.encode(image, seed=12)
    assert other_seed.data != encoded.data
    np.testing.assert_array_equal(other_seed.y_hat, encoded.y_hat)  # same latent, new noise
    assert not np.array_equal(diffusion_codec.decompress(other_seed.data), base)
    fewer = diffusion_codec.decompress(encoded.data, steps=2)
    ddim = diffusion_codec.decompress(encoded.data, sampler="ddim")
    assert not np.array_equal(fewer, base) and not np.array_equal(ddim, base)
    np.testing.assert_array_equal(ddim, diffusion_codec.decompress(encoded.data,
                                                                   sampler="ddim"))


def test_bad_sampling_options_are_refused(diffusion_codec, codec, encoded):
    with pytest.raises(ValueError, match="steps"):
        diffusion_codec.decompress(encoded.data, steps=0)
    with pytest.raises(ValueError, match="sampler"):
        diffusion_codec.decompress(encoded.data, sampler="euler")
    with pytest.raises(ValueError, match="MSE decoder"):
        codec.set_sampling(steps=10)


def test_codec_uses_the_ema_weights(trained_diffusion_workdir, diffusion_codec):
    import orbax.checkpoint as ocp

    directory, step = checkpoint.resolve(trained_diffusion_workdir)
    with ocp.PyTreeCheckpointer() as ckptr:
        state = ckptr.restore(f"{directory}/{step}/state")
    ema, raw = state["ema_params"], state["params"]
    leaf = lambda tree: np.asarray(tree["phi"]["unet"]["Conv_0"]["kernel"])  # noqa: E731
    assert not np.array_equal(leaf(ema), leaf(raw))
    np.testing.assert_array_equal(leaf(diffusion_codec.params["params"]), leaf(ema))


def test_warm_start_copies_matching_weights(trained_workdir):
    """train.init_from: a trained MSE codec of the same sizes gives a diffusion codec its
    encoder, entropy model and g_s (the conditioning pyramid); only phi starts fresh."""
    config = make_test_config("test_diffusion")
    model = model_lib.from_config(config.model)
    state = training.init_state(model, config, jax.random.PRNGKey(3))
    params, copied, fresh = training.warm_start(state["params"], trained_workdir)
    source = checkpoint.load(trained_workdir).params
    np.testing.assert_array_equal(params["g_a"]["Down_0"]["Conv_0"]["kernel"],
                                  source["g_a"]["Down_0"]["Conv_0"]["kernel"])
    assert any(n.startswith("['z_prior']") for n in copied)
    assert any(n.startswith("['g_s']") for n in copied)
    assert fresh and all(n.startswith("['phi']") for n in fresh)
    assert not any(n.startswith("['phi']") for n in copied)
    np.testing.assert_array_equal(params["phi"]["unet"]["Conv_0"]["kernel"],
                                  state["params"]["phi"]["unet"]["Conv_0"]["kernel"])


def test_laplacian_entropy_model_with_diffusion_decoder():
    """Both entropy models work with the diffusion decoder: the Laplacian-guided model's
    training forward gives its likelihoods and the decoder's noise prediction, and the
    prediction depends on y_hat (the conditioning reaches the U-Net)."""
    config = make_test_config("test_laplacian")
    config.model.decoder = "diffusion"
    config.model.diffusion = make_test_config("test_diffusion").model.diffusion
    model = model_lib.from_config(config.model)
    x = jnp.asarray(np.random.RandomState(0).uniform(-1, 1, (1, 64, 64, 3)), jnp.float32)
    rngs = {"params": jax.random.PRNGKey(0), "noise": jax.random.PRNGKey(1)}
    params = model.init(rngs, x, train=True)["params"]
    out = model.apply({"params": params}, x, train=True, rngs={"noise": jax.random.PRNGKey(2)})
    assert out["eps_hat"].shape == x.shape and out["x0_hat"].shape == x.shape
    assert out["y_likelihood"].shape == (1, 4, 4, config.model.M)
    cond = model.apply({"params": params}, out["y_hat"], method=model.condition)
    assert [c.shape[1] for c in cond] == [64, 32, 16, 8] and cond[0].shape[-1] == 3
    moved = model.apply({"params": params}, out["y_hat"] + 1.0, method=model.condition)
    assert not np.allclose(cond[0], moved[0])


def test_large_images_sample_in_blended_windows(diffusion_codec, encoded, image, monkeypatch):
    def psnr(a, b):
        return 10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2))

    h, w = image.shape[:2]
    for sampler in ("ancestral", "ddim"):
        whole = diffusion_codec.reconstruct(encoded.y_hat, h, w, seed=11, steps=4,
                                            sampler=sampler)
        with monkeypatch.context() as m:
            m.setattr(diffusion_codec, "diffusion_tile_pixels", 0)  # tile everything
            # one window (the latent is smaller than a tile): the untiled sampler, its
            # initial image and every step's noise included, up to float rounding (which
            # DDIM's division by alpha_t amplifies to a few levels on a few pixels)
            one = diffusion_codec.reconstruct(encoded.y_hat, h, w, seed=11, steps=4,
                                              sampler=sampler)
            assert psnr(one, whole) > 45 and np.abs(one.astype(int) - whole).max() <= 4
            m.setattr(diffusion_codec, "diffusion_tile_latents", 2)
            m.setattr(diffusion_codec, "diffusion_halo", 1)
            tiled = diffusion_codec.reconstruct(encoded.y_hat, h, w, seed=11, steps=4,
                                                sampler=sampler)
        assert tiled.shape == whole.shape and tiled.dtype == np.uint8
        assert abs(psnr(tiled, image) - psnr(whole, image)) < 1.0, sampler


def test_the_decoders_clip_x0_reaches_the_sampler_and_its_steps(diffusion_codec, encoded):
    """``model.diffusion.clip_x0`` decides whether sampling (whole or one step, as tiled
    decoding takes it) clips x0_hat; the image comes out in [-1, 1] either way."""
    from laplace_codec.models.decoders import blur_diffusion

    model, variables = diffusion_codec.model, diffusion_codec.params
    y_hat, rng = jnp.asarray(encoded.y_hat), jax.random.PRNGKey(3)
    cond = model.apply(variables, y_hat, method=model.condition)
    eps_fn = lambda z, t: model.apply(variables, z, t, cond, method=model.denoise)  # noqa: E731
    schedule = model_lib.diffusion_option(model, "schedule")
    z = jax.random.normal(jax.random.PRNGKey(4), (1, *cond[0].shape[1:]))
    for clip in (True, False):
        options = dict(model.decoder_options, clip_x0=clip)
        clone = model.clone(decoder_options=tuple(sorted(options.items())))
        assert model_lib.diffusion_option(clone, "clip_x0") is clip
        sample = model_lib.sample_image(clone, variables, y_hat, rng, 3, "ddim")
        want = blur_diffusion.sample(eps_fn, z.shape, rng, 3, schedule, "ddim", clip)
        np.testing.assert_allclose(sample, jnp.clip(want, -1, 1), atol=1e-6)
        step = model_lib.sample_step(clone, variables, y_hat, z, 3, 3, "ddim")
        np.testing.assert_allclose(
            step, blur_diffusion.denoise_step(eps_fn, z, 3, 3, schedule, "ddim", None, clip)[0],
            atol=1e-6)
    unclipped = blur_diffusion.sample(eps_fn, z.shape, rng, 3, schedule, "ddim", False)
    assert float(jnp.max(jnp.abs(unclipped))) > 1  # so the two settings differ here


def test_the_decoders_dc_from_mse_reaches_the_sampler_and_its_steps(diffusion_codec, encoded):
    """``model.diffusion.dc_from_mse`` hands the sampler (whole, and one step as tiled decoding
    takes it) the DC of the MSE image of the condition: the unclipped sample's channel means
    are the MSE image's, where without it they are the U-Net's own."""
    from laplace_codec.models.decoders import blur_diffusion

    model, variables = diffusion_codec.model, diffusion_codec.params
    y_hat, rng = jnp.asarray(encoded.y_hat), jax.random.PRNGKey(3)
    cond = model.apply(variables, y_hat, method=model.condition)
    eps_fn = lambda z, t: model.apply(variables, z, t, cond, method=model.denoise)  # noqa: E731
    schedule = model_lib.diffusion_option(model, "schedule")
    dc = blur_diffusion.dc_coefficient(cond[0])
    z = jax.random.normal(jax.random.PRNGKey(4), (1, *cond[0].shape[1:]))
    options = dict(model.decoder_options, dc_from_mse=True, clip_x0=False)
    anchored = model.clone(decoder_options=tuple(sorted(options.items())))
    assert model_lib.diffusion_option(model, "dc_from_mse") is False  # off unless configured
    want = blur_diffusion.sample(eps_fn, z.shape, rng, 3, schedule, "ddim", False, x0_dc=dc)
    np.testing.assert_allclose(jnp.mean(want, axis=(1, 2)), jnp.mean(cond[0], axis=(1, 2)),
                               atol=1e-5)
    own = blur_diffusion.sample(eps_fn, z.shape, rng, 3, schedule, "ddim", False)
    assert float(jnp.max(jnp.abs(jnp.mean(own - cond[0], axis=(1, 2))))) > 1e-3
    np.testing.assert_allclose(model_lib.sample_image(anchored, variables, y_hat, rng, 3, "ddim"),
                               jnp.clip(want, -1, 1), atol=1e-6)
    np.testing.assert_allclose(
        model_lib.sample_step(anchored, variables, y_hat, z, 3, 3, "ddim"),
        blur_diffusion.denoise_step(eps_fn, z, 3, 3, schedule, "ddim", None, False,
                                    x0_dc=dc)[0], atol=1e-6)


def test_the_decoders_temperature_reaches_whole_and_tiled_sampling(diffusion_codec, encoded,
                                                                   image, monkeypatch):
    """``model.diffusion.temperature`` scales the draws of the whole-image sampler and of the
    tiled one alike: one window reproduces the whole image at that temperature, not at 1."""
    from laplace_codec.coding.codec import Codec

    def psnr(a, b):
        return 10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2))

    model = diffusion_codec.model
    options = dict(model.decoder_options, temperature=0.0)  # the mean path: no noise at all
    cool = Codec(model.clone(decoder_options=tuple(sorted(options.items()))),
                 diffusion_codec.params["params"], diffusion_codec.tables, "cool")
    h, w = image.shape[:2]
    for sampler in ("ancestral", "ddim"):
        def decode(codec):
            return codec.reconstruct(encoded.y_hat, h, w, seed=11, steps=4, sampler=sampler)

        hot, whole = decode(diffusion_codec), decode(cool)
        assert psnr(whole, hot) < 40, sampler  # the temperature changed the sample
        with monkeypatch.context() as m:
            m.setattr(cool, "diffusion_tile_pixels", 0)  # one window: the tiled sampler
            one = decode(cool)
        assert psnr(one, whole) > 45 and psnr(one, hot) < 40, sampler
