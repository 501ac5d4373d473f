"""The mixed-data likelihood-ratio test against statsmodels OLS nested-model LR tests."""

import numpy as np
import pytest
import statsmodels.api as sm

from causaltraits.independence import available_tests, make_test


def _ols_lr(y, full, restricted):
    f = sm.OLS(y, sm.add_constant(full, has_constant="add")).fit()
    r = sm.OLS(y, sm.add_constant(restricted, has_constant="add")).fit() if restricted.shape[1] else sm.OLS(
        y, np.ones((len(y), 1))).fit()
    return f.compare_lr_test(r)  # (lr, p, df)


@pytest.fixture(scope="module")
def numeric():
    rng = np.random.default_rng(1)
    n = 300
    z1 = rng.normal(size=n)
    z2 = rng.normal(size=n)
    x = 0.6 * z1 + rng.normal(size=n)
    y = 0.5 * z1 - 0.4 * z2 + 0.15 * x + rng.normal(size=n)
    return np.column_stack([x, y, z1, z2])


def test_registered():
    assert "mixed" in available_tests()


@pytest.mark.parametrize("z", [(), (2,), (2, 3)])
def test_numeric_matches_statsmodels_lr(numeric, z):
    t = make_test("mixed", numeric, kinds=["continuous"] * 4)
    r = t.test(0, 1, z)
    lr, p, df = _ols_lr(numeric[:, 1], numeric[:, [0, *z]], numeric[:, list(z)])
    assert r.statistic == pytest.approx(lr, rel=1e-8)
    assert r.pvalue == pytest.approx(p, rel=1e-7, abs=1e-14)
    assert r.dof == df == 1
    # symmetric
    assert t.test(1, 0, z).pvalue == r.pvalue


def test_categorical_x_matches_statsmodels_dummies():
    rng = np.random.default_rng(2)
    n = 400
    league = rng.integers(0, 4, size=n).astype(float)
    z = rng.normal(size=n) + 0.3 * league
    y = z + np.array([0.0, 0.3, -0.2, 0.1])[league.astype(int)] + rng.normal(size=n)
    data = np.column_stack([league, y, z])
    t = make_test("mixed", data, kinds=["categorical", "continuous", "continuous"])
    r = t.test(0, 1, (2,))
    dummies = (league[:, None] == np.arange(1, 4)[None, :]).astype(float)
    lr, p, df = _ols_lr(y, np.column_stack([dummies, z]), z[:, None])
    assert r.dof == df == 3
    assert r.statistic == pytest.approx(lr, rel=1e-8)
    assert r.pvalue == pytest.approx(p, rel=1e-7, abs=1e-14)
    # codes used as numbers would give 1 degree of freedom: the test must not do that
    num = make_test("mixed", data, kinds=["continuous"] * 3).test(0, 1, (2,))
    assert num.dof == 1 and num.statistic != pytest.approx(r.statistic)


def test_categorical_conditioning_matches_statsmodels():
    rng = np.random.default_rng(3)
    n = 500
    g = rng.integers(0, 3, size=n).astype(float)
    x = np.array([0.0, 1.0, -1.0])[g.astype(int)] + rng.normal(size=n)
    y = np.array([0.0, -1.0, 1.0])[g.astype(int)] + rng.normal(size=n)
    data = np.column_stack([x, y, g])
    t = make_test("mixed", data, kinds=["continuous", "continuous", "categorical"])
    marginal = t.test(0, 1)
    assert marginal.pvalue < 1e-6  # confounded by g
    r = t.test(0, 1, (2,))
    d = (g[:, None] == np.array([1.0, 2.0])[None, :]).astype(float)
    lr, p, df = _ols_lr(y, np.column_stack([x, d]), d)
    assert r.statistic == pytest.approx(lr, rel=1e-8)
    assert r.pvalue == pytest.approx(p, rel=1e-7)
    assert r.pvalue > 0.01


def test_two_categoricals_dof_and_independence():
    rng = np.random.default_rng(4)
    n = 600
    a = rng.integers(0, 3, size=n).astype(float)
    b = rng.integers(0, 4, size=n).astype(float)
    c = np.where(rng.random(n) < 0.25, a, rng.integers(0, 3, size=n)).astype(float)
    data = np.column_stack([a, b, c])
    t = make_test("mixed", data, kinds=["categorical"] * 3)
    assert t.test(0, 1).dof == 6
    assert t.test(0, 2).pvalue < 1e-6
    # n * sum(rho^2) over the dummies' canonical correlations is Pearson's X^2 exactly; the LR
    # statistic -n * sum(log(1 - rho^2)) is close to it when the dependence is moderate
    from scipy.stats import chi2_contingency

    table = np.zeros((3, 3))
    np.add.at(table, (a.astype(int), c.astype(int)), 1)
    x2 = chi2_contingency(table, correction=False)[0]
    assert t.test(0, 2).statistic == pytest.approx(x2, rel=0.1)


def test_missing_values_testwise_deletion(numeric):
    data = numeric.copy()
    data[:50, 3] = np.nan
    t = make_test("mixed", data, kinds=["continuous"] * 4)
    r = t.test(0, 1, (2, 3))
    assert r.n == 250
    lr, p, _ = _ols_lr(data[50:, 1], data[50:, [0, 2, 3]], data[50:, [2, 3]])
    assert r.pvalue == pytest.approx(p, rel=1e-7)
    assert t.test(0, 1, (2,)).n == 300


def test_deterministic_function_of_z_gives_p_one():
    rng = np.random.default_rng(5)
    g = rng.integers(0, 3, size=200).astype(float)
    x = g.copy()  # x is a copy of the categorical z
    y = rng.normal(size=200)
    t = make_test("mixed", np.column_stack([x, y, g]), kinds=["categorical", "continuous", "categorical"])
    assert t.test(0, 1, (2,)).pvalue == 1.0


def test_bartlett_shrinks_statistic(numeric):
    plain = make_test("mixed", numeric).test(0, 1, (2, 3))
    bart = make_test("mixed", numeric, bartlett=True).test(0, 1, (2, 3))
    n = numeric.shape[0]
    assert bart.statistic == pytest.approx(plain.statistic * (n - 1 - 2 - 1.5) / n)
    assert bart.pvalue > plain.pvalue


def test_null_calibration():
    rng = np.random.default_rng(6)
    pv = []
    for _ in range(200):
        g = rng.integers(0, 3, size=150).astype(float)
        x = g + rng.normal(size=150)
        y = np.array([0.0, 2.0, 1.0])[g.astype(int)] + rng.normal(size=150)
        t = make_test("mixed", np.column_stack([x, y, g]), kinds=["continuous", "continuous", "categorical"])
        pv.append(t(0, 1, (2,)))
    rate = np.mean(np.array(pv) < 0.05)
    assert 0.01 <= rate <= 0.10
