"""Tiled transforms: apply a function to overlapping tiles of a latent grid and stitch.

``Codec`` uses it above 4 Mpixels for the synthesis ``g_s`` (latent -> image, in
``reconstruct``) and the analysis ``g_a`` (image -> latent, in ``encode``), which bounds the
peak memory of both by that of one window; the results are the untiled ones (tested).

A synthesis transform maps a latent (1, h, w, C) to an image (1, h * s, w * s, c) through
convolutions whose receptive field, measured in latent positions, has a finite radius r.
Each output tile is computed from its latent *core* widened by a *halo* of at least r
positions on every side that is not the latent's own border, and only the core's pixels are
kept. With halo >= r every kept pixel sees exactly the inputs it sees in the untiled
computation (zero padding only at the latent's true borders), so the stitched image equals
the untiled one up to float rounding; peak memory is that of one window instead of the
whole image.

For ``g_s`` (``transforms.SynthesisTransform``: a 3x3 sub-pixel conv at each of four
resolutions and ``res_blocks`` residual blocks of two 3x3 convs after the first three),
r = 1 + (2 * res_blocks + 1) * (1/2 + 1/4 + 1/8): 3.625 latent positions for
res_blocks = 1, so the default halo of 4 is exact.

For ``g_a`` the same holds with windows of 16-pixel cells that start at multiples of 16
pixels, so each stride-2 layer samples the same grid as the untiled transform; its reach is
``analysis_radius`` (2.8 latent positions without residual blocks, 4.6 with one).

Every window has the same shape (windows at the borders are shifted inwards rather than
cut), so a jitted ``fn`` compiles once. The function is generic: any decoder from a latent
grid to pixels at a fixed scale (for instance a diffusion decoder's conditioning network)
can be tiled the same way, given its own halo.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

DEFAULT_TILE = 128  # latent positions per core side (2048 pixels for g_s)
DEFAULT_HALO = 4  # latent positions; >= the receptive-field radius of g_s (see above)


def receptive_radius(res_blocks: int) -> float:
    """Receptive-field radius of ``g_s`` in latent positions (see the module doc)."""
    return 1 + (2 * res_blocks + 1) * (1 / 2 + 1 / 4 + 1 / 8)


def analysis_radius(res_blocks: int) -> float:
    """Receptive-field reach of ``g_a`` in latent positions: each stride-2 5x5 convolution
    reaches 3 input pixels on its far side (XLA's SAME padding is 1 before and 2 after), each
    residual convolution 1, at resolutions 1, 1/2, 1/4, 1/8."""
    return 3 * (1 / 16 + 1 / 8 + 1 / 4 + 1 / 2) + 2 * res_blocks * (1 / 8 + 1 / 4 + 1 / 2)


def windows(size: int, tile: int, halo: int) -> list[tuple[int, int, int]]:
    """(window start, core start, core stop) along one axis of ``size`` latent positions.

    Cores of ``tile`` positions cover the axis; each window spans ``tile + 2 * halo``
    positions (or the whole axis when that is shorter), shifted inwards at the borders.
    """
    if tile < 1 or halo < 0:
        raise ValueError(f"tile must be >= 1 and halo >= 0, got {tile} and {halo}")
    span = tile + 2 * halo
    if size <= span:
        return [(0, 0, size)]
    out = []
    for core in range(0, size, tile):
        start = min(max(core - halo, 0), size - span)
        out.append((start, core, min(core + tile, size)))
    return out


def tiled_apply(fn: Callable, latent, scale: int, tile: int = DEFAULT_TILE,
                halo: int = DEFAULT_HALO, in_scale: int = 1) -> np.ndarray:
    """``fn(latent)`` computed tile by tile; returns a float32 numpy array.

    Args:
      fn: maps a latent window (1, th, tw, C) to pixels (1, th * scale, tw * scale, c).
      latent: (1, h, w, C) array.
      scale: pixels per latent position (16 for ``g_s``).
      tile: core size in latent positions.
      halo: extra latent positions on each inner side of a core (>= fn's receptive radius).
      in_scale: input elements per position: 16 tiles ``g_a`` (image -> latent, with
        ``scale=1``), whose windows then start at multiples of 16 pixels, so that every
        stride-2 layer keeps the untiled sampling grid.
    """
    latent = np.asarray(latent)
    if latent.ndim != 4 or latent.shape[0] != 1:
        raise ValueError(f"expected an input of shape (1, h, w, C), got {latent.shape}")
    if latent.shape[1] % in_scale or latent.shape[2] % in_scale:
        raise ValueError(f"input size {latent.shape[1:3]} is not a multiple of {in_scale}")
    h, w = latent.shape[1] // in_scale, latent.shape[2] // in_scale
    rows, cols = windows(h, tile, halo), windows(w, tile, halo)
    span_h = min(h, tile + 2 * halo)
    span_w = min(w, tile + 2 * halo)
    out = None
    for r0, a0, a1 in rows:
        for c0, b0, b1 in cols:
            window = latent[:, r0 * in_scale:(r0 + span_h) * in_scale,
                            c0 * in_scale:(c0 + span_w) * in_scale]
            pixels = np.asarray(fn(window))
            if pixels.shape[1:3] != (span_h * scale, span_w * scale):
                raise ValueError(f"fn returned {pixels.shape[1:3]} pixels for a "
                                 f"{span_h}x{span_w} latent window; expected scale {scale}")
            if out is None:
                out = np.empty((1, h * scale, w * scale, pixels.shape[-1]), np.float32)
            out[:, a0 * scale:a1 * scale, b0 * scale:b1 * scale] = pixels[
                :, (a0 - r0) * scale:(a1 - r0) * scale, (b0 - c0) * scale:(b1 - c0) * scale]
    return out


def blend_ramp(start: int, span: int, size: int, ramp: int) -> np.ndarray:
    """Weights along one axis of a window of ``span`` elements at ``start`` in an axis of
    ``size``: rising linearly over ``ramp`` elements from each side that is not the axis's
    own border, 1 elsewhere (so the windows' cores, at least ``ramp`` inside, weigh 1)."""
    i = np.arange(span, dtype=np.float32) + 0.5
    w = np.ones(span, np.float32)
    if start > 0:
        w = np.minimum(w, i / ramp)
    if start + span < size:
        w = np.minimum(w, (span - i) / ramp)
    return w


def blended_steps(step: Callable, z, latent, steps: int, scale: int,
                  tile: int = DEFAULT_TILE, halo: int = DEFAULT_HALO,
                  noise: Callable | None = None) -> np.ndarray:
    """``steps`` steps of an iterative decoder (a diffusion sampler) on overlapping windows,
    blended after every step (MultiDiffusion, Bar-Tal et al. 2023); a float32 numpy array.

    Unlike ``g_s``, a diffusion decoder is not local (its DCT, group norms and attention see
    the whole input), so windows cannot be cut exactly. Instead, at every step each window
    takes its own step from the current image, and the image becomes the weighted mean of
    the windows' results, with weights ramping down across the halos (:func:`blend_ramp`):
    neighbours agree at every step, and seams blend instead of showing. Peak memory is
    that of one window. With one window (an image within ``tile + 2 * halo``), this is the
    untiled sampler.

    Args:
      step: ``step(latent_window, z_window, k, noise_window) -> z_window`` from t = k / steps
        to (k - 1) / steps; ``noise_window`` is None when ``noise`` is.
      z: (1, h * scale, w * scale, c): the initial image (z at t = 1).
      latent: (1, h, w, C): the latent under it.
      scale: pixels per latent position (16).
      tile, halo: core size and overlap of the windows in latent positions (:func:`windows`).
      noise: ``noise(k)`` -> this step's (1, h * scale, w * scale, c) noise, or None.
    """
    latent, z = np.asarray(latent), np.array(z, np.float32)
    if latent.ndim != 4 or latent.shape[0] != 1:
        raise ValueError(f"expected a latent of shape (1, h, w, C), got {latent.shape}")
    h, w = latent.shape[1:3]
    if z.shape[:3] != (1, h * scale, w * scale):
        raise ValueError(f"the image has shape {z.shape}; a {h}x{w} latent at scale {scale} "
                         f"needs (1, {h * scale}, {w * scale}, c)")
    rows, cols = windows(h, tile, halo), windows(w, tile, halo)
    span_h, span_w = min(h, tile + 2 * halo), min(w, tile + 2 * halo)
    ramp = max(halo, 1) * scale
    weights = {}
    for r0, _, _ in rows:
        for c0, _, _ in cols:
            weights[r0, c0] = (blend_ramp(r0 * scale, span_h * scale, h * scale, ramp)[:, None]
                               * blend_ramp(c0 * scale, span_w * scale, w * scale, ramp)[None])
    total = np.zeros((h * scale, w * scale), np.float32)
    for (r0, c0), wt in weights.items():
        total[r0 * scale:(r0 + span_h) * scale, c0 * scale:(c0 + span_w) * scale] += wt
    for k in range(steps, 0, -1):
        eps = None if noise is None else np.asarray(noise(k))
        out = np.zeros_like(z)
        for (r0, c0), wt in weights.items():
            rows_px = slice(r0 * scale, (r0 + span_h) * scale)
            cols_px = slice(c0 * scale, (c0 + span_w) * scale)
            z_s = np.asarray(step(latent[:, r0:r0 + span_h, c0:c0 + span_w],
                                  z[:, rows_px, cols_px], k,
                                  None if eps is None else eps[:, rows_px, cols_px]))
            out[:, rows_px, cols_px] += wt[None, :, :, None] * z_s
        z = out / total[None, :, :, None]
    return z
