"""RCIT / RCoT: null approximations, seeding, symmetry, deletion, degenerate inputs, causal-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from causaltraits.independence import make_test
from causaltraits.independence.rcit import hbe_sf, lpb4_sf, median_width, weighted_chi2_sf

TESTS = ("rcit", "rcot")


@pytest.fixture(scope="module")
def momentchi2():
    """momentchi2 (causal-learn's dependency) still calls the removed ``np.math``; patch it."""
    mc = pytest.importorskip("momentchi2")
    if not hasattr(np, "math"):
        np.math = math  # type: ignore[attr-defined]
    return mc


def test_lpb4_and_hbe_match_momentchi2(momentchi2):
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = rng.exponential(size=25) ** 2
        for q in (0.5 * w.sum(), w.sum(), 2 * w.sum(), 4 * w.sum()):
            assert lpb4_sf(w, q) == pytest.approx(1 - momentchi2.lpb4(w, q), abs=1e-7)
            assert hbe_sf(w, q) == pytest.approx(1 - momentchi2.hbe(w, q), abs=1e-9)


def test_weighted_chi2_single_weight_is_exact():
    # 3 * chi2_1: every approximation matching three cumulants is exact
    assert weighted_chi2_sf(np.array([3.0]), 6.0) == pytest.approx(stats.chi2.sf(2.0, 1), rel=1e-9)
    assert weighted_chi2_sf(np.array([]), 1.0) == 1.0


def test_lpb4_tail_against_monte_carlo():
    rng = np.random.default_rng(1)
    w = np.array([2.0, 1.0, 0.5, 0.3, 0.2, 0.1])
    draws = (rng.chisquare(1, size=(200_000, w.size)) * w).sum(axis=1)
    for q in np.quantile(draws, [0.5, 0.9, 0.99]):
        assert lpb4_sf(w, q) == pytest.approx(np.mean(draws > q), abs=0.003)


def test_median_width_uses_a_random_subsample_of_the_whole_column():
    # sorted column: the first 500 rows are all equal (trap 9), the whole column is not
    values = np.sort(np.r_[np.zeros(3000), np.arange(1.0, 1001.0)])
    assert median_width(values, np.random.default_rng(0)) > 0.9
    assert median_width(values, np.random.default_rng(0)) == median_width(values, np.random.default_rng(0))


@pytest.mark.parametrize("name", TESTS)
def test_same_seed_same_pvalue_in_any_call_order(chain_and_collider, name):
    data = chain_and_collider(400, 0)
    a = make_test(name, data, seed=11)
    first = a.test(0, 1, (2,))
    a.test(3, 4, (5,))
    a.test(0, 5)
    b = make_test(name, data, seed=11)
    b.test(3, 4)
    assert b.test(1, 0, (2,)) == first
    assert a.test(0, 1, (2,)) == first
    assert make_test(name, data, seed=12)(0, 1, (2,)) != first.pvalue
    assert first.n == 400 and first.z == (2,)


@pytest.mark.parametrize("name", TESTS)
def test_symmetric(chain_and_collider, name):
    t = make_test(name, chain_and_collider(300, 1), seed=3)
    for x, y, z in ((0, 1, (2,)), (3, 4, (5,)), (0, 5, ()), (1, 3, (2, 5))):
        assert t(x, y, z) == t(y, x, z)


@pytest.mark.parametrize("name", TESTS)
def test_testwise_deletion_equals_complete_case_table(chain_and_collider, name):
    data = chain_and_collider(400, 2)
    holes = data.copy()
    rng = np.random.default_rng(0)
    holes[rng.choice(400, 40, replace=False), 0] = np.nan
    holes[rng.choice(400, 30, replace=False), 5] = np.nan  # not in the tested set: ignored
    ok = ~np.isnan(holes[:, 0])
    r = make_test(name, holes, seed=5).test(0, 1, (2,))
    assert r.n == ok.sum()
    assert r.pvalue == make_test(name, data[ok], seed=5)(0, 1, (2,))


@pytest.mark.parametrize("name", TESTS)
def test_chain_vs_collider(chain_and_collider, name):
    t = make_test(name, chain_and_collider(1000, 3), seed=0)
    assert t(0, 1) < 1e-3  # x and y dependent
    assert t(0, 1, (2,)) > 0.01  # separated by the middle of the chain
    assert t(3, 4) > 0.01  # collider parents independent
    assert t(3, 4, (5,)) < 1e-3  # dependent given the collider


@pytest.mark.parametrize("name", TESTS)
def test_power_on_nonlinear_dependence(name):
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, size=500)
    y = x**2 + 0.5 * rng.normal(size=500)  # uncorrelated, dependent
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.15
    assert make_test(name, np.column_stack((x, y)), seed=1)(0, 1) < 1e-4


