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
