"""Weighted kappa against scikit-learn; Krippendorff's alpha against hand-computed and published values."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from causaltraits.report.agreement import coincidence_matrix, krippendorff_alpha, weighted_kappa

nan = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the worked example with missing
# values: 4 observers x 12 units, values 1..5.
K2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
])


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_kappa_matches_sklearn(weights, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 4, 400).astype(float)
    b = np.where(rng.random(400) < 0.6, a, rng.integers(1, 4, 400)).astype(float)
    ours = weighted_kappa(a, b, weights=weights)
    ref = cohen_kappa_score(a.astype(int), b.astype(int), weights=weights)
    assert ours == pytest.approx(ref, abs=1e-12)
    assert 0.2 < ours < 0.95  # the raters agree well above chance by construction


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_drops_missing_pairs(weights):
    rng = np.random.default_rng(5)
    a = rng.integers(1, 4, 300).astype(float)
    b = np.where(rng.random(300) < 0.5, a, rng.integers(1, 4, 300)).astype(float)
    a[rng.random(300) < 0.1] = np.nan
    b[rng.random(300) < 0.2] = np.nan
    ok = ~np.isnan(a) & ~np.isnan(b)
    ref = cohen_kappa_score(a[ok].astype(int), b[ok].astype(int), weights=weights)
    assert weighted_kappa(a, b, weights=weights) == pytest.approx(ref, abs=1e-12)


def test_weighted_kappa_one_category_and_unused_category():
    # a category one rater never uses still counts (as in sklearn)
    a, b = [1, 1, 2, 2, 3, 3], [1, 2, 2, 2, 2, 2]
    assert weighted_kappa(a, b, "linear") == pytest.approx(cohen_kappa_score(a, b, weights="linear"))
    # no variation at all: undefined, not "perfect"
    assert np.isnan(weighted_kappa([2, 2, 2], [2, 2, 2]))
    assert np.isnan(weighted_kappa([1, np.nan], [np.nan, 2]))
    with pytest.raises(ValueError):
        weighted_kappa([1, 2], [1, 2], weights="cubic")


def test_coincidence_matrix_by_hand():
    # units (1,1), (1,2), (2,2): each unit with m=2 values adds 1/(m-1)=1 per ordered pair
    values, o = coincidence_matrix(np.array([[1, 1, 2], [1, 2, 2]], dtype=float))
    assert values.tolist() == [1.0, 2.0]
    assert o.tolist() == [[2.0, 1.0], [1.0, 2.0]]
    # nominal: alpha = 1 - (n - 1) * sum(o delta) / sum(n_c n_k delta) = 1 - 5 * 2 / 18
    assert krippendorff_alpha([[1, 1, 2], [1, 2, 2]], "nominal") == pytest.approx(1 - 10 / 18)
    # interval with values 1, 2: delta = 1 off the diagonal, the same numbers
    assert krippendorff_alpha([[1, 1, 2], [1, 2, 2]], "interval") == pytest.approx(1 - 10 / 18)


def test_coincidence_matrix_of_the_2011_example():
    # Krippendorff (2011), the coincidence matrix of the worked example (values 1..5), by hand:
    # o11 = unit 1 (three 1s: 6 ordered pairs x 1/2) + unit 8 (three 1s among 4: 6 x 1/3) + unit 11 (2 x 1) = 7;
    # o44 = unit 7 (four 4s: 12 x 1/3) + unit 6 (one 4: 0) = 4; n = 40 pairable values.
    values, o = coincidence_matrix(K2011)
    assert values.tolist() == [1, 2, 3, 4, 5]
    expected = np.array([
        [7, 4 / 3, 1 / 3, 1 / 3, 0],
        [4 / 3, 10, 4 / 3, 1 / 3, 0],
        [1 / 3, 4 / 3, 8, 1 / 3, 0],
        [1 / 3, 1 / 3, 1 / 3, 4, 0],
        [0, 0, 0, 0, 3],
    ])
    np.testing.assert_allclose(o, expected, atol=1e-12)
    assert o.sum() == pytest.approx(40)  # n: pairable values (unit 12 has one value only)


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849),
                                              ("ratio", 0.797)])
def test_krippendorff_alpha_2011_example(level, published):
    assert krippendorff_alpha(K2011, level) == pytest.approx(published, abs=5e-4)


def test_alpha_two_raters_close_to_kappa_and_undefined_cases():
    rng = np.random.default_rng(3)
    a = rng.integers(1, 4, 2000).astype(float)
    b = np.where(rng.random(2000) < 0.7, a, rng.integers(1, 4, 2000)).astype(float)
    # for two raters and many units, interval alpha and quadratic kappa nearly coincide
    assert krippendorff_alpha(np.vstack([a, b]), "interval") == pytest.approx(
        weighted_kappa(a, b, "quadratic"), abs=0.01)
    assert np.isnan(krippendorff_alpha([[2, 2, 2], [2, 2, 2]]))
    assert np.isnan(krippendorff_alpha([[1, np.nan], [np.nan, 2]]))
    with pytest.raises(ValueError):
        krippendorff_alpha([[1, 2]], level="circular")


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff_package(level):
    kd = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(11)
    truth = rng.integers(1, 4, 250).astype(float)
    r = np.vstack([np.where(rng.random(250) < 0.7, truth, rng.integers(1, 4, 250)) for _ in range(3)]).astype(float)
    r[rng.random(r.shape) < 0.15] = np.nan
    ours = krippendorff_alpha(r, level)
    ref = kd.alpha(reliability_data=r, level_of_measurement=level)
    assert ours == pytest.approx(ref, abs=1e-10)
    assert krippendorff_alpha(K2011, level) == pytest.approx(
        kd.alpha(reliability_data=K2011, level_of_measurement=level), abs=1e-10)
