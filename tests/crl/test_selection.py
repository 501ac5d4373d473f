"""The label-free cross-modal score that chooses among initialisations."""

import numpy as np
import pytest

from causaltraits.crl.selection import block_features, crossmodal_score, first_canonical_correlation


def test_first_canonical_correlation_equals_the_principal_angle():
    # without a ridge and on the fitting rows it is the largest singular value of Qa^T Qb
    rng = np.random.default_rng(0)
    A = rng.normal(size=(400, 4))
    B = np.column_stack([A[:, 0] + rng.normal(size=400), rng.normal(size=(400, 2))])
    Qa = np.linalg.qr(A - A.mean(0))[0]
    Qb = np.linalg.qr(B - B.mean(0))[0]
    ref = np.linalg.svd(Qa.T @ Qb, compute_uv=False)[0]
    assert first_canonical_correlation(A, B, A, B, ridge=0.0) == pytest.approx(ref, rel=1e-9)


def test_block_features_are_the_tensor_spline_basis():
    rng = np.random.default_rng(1)
    Z = rng.uniform(-1, 1, size=(500, 2))
    F = block_features(Z, Z, knots=3)
    assert F.shape == (500, 7 * 7 - 1)
    # any polynomial of degree <= 3 in each coordinate lies in the span (with the constant)
    y = Z[:, 0] ** 2 * Z[:, 1] ** 3 - 2 * Z[:, 0] * Z[:, 1] + Z[:, 1] ** 3
    X = np.column_stack([np.ones(500), F])
    assert np.abs(y - X @ np.linalg.lstsq(X, y, rcond=None)[0]).max() < 1e-8
    # held-out rows use the fitting rows' knots and scale
    assert np.array_equal(block_features(Z, Z[:7]), F[:7])
    assert block_features(rng.normal(size=(50, 4)), rng.normal(size=(9, 4))).shape == (9, 4 * 6)


def _two_modalities(n, rng):
    """Modality 1 (c, e) with c the cause shared with modality 2 (d, f); e and f modality noise."""
    c, e, f = rng.uniform(-1, 1, size=(3, n))
    d = 0.6 * c + 0.4 * (c ** 2 - 1 / 3) + 0.5 * rng.uniform(-1, 1, size=n)
    return np.column_stack([c, e + 0.6 * np.tanh(1.5 * c), d, f + 0.6 * np.sin(1.2 * d)])


def test_score_ignores_maps_inside_a_block_and_drops_when_a_cause_is_lost():
    rng = np.random.default_rng(2)
    Z_fit, Z = _two_modalities(4000, rng), _two_modalities(1000, rng)
    blocks = [(0, 2), (2, 4)]
    truth = crossmodal_score(Z_fit, Z, blocks)

    def remap(W):  # a rotation and a monotone warp inside modality 1
        r = np.array([[np.cos(0.6), -np.sin(0.6)], [np.sin(0.6), np.cos(0.6)]])
        out = W.copy()
        out[:, :2] = np.tanh(W[:, :2] @ r)
        return out

    def lose(W, keep):  # modality 1 keeps only part of the cause
        out = W.copy()
        out[:, 0] = keep * W[:, 0] + np.sqrt(1 - keep ** 2) * rng.uniform(-1, 1, size=len(W))
        out[:, 1] = W[:, 1] - 0.6 * np.tanh(1.5 * W[:, 0])  # the effect's own noise only
        return out

    assert truth > 0.6
    assert crossmodal_score(remap(Z_fit), remap(Z), blocks) == pytest.approx(truth, abs=0.02)
    assert crossmodal_score(lose(Z_fit, 0.5), lose(Z, 0.5), blocks) < truth - 0.15
    with pytest.raises(ValueError, match="two blocks"):
        crossmodal_score(Z_fit, Z, [(0, 4)])
