"""The variant-digits generator and the IDX reader."""

import gzip

import numpy as np
import pytest

from causaltraits.crl import digits
from causaltraits.errors import DataError


def test_shapes_and_truth():
    d = digits.make_variant_digits(40, seed=3)
    assert [x.shape for x in d.X[0]] == [(40, 588)] * 3
    assert d.X[1][0].shape == (40, 196)
    assert all(x.dtype == np.float32 for mod in d.X for x in mod)
    assert d.latents.shape == (40, 4)
    assert d.truth().directed() == {("z11", "z12"), ("z11", "z21"), ("z21", "z22")}
    assert d.source == "sklearn-digits"


def test_same_seed_same_bytes_other_seed_differs():
    a = digits.make_variant_digits(30, seed=5)
    b = digits.make_variant_digits(30, seed=5)
    c = digits.make_variant_digits(30, seed=6)
    for xa, xb in zip([x for m in a.X for x in m], [x for m in b.X for x in m]):
        assert xa.tobytes() == xb.tobytes()
    assert not np.array_equal(a.latents, c.latents)


def test_measurements_differ_in_instance_and_noise():
    d = digits.make_variant_digits(200, seed=0)
    m1 = d.X[0]
    # same latents, different digit instances: measurements are far from identical
    assert np.mean(np.abs(m1[0] - m1[1])) > 0.05
    # colour follows z12: the red-to-green balance correlates with z12
    img = m1[0].reshape(200, 14, 14, 3)
    balance = img[..., 1].sum((1, 2)) - img[..., 0].sum((1, 2))
    assert np.corrcoef(balance, d.latents[:, 1])[0, 1] > 0.5


def test_modality2_is_one_image_moved_by_its_latents():
    # one source image for the data set: two rows with nearly equal (z21, z22) differ by pixel
    # noise only (RMS sqrt(2) * 0.05), while modality 1's nearest rows differ by their instances
    # (far more than their pixel noise)
    d = digits.make_variant_digits(3000, seed=2)

    def nearest_pair_rms(x, lat):
        dist = ((lat[:, None, :] - lat[None, :, :]) ** 2).sum(-1) + np.eye(len(lat)) * 1e9
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        return float(np.sqrt(np.mean((x[i] - x[j]) ** 2)))

    rms2 = nearest_pair_rms(d.X[1][0], d.latents[:, 2:])
    assert 0.05 < rms2 < 0.09
    rms1 = nearest_pair_rms(d.X[0][0], d.latents[:, :2])
    assert rms1 > 2 * np.sqrt(2) * digits.MEASUREMENT_NOISE[0]


def test_latents_follow_the_structural_model():
    z = digits.sample_latents(20000, np.random.default_rng(0))
    c = np.corrcoef(z.T)
    assert c[0, 1] > 0.5 and c[0, 2] > 0.3 and c[2, 3] > 0.3
    # z12 is independent of z21 given z11: the residuals of the true equations are uncorrelated
    r12 = z[:, 1] - 0.6 * np.tanh(1.5 * z[:, 0])
    r21 = z[:, 2] - 0.5 * z[:, 0] - 0.4 * (z[:, 0] ** 2 - 1 / 3)
    assert abs(np.corrcoef(r12, r21)[0, 1]) < 0.03
    # non-Gaussian noise: uniform residuals have negative excess kurtosis
    k = np.mean((r12 - r12.mean()) ** 4) / np.var(r12) ** 2 - 3
    assert k < -1.0


@pytest.mark.parametrize("test", ["fisherz", "gcm"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_pc_over_the_true_test_latents_recovers_the_skeleton(seed, test):
    """The benchmark's graph scores are attainable: its PC (Fisher-z, and GCM) gets the skeleton from the truth."""
    from causaltraits.crl.benchmark import split
    from causaltraits.crl.metrics import graph_scores, pc_graph

    z = digits.sample_latents(10_000, np.random.default_rng(seed))[split(10_000, seed)[1]]
    g = pc_graph(z, list(digits.LATENT_NAMES), test=test)
    assert graph_scores(g, digits.true_graph())["skeleton_f1"] == 1.0


def test_idx_roundtrip_and_mnist_source(tmp_path):
    rng = np.random.default_rng(1)
    imgs = (rng.random((7, 28, 28)) * 255).astype(np.uint8)
    p = tmp_path / "train-images-idx3-ubyte"
    digits.write_idx(p, imgs)
    back = digits.read_idx(p)
    assert back.dtype == np.uint8 and np.array_equal(back, imgs)
    # gzipped too, and found inside a directory
    gz = tmp_path / "gz" / "train-images-idx3-ubyte.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(p.read_bytes()))
    assert np.array_equal(digits.read_idx(gz), imgs)
    src, name = digits.source_images(gz.parent)
    assert src.shape == (7, 14, 14)
    # 2x2 mean pooling of the 28x28 images
    expect = imgs.reshape(7, 14, 2, 14, 2).mean(axis=(2, 4)) / 255
    assert np.allclose(src, expect)
    d = digits.make_variant_digits(12, seed=0, mnist=p)
    assert d.X[1][0].shape == (12, 196) and d.source == str(p)


def test_bad_idx_is_a_one_line_error(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="bad magic"):
        digits.read_idx(p)
    q = tmp_path / "short"
    q.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(DataError, match="promises 10"):
        digits.read_idx(q)
    with pytest.raises(DataError, match="no MNIST image file"):
        digits.source_images(tmp_path / "nothing-here")
