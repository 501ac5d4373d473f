"""Chi-square and G-square against causal-learn, validation of discrete columns, degenerate cases."""

import numpy as np
import pytest
from causallearn.utils.cit import CIT
from scipy import stats
from threadpoolctl import threadpool_limits

from causaltraits.errors import ParameterError
from causaltraits.independence import make_test


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matrices: one BLAS thread is faster, and far faster on a shared, loaded machine."""
    with threadpool_limits(limits=1):
        yield


def _discrete_table(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = np.where(rng.random(n) < 0.3, a, rng.integers(0, 4, n))  # depends on a
    trait = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0], n)  # aggregated half-step ratings
    s = rng.integers(0, 5, n)
    s[:40] = 9  # a rare level: empty rows/cols inside strata
    t = rng.integers(0, 2, n)
    return np.column_stack([a, b, trait, s, t]).astype(float)


CASES = [(0, 1, ()), (0, 2, ()), (0, 2, (3,)), (1, 2, (3, 4)), (0, 4, (1, 2, 3)), (2, 3, (0, 1, 4))]


@pytest.mark.parametrize("method", ["chisq", "gsq"])
def test_matches_causallearn(method):
    data = _discrete_table()
    ref = CIT(data, method)
    ours = make_test(method, data)
    for x, y, z in CASES:
        expected = ref(x, y, z)
        got = ours(x, y, z)
        assert got == pytest.approx(expected, rel=1e-8, abs=1e-12), (x, y, z)
        # symmetric in x and y
        assert ours(y, x, z) == got


def test_statistic_and_dof_unconditional_match_scipy():
    data = _discrete_table(seed=1)
    table = np.zeros((3, 4))
    np.add.at(table, (data[:, 0].astype(int), data[:, 1].astype(int)), 1)
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    r = make_test("chisq", data).test(0, 1)
    assert r.statistic == pytest.approx(chi2, rel=1e-10)
    assert r.pvalue == pytest.approx(p, rel=1e-8, abs=1e-300)
    assert r.dof == dof
    g, pg, _, _ = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    rg = make_test("gsq", data).test(0, 1)
    assert rg.statistic == pytest.approx(g, rel=1e-10)


def test_dof_drops_empty_rows_per_stratum():
    # stratum s=0 has x in {0,1}, y in {0,1}; stratum s=1 has x in {0,1,2}, y in {0,1,2}
    x = np.array([0, 1, 0, 1, 0, 1, 2, 0, 1, 2, 2, 0])
    y = np.array([0, 1, 1, 0, 0, 1, 2, 2, 0, 1, 0, 1])
    s = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    data = np.column_stack([x, y, s]).astype(float)
    r = make_test("chisq", data).test(0, 1, (2,))
    assert r.dof == 1 * 1 + 2 * 2
    assert r.pvalue == pytest.approx(CIT(data, "chisq")(0, 1, [2]), rel=1e-10)


def test_constant_column_gives_p_one():
    data = _discrete_table(n=500)
    data[:, 4] = 1.0
    for method in ("chisq", "gsq"):
        r = make_test(method, data).test(0, 4, (3,))
        assert (r.statistic, r.pvalue, r.dof) == (0.0, 1.0, 0.0)
        assert CIT(data, method)(0, 4, [3]) == 1  # causal-learn agrees here


def test_refuses_continuous_and_many_level_columns():
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.integers(0, 3, 200), rng.normal(size=200), np.arange(200) % 25, rng.integers(0, 2, 200)])
    t = make_test("chisq", data, names=["a", "height", "code", "b"])
    with pytest.raises(ParameterError, match=r"column 'height' has 200 distinct values"):
        t(0, 1)
    with pytest.raises(ParameterError, match=r"column 'code' has 25 distinct values"):
        t(0, 2)
    assert 0 <= t(0, 3) <= 1  # the discrete pair still works on the same object
    assert make_test("gsq", data, max_levels=30)(0, 2) >= 0  # limit is configurable
    thirds = np.column_stack([rng.integers(0, 3, 90), np.repeat([1.0, 4 / 3, 5 / 3], 30)])
    with pytest.raises(ParameterError, match="not all integers or half-steps"):
        make_test("chisq", thirds)(0, 1)


def test_missing_values_use_testwise_deletion():
    data = _discrete_table(n=2000, seed=3)
    holes = data.copy()
    holes[:100, 3] = np.nan
    r = make_test("gsq", holes).test(0, 2, (3,))
    assert r.n == 1900
    ref = CIT(data[100:], "gsq")(0, 2, [3])
    assert r.pvalue == pytest.approx(ref, rel=1e-8)
    # the unconditional test on the same object still uses all rows
    assert make_test("gsq", holes).test(0, 2).n == 2000