@pytest.mark.parametrize("name", TESTS)
def test_conditioning_on_a_copy_of_x_is_not_dependence(name):
    rng = np.random.default_rng(5)
    x = rng.normal(size=600)
    y = np.sin(x) + 0.5 * rng.normal(size=600)
    data = np.column_stack((x, y, x.copy(), 2 * x + 1))
    t = make_test(name, data, seed=0)
    assert t(0, 1) < 1e-4
    assert t(0, 1, (2,)) == 1.0  # x given a copy of itself carries nothing more about y
    assert t(1, 2, (3,)) == 1.0  # an affine copy as well


@pytest.mark.parametrize("name", TESTS)
def test_constant_columns(name):
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(2, 300))
    data = np.column_stack((x, y, np.full(300, 4.0), x + y))
    t = make_test(name, data, seed=0)
    r = t.test(0, 2)
    assert (r.statistic, r.pvalue) == (0.0, 1.0)  # a constant is independent of everything
    assert t(0, 2, (1,)) == 1.0
    p = t(0, 1, (2,))  # constant z is dropped: an unconditional test
    assert 0.0 < p <= 1.0
    assert t(0, 1, (3, 2)) < 1e-3  # explaining-away through x + y, the constant ignored


@pytest.mark.parametrize("name", TESTS)
def test_sorted_table_with_constant_head_does_not_fail(name):
    # causal-learn's RCIT takes widths from the first 500 rows: LinAlgError / p = 0 here
    rng = np.random.default_rng(7)
    n = 1500
    league = np.r_[np.zeros(600), np.ones(n - 600)]
    z = np.where(league == 0, 0.0, rng.normal(size=n))
    x = z + rng.normal(size=n)
    y = z + rng.normal(size=n)
    p = make_test(name, np.column_stack((x, y, z, league)), seed=0)(0, 1, (2, 3))
    assert 0.01 < p <= 1.0


@pytest.mark.parametrize("name", TESTS)
def test_calibration_smoke(name):
    """200 conditional nulls at n = 300: rejection rate at 0.05 within a loose binomial band."""
    pvalues = []
    for rep in range(200):
        rng = np.random.default_rng(1000 + rep)
        z = rng.normal(size=300)
        x = 0.8 * z + rng.normal(size=300)
        y = -0.6 * z + rng.standard_t(5, size=300)
        pvalues.append(make_test(name, np.column_stack((x, y, z)), seed=rep)(0, 1, (2,)))
    rate = np.mean(np.array(pvalues) < 0.05)
    assert 0.015 <= rate <= 0.095, rate


def test_same_decisions_as_causallearn_rcit(chain_and_collider, momentchi2):
    """Clear dependence and independence: the same decision as causal-learn's RCIT."""
    from causallearn.utils.cit import CIT

    np.random.seed(0)  # causal-learn draws from the global state
    data = chain_and_collider(800, 8)
    ours = make_test("rcit", data, seed=0)
    theirs = CIT(data, "rcit")
    for x, y, z, dependent in ((0, 1, (), True), (0, 1, (2,), False), (3, 4, (), False), (3, 4, (5,), True)):
        assert (ours(x, y, z) < 0.01) == dependent == (theirs(x, y, list(z)) < 0.01)


@pytest.mark.slow
def test_null_pvalues_distributed_like_causallearn_rcit(momentchi2):
    """On conditional nulls our p-values and causal-learn's (unseeded) have the same law."""
    from causallearn.utils.cit import CIT

    np.random.seed(0)
    mine, ref = [], []
    for rep in range(40):
        rng = np.random.default_rng(2000 + rep)
        z = rng.normal(size=300)
        d = np.column_stack((np.tanh(z) + rng.normal(size=300), z + rng.normal(size=300), z))
        mine.append(make_test("rcit", d, seed=rep)(0, 1, (2,)))
        ref.append(CIT(d, "rcit")(0, 1, [2]))
    assert stats.ks_2samp(mine, ref).pvalue > 0.01
    assert stats.kstest(mine, "uniform").pvalue > 0.01
