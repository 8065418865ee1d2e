"""Tiled synthesis: windows cover the latent, and the stitched image matches the untiled one."""

import numpy as np
import pytest

from laplace_codec.coding import tiling


@pytest.mark.parametrize("size, tile, halo", [(1, 4, 2), (9, 4, 2), (10, 4, 2), (240, 128, 4),
                                              (136, 128, 4), (37, 5, 3), (12, 4, 0)])
def test_windows_cover_the_axis_with_a_halo_inside(size, tile, halo):
    spans = set()
    covered = np.zeros(size, int)
    for start, a, b in tiling.windows(size, tile, halo):
        span = min(size, tile + 2 * halo)
        spans.add(span)
        assert 0 <= start and start + span <= size
        assert start <= a < b <= start + span
        # Every inner side of a core keeps at least `halo` positions of context.
        assert a - start >= halo or start == 0
        assert start + span - b >= halo or start + span == size
        covered[a:b] += 1
    assert len(spans) == 1  # one window shape: a jitted function compiles once
    assert np.all(covered == 1)


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / mse)


def test_tiled_synthesis_matches_the_untiled_image(codec, photo, monkeypatch):
    x = np.ascontiguousarray(photo[:300, :200])
    y_hat = codec.encode(x).y_hat  # (1, 20, 13, M)
    monkeypatch.setattr(codec, "synthesis_tile_pixels", None)
    whole = codec.reconstruct(y_hat, 300, 200)
    monkeypatch.setattr(codec, "synthesis_tile_pixels", 0)  # tile everything
    monkeypatch.setattr(codec, "tile_latents", 4)  # 3 x 5 windows over a 13 x 20 latent
    tiled = codec.reconstruct(y_hat, 300, 200)
    assert tiled.shape == whole.shape
    assert abs(_psnr(x, tiled) - _psnr(x, whole)) < 0.05
    assert np.abs(tiled.astype(int) - whole).max() <= 1  # float rounding only
    # Without a halo the seams show: this comparison can fail.
    seams = tiling.tiled_apply(lambda t: codec._synth(codec.params, t), y_hat, 16, tile=4,
                               halo=0)
    seams = np.clip(np.round((seams[0] + 1) * 127.5), 0, 255).astype(np.uint8)[:300, :200]
    assert np.abs(seams.astype(int) - whole).max() > 8


def test_tiled_apply_checks_the_scale_of_fn():
    with pytest.raises(ValueError, match="scale"):
        tiling.tiled_apply(lambda t: t, np.zeros((1, 20, 20, 3)), scale=2, tile=4, halo=1)


def test_tiled_analysis_writes_the_same_file(codec, photo, monkeypatch):
    x = np.ascontiguousarray(photo[:300, :200])
    monkeypatch.setattr(codec, "analysis_tile_pixels", None)
    whole = codec.encode(x)
    monkeypatch.setattr(codec, "analysis_tile_pixels", 0)  # tile everything
    monkeypatch.setattr(codec, "tile_latents", 4)
    tiled = codec.encode(x)
    assert tiled.data == whole.data  # windows keep the stride-2 grids: g_a is exact
    # A halo below g_a's reach changes y: this comparison can fail.
    from laplace_codec.coding.codec import pad_image

    xp = pad_image(x)[0][None].astype(np.float32) / 127.5 - 1.0
    y = tiling.tiled_apply(lambda t: codec._g_a(codec.params, t), xp, 1, tile=4, halo=1,
                           in_scale=16)
    y_whole = np.asarray(codec._analyze(codec.params, xp)[0])
    assert np.abs(y - y_whole).max() > 0.1


def test_blend_ramps_rise_across_inner_sides_only():
    np.testing.assert_array_equal(tiling.blend_ramp(0, 8, 8, 4), np.ones(8))  # whole axis
    left_border = tiling.blend_ramp(0, 8, 20, 4)  # an inner side on the right only
    np.testing.assert_allclose(left_border, [1, 1, 1, 1, 0.875, 0.625, 0.375, 0.125])
    inner = tiling.blend_ramp(4, 8, 20, 4)
    np.testing.assert_allclose(inner, [0.125, 0.375, 0.625, 0.875, 0.875, 0.625, 0.375, 0.125])


def test_blended_steps_of_a_pointwise_step_equal_the_untiled_steps():
    # A step that acts on each pixel alone (with the latent under it and the noise) gives
    # the same image in any windows: the blend is a weighted mean of equal values.
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(1, 9, 13, 2)).astype(np.float32)
    z0 = rng.normal(size=(1, 36, 52, 3)).astype(np.float32)
    noises = {k: rng.normal(size=z0.shape).astype(np.float32) for k in (1, 2, 3)}
    calls = []

    def step(lat, z, k, noise):
        calls.append((lat.shape, z.shape))
        under = np.repeat(np.repeat(lat[..., :1], 4, axis=1), 4, axis=2)
        return 0.9 * z + 0.1 * under + 0.01 * k * noise

    whole = tiling.blended_steps(step, z0, latent, 3, scale=4, tile=100, halo=1,
                                 noise=noises.get)
    assert set(calls) == {((1, 9, 13, 2), (1, 36, 52, 3))} and len(calls) == 3
    want = z0
    for k in (3, 2, 1):
        want = step(latent, want, k, noises[k])
    np.testing.assert_allclose(whole, want, rtol=1e-6, atol=1e-6)
    calls.clear()
    tiled = tiling.blended_steps(step, z0, latent, 3, scale=4, tile=3, halo=1,
                                 noise=noises.get)
    # windows shifted inwards at a border can coincide: each distinct one runs once
    distinct = [len({start for start, _, _ in tiling.windows(n, 3, 1)}) for n in (9, 13)]
    assert {c[0] for c in calls} == {(1, 5, 5, 2)} and len(calls) == 3 * distinct[0] * distinct[1]
    assert distinct == [3, 4]
    np.testing.assert_allclose(tiled, want, rtol=1e-5, atol=1e-5)


def test_blended_steps_blend_windows_that_disagree():
    # A step that adds its window's mean differs between windows; blending makes the
    # neighbours meet without a jump at the cores' boundary, where cutting would leave one.
    latent = np.zeros((1, 4, 48, 1), np.float32)
    z0 = np.tile(np.linspace(-1, 1, 48, dtype=np.float32)[None, None, :, None], (1, 4, 1, 1))

    def step(lat, z, k, noise):
        return z + z.mean()

    out = tiling.blended_steps(step, z0, latent, 1, scale=1, tile=8, halo=4)[0, 0, :, 0]
    cut = tiling.blended_steps(step, z0, latent, 1, scale=1, tile=8, halo=0)[0, 0, :, 0]
    blended_jump = np.abs(np.diff(out - z0[0, 0, :, 0])).max()
    cut_jump = np.abs(np.diff(cut - z0[0, 0, :, 0])).max()  # 0.34: the windows' means differ
    assert cut_jump > 0.3 and blended_jump < cut_jump / 4  # spread over the ramps
