"""What an MSE decoder loses, by frequency: the RMS of the residual ``x - x_hat`` in the
orthonormal DCT of the image (the diffusion decoder's space), in bands of radial frequency
``|f|`` (radians per pixel, 0 to pi sqrt 2), beside the image's own RMS in each band.

    python benchmarks/residual_spectrum.py [--model laplacian-mse-vr] [--quality 1,4,6] \
        [--images 4] [--bands 0,0.25,0.5,1,1.5,2,2.5,3,3.5,4.45]

This is the spectrum the diffusion decoder's prior should have (``model.diffusion.prior_std``
and ``prior_cutoff``, ``unet.prior_spectrum``): where the residual equals the image, the MSE
decoder kept nothing. ``x_hat`` is the model's forward pass (rounded y, no entropy coding).
The last line is JSON: {"QUALITY": {"residual": [rms per band], "image": [...]}, "bands": [...]}.
"""

import argparse
import json
import os
import sys

import jax.numpy as jnp
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import kodak_model  # noqa: E402
from laplace_codec.models import model as model_lib  # noqa: E402
from laplace_codec.models.decoders import blur_diffusion  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kodak_model.add_flags(parser, model="laplacian-mse-vr")
    parser.add_argument("--bands", default="0,0.25,0.5,1,1.5,2,2.5,3,3.5,4.45",
                        help="increasing edges of the bands of |f|")
    args = parser.parse_args()
    edges = [float(v) for v in args.bands.split(",")]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise SystemExit(f"--bands needs at least two increasing edges, got {args.bands!r}")
    codec, qualities, pictures = kodak_model.load(args)
    model, params = codec.model, codec.params
    if model.decoder != "mse":
        raise SystemExit(f"{args.model} has a {model.decoder} decoder; this benchmark needs "
                         f"an MSE one")
    results = {"bands": edges}
    for q in qualities:
        residual, image = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
        counts = np.zeros(len(edges) - 1)
        for x in pictures:
            x_in = model_lib.from_uint8(jnp.asarray(x[None]))
            q_arg = None if q is None else jnp.full((1,), q, jnp.float32)
            x_hat = model.apply(params, x_in, train=False, quality=q_arg)["x_hat"]
            energy, count = band_energy(x_hat - x_in, edges)
            residual, counts = residual + energy, counts + count
            image += band_energy(x_in, edges)[0]
        counts = np.maximum(counts, 1)
        res_rms, img_rms = np.sqrt(residual / counts), np.sqrt(image / counts)
        results[str(q)] = dict(residual=[round(float(v), 4) for v in res_rms],
                               image=[round(float(v), 4) for v in img_rms])
        print(f"quality {q}: residual RMS by band {' '.join(f'{v:.4f}' for v in res_rms)}; "
              f"image {' '.join(f'{v:.4f}' for v in img_rms)}", flush=True)
    print(json.dumps(results))


def band_energy(x, edges) -> tuple[np.ndarray, np.ndarray]:
    """(sum of the squared orthonormal DCT coefficients, their number) in each band
    ``edges[i] <= |f| < edges[i + 1]`` of images ``x`` (N, H, W, C); the RMS of a band is
    ``sqrt(sum / number)``."""
    f = np.asarray(blur_diffusion.dct2(jnp.asarray(x)))
    r = np.sqrt(np.asarray(blur_diffusion.squared_frequencies(*f.shape[1:3])))[..., 0]
    bands = [(r >= a) & (r < b) for a, b in zip(edges, edges[1:])]
    return (np.array([np.sum(f[:, band] ** 2) for band in bands]),
            np.array([band.sum() * f.shape[0] * f.shape[3] for band in bands], float))


if __name__ == "__main__":
    main()
