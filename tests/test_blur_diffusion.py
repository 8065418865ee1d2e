"""The blurring-diffusion process against hand computations (paper sections 3.1-3.3)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from laplace_codec.models.decoders import blur_diffusion as bd


def _photo(size=32):
    from laplace_codec import images

    x = images.read_image("sample:astronaut")[100:100 + size, 180:180 + size]
    return jnp.asarray(x[None], jnp.float32) / 127.5 - 1.0


def test_dct_is_orthonormal():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 16, 24, 3))
    f = bd.dct2(x)
    np.testing.assert_allclose(bd.idct2(f), x, atol=1e-5)
    np.testing.assert_allclose(jnp.sum(f ** 2), jnp.sum(x ** 2), rtol=1e-5)  # Parseval
    # The DC coefficient of an orthonormal DCT is sum / sqrt(H W).
    np.testing.assert_allclose(f[:, 0, 0], x.sum(axis=(1, 2)) / np.sqrt(16 * 24), rtol=1e-5)


def test_blur_schedule_values():
    schedule = bd.Schedule(sigma_b_max=5.0, d_min=0.001)
    lam = bd.squared_frequencies(4, 8)
    assert lam[0, 0, 0] == 0.0
    np.testing.assert_allclose(lam[1, 2, 0], (np.pi / 4) ** 2 + (np.pi * 2 / 8) ** 2, rtol=1e-6)
    t = jnp.asarray([0.0, 0.3, 1.0])
    d = schedule.blur(t, lam)
    np.testing.assert_array_equal(d[0], 1.0)  # no blur at t = 0
    tau = (5.0 * np.sin(np.pi * 0.3 / 2) ** 2) ** 2 / 2
    expected = 0.999 * np.exp(-np.asarray(lam) * tau) + 0.001
    np.testing.assert_allclose(d[1], expected, rtol=1e-5, atol=1e-6)
    assert float(d[2].min()) >= 0.001 and float(d[2, 0, 0, 0]) == 1.0  # DC is never blurred


def test_sigma_b_max_zero_is_standard_ddpm():
    """sigma_B_max = 0: d_t = 1 exactly, and the posterior coefficients are DDPM's (Ho et al.
    2020, eq. 7) for the cosine schedule alpha_bar_t = cos(pi t / 2)^2."""
    schedule = bd.Schedule(sigma_b_max=0.0)
    lam = bd.squared_frequencies(8, 8)
    t = jnp.linspace(0.0, 1.0, 11)
    np.testing.assert_array_equal(schedule.blur(t, lam), 1.0)
    steps = 10
    f_t = jax.random.normal(jax.random.PRNGKey(1), (1, 8, 8, 3))
    f_x = jax.random.normal(jax.random.PRNGKey(2), (1, 8, 8, 3))
    for k in range(steps, 0, -1):
        tk, sk = k / steps, (k - 1) / steps
        abar_t = max(np.cos(np.pi * tk / 2), bd.ALPHA_MIN) ** 2
        abar_s = np.cos(np.pi * sk / 2) ** 2
        beta = 1 - abar_t / abar_s
        c_x0 = np.sqrt(abar_s) * beta / (1 - abar_t)
        c_xt = np.sqrt(1 - beta) * (1 - abar_s) / (1 - abar_t)
        var = beta * (1 - abar_s) / (1 - abar_t)
        mean, v = bd.posterior(f_t, f_x, tk, sk, schedule)
        np.testing.assert_allclose(mean, c_x0 * f_x + c_xt * f_t, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(v, np.full(v.shape, var), rtol=1e-4, atol=1e-9)


def test_eps_loss_weight_is_the_truncated_inverse_snr_of_each_frequency():
    # No blur, t = 0.5: SNR 1 everywhere, so weight 1; t = 0.8: 1 / SNR = tan^2(0.4 pi).
    w = bd.eps_loss_weight(jnp.array([0.5, 0.8, 0.1]), 4, 6, bd.Schedule(0.0), 100.0)
    assert w.shape == (3, 4, 6, 1)
    np.testing.assert_allclose(w[0], 1.0, rtol=1e-5)
    np.testing.assert_allclose(w[1], np.tan(0.4 * np.pi) ** 2, rtol=1e-4)
    np.testing.assert_array_equal(w[2], 1.0)  # high SNR: the plain eps-MSE
    # Blur, by hand at t = 0.3 for frequency (i, j) = (3, 1) of 8x8, and the cap.
    t, sb, cap = 0.3, 25.0, 50.0
    lam = (np.pi * 3 / 8) ** 2 + (np.pi * 1 / 8) ** 2
    tau = (sb * np.sin(np.pi * t / 2) ** 2) ** 2 / 2
    d = (1 - 0.001) * np.exp(-lam * tau) + 0.001
    inverse_snr = np.sin(np.pi * t / 2) ** 2 / (np.cos(np.pi * t / 2) * d) ** 2
    w = bd.eps_loss_weight(jnp.array([t]), 8, 8, bd.Schedule(sb), cap)
    np.testing.assert_allclose(w[0, 3, 1, 0], min(max(inverse_snr, 1.0), cap), rtol=1e-4)
    assert float(w[0, 0, 0, 0]) < cap and float(w[0, 7, 7, 0]) == cap
    np.testing.assert_array_equal(bd.eps_loss_weight(jnp.array([0.9]), 8, 8, bd.Schedule(sb),
                                                     0.0), 1.0)
    with pytest.raises(ValueError, match="eps_weight_cap"):
        bd.eps_loss_weight(jnp.array([0.3]), 8, 8, bd.Schedule(sb), -1.0)


def test_the_weighted_eps_loss_is_the_eps_mse_where_the_weight_is_one():
    import ml_collections

    from laplace_codec.models.decoders import kinds

    kind = kinds.DiffusionKind((("sigma_b_max", 0.0),))  # no blur: SNR by t alone
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-1, 1, (2, 8, 8, 3)), jnp.float32)
    eps, eps_hat = (jnp.asarray(rng.normal(size=x.shape), jnp.float32) for _ in range(2))

    def loss(t, cap):
        out = dict(t=jnp.array(t), eps=eps, eps_hat=eps_hat, x0_hat=x)
        config = ml_collections.ConfigDict(dict(beta=0.0, eps_weight_cap=cap))
        return kind.loss(out, x, jnp.zeros(()), config, jnp.ones(2))

    plain, _, extra = loss([0.05, 0.1], 0.0)
    np.testing.assert_allclose(plain, jnp.mean(jnp.square(eps - eps_hat)), rtol=1e-6)
    weighted, _, _ = loss([0.05, 0.1], 100.0)  # SNR above 1: every weight is 1
    np.testing.assert_allclose(weighted, plain, rtol=1e-5)
    late, _, extra_late = loss([0.8, 0.9], 100.0)  # SNR 0.1 and 0.025: weights 10 and 40
    assert float(late) > 5 * float(loss([0.8, 0.9], 0.0)[0])
    assert float(extra_late["eps_mse"]) == float(extra["eps_mse"])  # reported unweighted


def test_the_unet_target_loss_is_the_unet_error_and_excludes_the_capped_weight():
    import ml_collections

    from laplace_codec.models.decoders import kinds

    kind = kinds.DiffusionKind((("prior_std", 0.1),))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-1, 1, (2, 8, 8, 3)), jnp.float32)
    eps, eps_hat, u, target = (jnp.asarray(rng.normal(size=x.shape), jnp.float32)
                               for _ in range(4))
    out = dict(t=jnp.array([0.3, 0.6]), eps=eps, eps_hat=eps_hat, x0_hat=x, unet=u,
               unet_target=target)

    def loss(**options):
        config = ml_collections.ConfigDict(dict(beta=0.0, **options))
        return kind.loss(out, x, jnp.zeros(()), config, jnp.ones(2))

    value, _, extra = loss(unet_target=True)
    np.testing.assert_allclose(value, jnp.mean(jnp.square(u - target)), rtol=1e-6)
    np.testing.assert_allclose(extra["eps_mse"], jnp.mean(jnp.square(eps - eps_hat)), rtol=1e-6)
    with pytest.raises(ValueError, match="one"):
        loss(unet_target=True, eps_weight_cap=50.0)
    bare = dict(out)
    del bare["unet_target"]
    with pytest.raises(ValueError, match="prior_std"):
        kind.loss(bare, x, jnp.zeros(()), ml_collections.ConfigDict(dict(unet_target=True)),
                  jnp.ones(2))


@pytest.mark.parametrize("sigma_b_max", [0.0, 5.0, 25.0])
def test_posterior_is_gaussian_conditioning(sigma_b_max):
    """q(f_s | f_t, f_x) equals conditioning the joint Gaussian of (f_s, f_t) given f_x, per
    frequency: f_s = a_s f_x + sigma_s e1, f_t = a_t f_x + sigma_t e with
    Cov(f_s, f_t) = a_ts sigma_s^2 (the forward process is Markov)."""
    schedule = bd.Schedule(sigma_b_max)
    shape = (3, 8, 12, 3)
    f_t = jax.random.normal(jax.random.PRNGKey(3), shape)
    f_x = jax.random.normal(jax.random.PRNGKey(4), shape)
    t = jnp.asarray([0.9, 0.5, 0.2])
    s = jnp.asarray([0.7, 0.45, 0.0])
    mean, var = bd.posterior(f_t, f_x, t, s, schedule)
    lam = np.asarray(bd.squared_frequencies(8, 12), np.float64)
    for b in range(3):
        def coeff(time):
            a = np.cos(np.pi * time / 2)
            tau = (sigma_b_max * np.sin(np.pi * time / 2) ** 2) ** 2 / 2
            return a * (0.999 * np.exp(-lam * tau) + 0.001), 1 - a * a
        a_t, v_t = coeff(float(t[b]))
        a_s, v_s = coeff(float(s[b]))
        cov = (a_t / a_s) * v_s
        want_mean = a_s * f_x[b] + cov / v_t * (f_t[b] - a_t * f_x[b])
        want_var = v_s - cov * cov / v_t
        np.testing.assert_allclose(mean[b], want_mean, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(var[b], np.broadcast_to(want_var, var[b].shape),
                                   rtol=2e-4, atol=2e-6)


def _oracle(x, schedule):
    """The network that returns the true noise of x: eps = (z_t - V alpha_vec_t V^T x) / sigma_t."""
    lam = bd.squared_frequencies(*x.shape[1:3])

    def eps_fn(z_t, t):
        alpha_vec, sigma2 = schedule.coefficients(t, lam)
        return (z_t - bd.idct2(alpha_vec * bd.dct2(x))) / jnp.sqrt(sigma2)

    return eps_fn


@pytest.mark.parametrize("sigma_b_max", [0.0, 5.0, 25.0])
@pytest.mark.parametrize("sampler,steps", [("ancestral", 500), ("ancestral", 20),
                                           ("ddim", 10)])
def test_samplers_recover_the_image_with_an_oracle(sigma_b_max, sampler, steps):
    schedule = bd.Schedule(sigma_b_max)
    x = _photo()
    out, trajectory = jax.jit(
        lambda rng: bd.sample(_oracle(x, schedule), x.shape, rng, steps, schedule, sampler,
                              return_trajectory=True))(jax.random.PRNGKey(5))
    assert bool(jnp.all(jnp.isfinite(trajectory))) and trajectory.shape == (steps, *x.shape)
    np.testing.assert_allclose(out, x, atol=1e-3)  # 0.13 of a uint8 level


@pytest.mark.parametrize("sigma_b_max", [0.0, 5.0, 25.0])
def test_every_step_is_finite_for_t_in_0_1(sigma_b_max):
    """Whatever the network says, at every t in [0, 1] (t = 1 included) nothing is NaN or Inf."""
    schedule = bd.Schedule(sigma_b_max)
    shape = (2, 16, 16, 3)
    t = jnp.linspace(0.0, 1.0, 101)
    z = jax.random.normal(jax.random.PRNGKey(6), shape)
    eps = jax.random.normal(jax.random.PRNGKey(7), shape)
    for ti in t:
        z_t = bd.diffuse(jnp.tanh(z), ti, eps, schedule)
        x0 = bd.predict_x0(z_t, ti, 3.0 * eps, schedule)
        assert bool(jnp.all(jnp.isfinite(z_t))) and bool(jnp.all(jnp.isfinite(x0)))
        if ti > 0:
            mean, var = bd.posterior(bd.dct2(z_t), bd.dct2(x0), ti, ti * 0.9, schedule)
            assert bool(jnp.all(jnp.isfinite(mean))) and bool(jnp.all(var >= 0))
    wild = bd.sample(lambda z, t: 1e3 * z, shape, jax.random.PRNGKey(8), 8, schedule)
    assert bool(jnp.all(jnp.isfinite(wild)))


def test_sampling_is_reproducible_and_seed_dependent():
    schedule = bd.Schedule(25.0)
    eps_fn = lambda z, t: 0.5 * z  # noqa: E731
    a = bd.sample(eps_fn, (1, 16, 16, 3), jax.random.PRNGKey(9), 6, schedule)
    b = bd.sample(eps_fn, (1, 16, 16, 3), jax.random.PRNGKey(9), 6, schedule)
    c = bd.sample(eps_fn, (1, 16, 16, 3), jax.random.PRNGKey(10), 6, schedule)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_blur_removes_high_frequencies_first():
    """d_t falls with frequency at a fixed t and with t at a fixed frequency; DC stays 1, so
    denoising restores coarse structure first and fine detail last."""
    schedule = bd.Schedule(25.0)
    lam = bd.squared_frequencies(64, 64)
    d = np.asarray(schedule.blur(jnp.linspace(0.0, 1.0, 6), lam))[..., 0]
    assert np.all(d[:, 0, 0] == 1.0)
    diagonal = d[:, np.arange(64), np.arange(64)]
    assert np.all(np.diff(diagonal, axis=1) <= 0) and np.all(np.diff(diagonal, axis=0) <= 0)
    assert diagonal[3, 1] > 0.5 and diagonal[3, 40] < 0.01  # at t = 0.6


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="sigma_b_max"):
        bd.Schedule(sigma_b_max=-1.0)
    with pytest.raises(ValueError, match="sampler"):
        bd.sample(lambda z, t: z, (1, 8, 8, 3), jax.random.PRNGKey(0), 2, bd.Schedule(), "euler")
    with pytest.raises(ValueError, match="steps"):
        bd.sample(lambda z, t: z, (1, 8, 8, 3), jax.random.PRNGKey(0), 0, bd.Schedule())


def test_decoder_options_are_split_between_schedule_and_unet_and_checked():
    from laplace_codec.models.decoders.unet import DiffusionDecoder

    phi = DiffusionDecoder.from_options(dict(sigma_b_max=5.0, steps=10, width=8,
                                             multipliers=[1, 2, 2, 2]))
    assert (phi.sigma_b_max, phi.steps, phi.sampler, phi.clip_x0) == (5.0, 10, "ancestral", True)
    assert DiffusionDecoder.from_options(dict(clip_x0=False)).clip_x0 is False
    assert (phi.temperature, DiffusionDecoder.from_options(dict(temperature=0.5)).temperature) \
        == (1.0, 0.5)
    for bad in (1.5, -0.1, "0.5", float("nan")):
        with pytest.raises(ValueError, match=r"temperature must be a number in \[0, 1\]"):
            DiffusionDecoder.from_options(dict(temperature=bad))
    assert dict(phi.unet_options) == dict(width=8, multipliers=(1, 2, 2, 2))
    assert phi.schedule == bd.Schedule(5.0, 0.001)
    with pytest.raises(ValueError, match=r"unknown model.diffusion option\(s\) \['widht'\]"):
        DiffusionDecoder.from_options(dict(widht=8))
    with pytest.raises(ValueError, match="unknown model.diffusion.sampler 'euler'"):
        DiffusionDecoder.from_options(dict(sampler="euler"))


def test_lpips_weight_is_min_snr_of_the_most_blurred_frequency():
    t = jnp.array([0.5])
    # No blur: SNR = cot^2(pi t / 2) = 1 at t = 0.5, so the weight is min(1, 5) / 5.
    np.testing.assert_allclose(bd.lpips_weight(t, 16, 16, bd.Schedule(0.0), 5.0), [0.2],
                               rtol=1e-5)
    # Blur: the highest frequency's d_t enters the SNR, by hand for t = 0.1, 16x16.
    t, sb = 0.1, 25.0
    lam = 2 * (np.pi * 15 / 16) ** 2
    tau = (sb * np.sin(np.pi * t / 2) ** 2) ** 2 / 2
    d = (1 - 0.001) * np.exp(-lam * tau) + 0.001
    snr = (np.cos(np.pi * t / 2) * d) ** 2 / np.sin(np.pi * t / 2) ** 2
    np.testing.assert_allclose(bd.lpips_weight(jnp.array([t]), 16, 16, bd.Schedule(sb), 5.0),
                               [min(snr, 5.0) / 5.0], rtol=1e-4)
    # cap 0: eq. 12 as printed.
    np.testing.assert_array_equal(bd.lpips_weight(jnp.array([0.3, 1.0]), 16, 16,
                                                  bd.Schedule(sb), 0.0), [1.0, 1.0])
    with pytest.raises(ValueError, match="lpips_snr_cap"):
        bd.lpips_weight(jnp.array([0.3]), 16, 16, bd.Schedule(sb), -1.0)


@pytest.mark.parametrize("sigma_b_max", [0.0, 5.0, 25.0])
def test_lpips_weight_bounds_how_much_x0_hat_amplifies_eps_errors(sigma_b_max):
    # d x0_hat[f] / d eps_hat[f] = -sigma_t / alpha_vec_t[f]; weighted, never above 1/sqrt(cap).
    schedule, cap = bd.Schedule(sigma_b_max), 5.0
    t = jnp.linspace(0.001, 1.0, 400)
    alpha_vec, sigma2 = schedule.coefficients(t, bd.squared_frequencies(64, 96))
    gain = jnp.sqrt(sigma2[:, 0, 0, 0]) / jnp.min(alpha_vec, axis=(1, 2, 3))
    weighted = bd.lpips_weight(t, 64, 96, schedule, cap) * gain
    assert float(jnp.max(weighted)) <= cap ** -0.5 * (1 + 1e-4)
    assert float(jnp.max(gain)) > 1e3  # what the weight guards against
    assert float(bd.lpips_weight(jnp.array([0.01]), 64, 96, schedule, cap)[0]) == 1.0


@pytest.mark.parametrize("sigma_b_max,cutoff", [(0.0, 0.0), (25.0, 0.0), (25.0, 1.5)])
def test_preconditioning_is_gaussian_conditioning_and_bounds_x0_errors(sigma_b_max, cutoff):
    from laplace_codec.models.decoders.unet import preconditioned_eps, prior_spectrum

    schedule, s = bd.Schedule(sigma_b_max), 0.1
    x = _photo(16)
    x_mse = x + 0.05 * jax.random.normal(jax.random.PRNGKey(3), x.shape)
    eps = jax.random.normal(jax.random.PRNGKey(4), x.shape)
    lam = bd.squared_frequencies(16, 16)
    s_f = prior_spectrum(lam, s, cutoff)  # the prior's std at each frequency
    for t in [0.01, 0.1, 0.5, 0.9, 1.0]:
        z = bd.diffuse(x, t, eps, schedule)
        tt = jnp.full((1,), t)
        a, sigma2 = schedule.coefficients(tt, lam)
        # u = 0: x0_hat is the posterior mean of x ~ N(x_mse, s^2 I) given z, per frequency.
        x0 = bd.predict_x0(z, tt, preconditioned_eps(z, tt, x_mse, jnp.zeros_like(z), schedule,
                                                      s, cutoff), schedule, clip=False)
        m, f_z = bd.dct2(x_mse), bd.dct2(z)
        gain = a * s_f * s_f / (a * a * s_f * s_f + sigma2)
        # float32 rounding of eps_hat is multiplied by sigma / a in x0_hat: allow for it.
        tolerance = 1e-4 + 1e-6 * jnp.sqrt(sigma2) / a * (jnp.abs(f_z) + 1.0)
        assert bool(jnp.all(jnp.abs(bd.dct2(x0) - (m + gain * (f_z - a * m))) <= tolerance)), t
        if t >= 0.9:
            continue  # alpha_vec_t < 2e-4: float32 rounding alone moves x0_hat by s / 10
        # An error in u moves x0_hat by at most s times that error, at every frequency.
        du = jax.random.normal(jax.random.PRNGKey(5), x.shape)
        x0_moved = bd.predict_x0(z, tt, preconditioned_eps(z, tt, x_mse, du, schedule, s, cutoff),
                                 schedule, clip=False)
        f_du = bd.dct2(du)
        # Slack for float32 rounding at alpha_vec_t ~ 1e-3, in both x0_hat.
        bound = 1.05 * s_f * jnp.abs(f_du) + 2 * tolerance
        assert bool(jnp.all(jnp.abs(bd.dct2(x0_moved - x0)) <= bound)), t


def test_prior_spectrum_is_flat_to_the_cutoff_then_falls_as_inverse_square():
    from laplace_codec.models.decoders.unet import prior_spectrum

    lam = jnp.array([0.0, 1.0, 4.0, 16.0])  # |f| = 0, 1, 2, 4
    assert prior_spectrum(lam, 0.1).tolist() == pytest.approx([0.1] * 4)
    assert prior_spectrum(lam, 0.1, 2.0).tolist() == pytest.approx([0.1, 0.1, 0.1, 0.025])
    with pytest.raises(ValueError, match="prior_cutoff"):
        prior_spectrum(lam, 0.1, -1.0)


@pytest.mark.parametrize("cutoff", [0.0, 1.5])
def test_unet_target_is_the_output_that_predicts_eps_exactly(cutoff):
    from laplace_codec.models.decoders.unet import preconditioned_eps, unet_target

    schedule, s = bd.Schedule(25.0), 0.1
    x = _photo(16)
    x_mse = x + 0.05 * jax.random.normal(jax.random.PRNGKey(3), x.shape)
    eps = jax.random.normal(jax.random.PRNGKey(4), x.shape)
    for t in [0.01, 0.2, 0.5, 0.9]:
        tt = jnp.full((1,), t)
        z = bd.diffuse(x, tt, eps, schedule)
        target = unet_target(x, x_mse, eps, tt, schedule, s, cutoff)
        eps_hat = preconditioned_eps(z, tt, x_mse, target, schedule, s, cutoff)
        assert float(jnp.max(jnp.abs(eps_hat - eps))) < 1e-4, t
        # Unit scale at every t: the eps it replaces, or the MSE image's miss over s.
        assert 0.2 < float(jnp.std(target)) < 5.0, t
    with pytest.raises(ValueError, match="prior_std"):
        unet_target(x, x_mse, eps, jnp.full((1,), 0.5), schedule, 0.0)


@pytest.mark.parametrize("cutoff", [0.0, 1.5])
def test_preconditioned_x0_is_eq3_without_its_rounding_near_t1(cutoff):
    from laplace_codec.models.decoders.unet import (preconditioned_eps, preconditioned_x0,
                                                    unet_target)

    schedule, s = bd.Schedule(25.0), 0.1
    x = _photo(16)
    x_mse = x + 0.05 * jax.random.normal(jax.random.PRNGKey(3), x.shape)
    eps = jax.random.normal(jax.random.PRNGKey(4), x.shape)
    u = jax.random.normal(jax.random.PRNGKey(5), x.shape)
    for t in [0.01, 0.2, 0.5, 0.9, 0.99, 1.0]:
        tt = jnp.full((1,), t)
        z = bd.diffuse(x, tt, eps, schedule)
        stable = preconditioned_x0(z, tt, x_mse, u, schedule, s, cutoff)
        if t <= 0.5:  # where eq. 3's division by alpha_vec_t is still accurate in float32
            eq3 = bd.predict_x0(z, tt, preconditioned_eps(z, tt, x_mse, u, schedule, s, cutoff),
                                schedule, clip=False)
            assert float(jnp.max(jnp.abs(stable - eq3))) < 1e-3, t
        # The U-Net output that predicts eps exactly reconstructs x itself, at every t.
        target = unet_target(x, x_mse, eps, tt, schedule, s, cutoff)
        exact = preconditioned_x0(z, tt, x_mse, target, schedule, s, cutoff)
        assert float(jnp.max(jnp.abs(exact - x))) < 1e-4, t
    near_one = jnp.full((1,), 0.999)
    z = bd.diffuse(x, near_one, eps, schedule)
    target = unet_target(x, x_mse, eps, near_one, schedule, s, cutoff)
    eq3 = bd.predict_x0(z, near_one, preconditioned_eps(z, near_one, x_mse, target, schedule, s,
                                                        cutoff), schedule, clip=False)
    assert float(jnp.max(jnp.abs(eq3 - x))) > 0.1  # what the stable form repairs


def test_the_cheap_unet_wiring_sees_every_condition_scale_and_costs_less():
    from laplace_codec.models.decoders import unet

    options = dict(width=8, multipliers=(1, 2, 3, 4), attention_levels=())
    net = unet.DenoisingUNet(**options, **unet.CHEAP)
    z, t = jnp.ones((1, 16, 16, 3)), jnp.array([0.3])
    cond = [jax.random.normal(jax.random.PRNGKey(i), (1, 16 >> i, 16 >> i, 3 if i == 0 else 12))
            for i in range(4)]
    # Random weights everywhere (the output convolution starts at zero; jitting init costs
    # more here than the whole test): every scale must move the output.
    rng = np.random.default_rng(0)
    params = jax.tree_util.tree_map(
        lambda leaf: jnp.asarray(rng.normal(0.0, 0.2, leaf.shape), leaf.dtype),
        jax.eval_shape(net.init, jax.random.PRNGKey(0), z, t, cond))
    apply = jax.jit(net.apply)
    out = apply(params, z, t, cond)
    assert out.shape == z.shape
    for i in range(4):  # every scale of the condition pyramid reaches the output
        moved = list(cond)
        moved[i] = cond[i] + 1.0
        assert float(jnp.max(jnp.abs(apply(params, z, t, moved) - out))) > 1e-4, i

    def flops(n):  # XLA's count of the unoptimised program: nothing more to compile
        shapes = jax.eval_shape(n.init, jax.random.PRNGKey(0), z, t, cond)
        cost = jax.jit(n.apply).lower(shapes, z, t, cond).cost_analysis()
        return (cost[0] if isinstance(cost, list) else cost)["flops"]

    assert flops(net) < 0.7 * flops(unet.DenoisingUNet(**options))
    with pytest.raises(ValueError, match="model.diffusion.condition must be one of"):
        unet.DenoisingUNet(**options, condition="multiply").init(jax.random.PRNGKey(0), z, t,
                                                                  cond)


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
def test_steps_that_clip_x0_hat_cast_a_dark_image_lighter_and_unclipped_ones_do_not(sampler):
    """A network that errs without bias, on an image near black: each step's clip of x0_hat
    to [-1, 1] cuts the errors below -1 only, so the sample comes out lighter on average (the
    colour cast of clip_x0 = True); without the clip its mean stays the image's."""
    schedule = bd.Schedule(25.0)
    x = -0.97 + 0.02 * jnp.tanh(jax.random.normal(jax.random.PRNGKey(11), (1, 32, 32, 3)))
    oracle = _oracle(x, schedule)

    def eps_fn(z_t, t):  # the true noise plus a zero-mean error, fixed per step
        key = jax.random.fold_in(jax.random.PRNGKey(12), jnp.int32(1000 * t[0]))
        return oracle(z_t, t) + 0.2 * jax.random.normal(key, z_t.shape)

    def bias(clip):
        out = bd.sample(eps_fn, x.shape, jax.random.PRNGKey(13), 10, schedule, sampler, clip)
        return float(jnp.mean(out - x))

    assert bias(True) > 0.03  # about 4 levels lighter
    assert abs(bias(False)) < 0.05 * bias(True)


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
def test_the_temperature_scales_a_gaussian_models_sample_about_its_mean_path(sampler):
    """For the exact Gaussian model N(x_mse, s^2 I) (the preconditioning with U = 0) either
    sampler is affine in its random draws, so temperature tau scales a sample's deviation
    from the temperature-0 sample by tau exactly; and temperature 0 follows the mean path to
    x_mse itself."""
    from laplace_codec.models.decoders.unet import preconditioned_eps

    schedule = bd.Schedule(25.0)
    x_mse = _photo()

    def eps_fn(z, t):
        return preconditioned_eps(z, t, x_mse, jnp.zeros_like(z), schedule, 0.1)

    def sample(tau):
        return bd.sample(eps_fn, x_mse.shape, jax.random.PRNGKey(5), 10, schedule, sampler,
                         clip=False, temperature=tau)

    mean_path, full = sample(0.0), sample(1.0)
    np.testing.assert_allclose(mean_path, x_mse, atol=2e-3)
    assert float(jnp.std(full - mean_path)) > 0.01  # some of the model's noise (std 0.1)
    np.testing.assert_allclose(sample(0.3) - mean_path, 0.3 * (full - mean_path), atol=1e-4)
    with pytest.raises(ValueError, match="temperature"):
        sample(-0.5)


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
def test_x0_dc_gives_the_sample_the_conditions_channel_means_whatever_the_network_does(sampler):
    """A network whose eps_hat is biased (what a briefly trained U-Net does to the image mean)
    casts its sample; with ``x0_dc`` from another image every step takes x0_hat's DC from it,
    and the sample's per-channel means are that image's exactly, its detail unchanged."""
    schedule = bd.Schedule(25.0)
    x = _photo()
    oracle = _oracle(x, schedule)
    bias = jnp.array([0.0, -0.3, 0.1])

    def eps_fn(z_t, t):  # the true noise, shifted per channel
        return oracle(z_t, t) + bias

    def run(x0_dc):
        return bd.sample(eps_fn, x.shape, jax.random.PRNGKey(3), 8, schedule, sampler,
                         clip=False, x0_dc=x0_dc)

    def means(a):
        return np.asarray(jnp.mean(a, axis=(0, 1, 2)))

    cast = run(None)
    assert abs(means(cast - x)[1]) > 0.01  # the biased network moved the green mean
    target = x + jnp.array([0.02, -0.01, 0.0])  # a condition a little off the image
    anchored = run(bd.dc_coefficient(target))
    np.testing.assert_allclose(means(anchored), means(target), atol=1e-5)
    # Only the DC changed between the two: their difference is constant per channel (up to
    # float32 rounding, which the division by the blurred alpha_vec_t amplifies).
    difference = anchored - cast
    detail = difference - jnp.mean(difference, axis=(1, 2), keepdims=True)
    assert float(jnp.sqrt(jnp.mean(jnp.square(detail)))) < 1e-3
    with pytest.raises(ValueError, match=r"x0_dc must have the shape \(batch, 1, 1, channels"):
        run(jnp.zeros((1, 1, 1, 1)))


def test_dc_coefficient_is_the_dct_at_frequency_zero():
    x = _photo()
    np.testing.assert_allclose(bd.dc_coefficient(x), bd.dct2(x)[:, :1, :1, :], rtol=1e-5)
