"""HSIC gamma test against a plain reference, causal-learn's lingam HSIC and KCI_UInd."""

import numpy as np
import pytest
from causallearn.search.FCMBased.lingam.hsic import hsic_test_gamma
from causallearn.utils.KCI.KCI import KCI_UInd
from scipy import stats
from scipy.spatial.distance import pdist, squareform
from threadpoolctl import threadpool_limits

from causaltraits.independence import make_test
from causaltraits.independence.hsic import HSIC


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matrices: one BLAS thread is faster, and far faster on a shared, loaded machine."""
    with threadpool_limits(limits=1):
        yield


def reference_hsic(x, y):
    """Gretton et al. (2008) gamma HSIC written out with explicit H matrices (O(n^3) but plain)."""
    n = len(x)
    h = np.eye(n) - np.full((n, n), 1.0 / n)
    grams = []
    for v in (x, y):
        v = (v - v.mean()) / v.std(ddof=1)
        d2 = pdist(v[:, None], "sqeuclidean")
        sigma2 = 0.5 * np.median(d2[d2 > 0])
        grams.append(np.exp(-squareform(d2) / (2 * sigma2)))
    k, l = grams
    kc, lc = h @ k @ h, h @ l @ h
    stat = np.trace(kc @ lc) / n  # n * HSIC_b
    off = ~np.eye(n, dtype=bool)
    mu_k, mu_l = k[off].mean(), l[off].mean()
    mean = (1 + mu_k * mu_l - mu_k - mu_l) / n
    b = (kc * lc / 6) ** 2
    var = 72 * (n - 4) * (n - 5) / (n * (n - 1) * (n - 2) * (n - 3)) * b[off].sum() / (n * (n - 1))
    shape, scale = mean**2 / var, n * var / mean
    return stat, stats.gamma.sf(stat, shape, scale=scale)


def _table(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return np.column_stack([x, 0.4 * x**2 + rng.normal(size=n), 5 * rng.normal(size=n) + 3, rng.exponential(size=n)])


def test_matches_reference():
    data = _table(300, seed=1)
    t = HSIC(data)
    for a, b in [(0, 1), (0, 2), (1, 3), (2, 3)]:
        stat, p = reference_hsic(data[:, a], data[:, b])
        r = t.test(a, b)
        assert r.statistic == pytest.approx(stat, rel=1e-9)
        assert r.pvalue == pytest.approx(p, rel=1e-6, abs=1e-14)
    assert t(0, 1) < 0.01  # x and x^2 + noise
    assert {v[0] for v in t._cache._items.values()} == {"G"}  # n = 300: low-rank factors in use


def test_matches_lingam_hsic_up_to_100_rows():
    # lingam's hsic_test_gamma takes the median width from the first 100 rows: equal for n <= 100
    data = _table(100, seed=2)
    t = make_test("hsic", data)  # n = 100: dense Gram matrices
    for a, b in [(0, 1), (0, 3), (1, 2)]:
        stat, p = hsic_test_gamma(data[:, a], data[:, b])
        r = t.test(a, b)
        assert r.statistic == pytest.approx(stat, rel=1e-8)
        assert r.pvalue == pytest.approx(p, rel=1e-6)


def test_same_kernels_as_kci_uind_but_different_null_moments():
    data = _table(200, seed=3)
    t = HSIC(data)
    for a, b in [(0, 1), (0, 2)]:
        sig = [np.sqrt(0.5 * np.median(pdist(stats.zscore(data[:, [c]], ddof=1), "sqeuclidean"))) for c in (a, b)]
        p_kci, s_kci = KCI_UInd(est_width="manual", kwidthx=sig[0], kwidthy=sig[1]).compute_pvalue(data[:, [a]], data[:, [b]])
        r = t.test(a, b)
        assert s_kci == pytest.approx(200 * r.statistic, rel=1e-9)  # same Gram matrices
        # different moment formulas: close, not equal, and the same decision at 5 %
        assert abs(np.log(r.pvalue) - np.log(p_kci)) < 0.5
        assert (r.pvalue < 0.05) == (p_kci < 0.05)


def test_unconditional_only_and_degenerate_cases():
    data = _table(120, seed=4)
    t = HSIC(data)
    with pytest.raises(ValueError, match="unconditional"):
        t(0, 1, (2,))
    data[:, 3] = 1.0
    r = HSIC(data).test(0, 3)
    assert (r.statistic, r.pvalue) == (0.0, 1.0)
    holes = _table(150, seed=5)
    holes[:30, 1] = np.nan
    r = HSIC(holes).test(0, 1)
    assert r.n == 120
    assert r.pvalue == pytest.approx(reference_hsic(holes[30:, 0], holes[30:, 1])[1], rel=1e-6)


def test_standardisation_makes_units_irrelevant():
    data = _table(150, seed=6)
    scaled = data.copy()
    scaled[:, 2] = scaled[:, 2] * 100 + 170  # e.g. metres -> centimetres
    assert HSIC(scaled)(0, 2) == pytest.approx(HSIC(data)(0, 2), rel=1e-9)


def test_fast_exact_median_of_squared_distances():
    from causaltraits.independence import kernels as kn

    rng = np.random.default_rng(8)
    columns = [rng.normal(size=57), rng.integers(0, 4, 40).astype(float), rng.choice([1, 1.5, 2, 2.5, 3], 64),
               np.round(rng.normal(size=33), 1), np.array([2.0, 2.0, 5.0])]
    for v in columns:
        d2 = pdist(v[:, None], "sqeuclidean")
        assert kn.median_distance(v[:, None], squared=True) == np.median(d2[d2 > 0])  # bit-exact
        d1 = pdist(v[:, None])
        assert kn.median_distance(v[:, None]) == np.median(d1[d1 > 0])  # distances too
    assert np.isnan(kn.median_distance(np.ones((5, 1)), squared=True))
    assert np.isnan(kn.median_distance(np.ones((5, 1))))


def _trait_table(n, seed):
    """Trait-like 5-point scores, a 7-level code, a rounded and a continuous attribute."""
    rng = np.random.default_rng(seed)
    league = rng.integers(0, 7, n).astype(float)
    height = 175 + 8 * (league == 3) + rng.normal(0, 6, n)
    trait = np.clip(np.round(3 + 0.1 * (height - 175) + rng.normal(size=n)), 1, 5)
    return np.column_stack([trait, rng.integers(1, 6, n).astype(float), league, np.round(height), height])


@pytest.mark.parametrize("factored", [False, True])
def test_few_distinct_values_match_reference(factored, monkeypatch):
    from causaltraits.independence import kernels as kn

    # the continuous column (260 values): exact pass over value pairs, or its low-rank factor
    monkeypatch.setattr(kn, "FACTOR_MIN_DISTINCT", 40 if factored else 10**9)
    data = _trait_table(260, seed=41)
    data[:10, 4] = np.nan
    t = HSIC(data)
    for a, b in [(0, 4), (0, 3), (0, 1), (2, 4), (1, 2)]:
        ok = ~np.isnan(data[:, a]) & ~np.isnan(data[:, b])
        stat, p = reference_hsic(data[ok, a], data[ok, b])
        r = t.test(a, b)
        assert r.statistic == pytest.approx(stat, rel=1e-9)
        assert r.pvalue == pytest.approx(p, rel=1e-6, abs=1e-14)
    assert len(t._cache) == 0  # computed on the contingency tables, no per-variable kernel
    assert t(0, 4) < 1e-3 and t(0, 1) > 0.01


def test_few_distinct_values_equal_the_general_path(monkeypatch):
    from causaltraits.independence import kernels as kn

    data = _trait_table(400, seed=42)
    kinds = ["continuous", "continuous", "categorical", "continuous", "continuous"]
    pairs = [(0, 4), (0, 2), (2, 4), (2, 1), (0, 3)]
    fast = [HSIC(data, kinds=kinds).test(a, b) for a, b in pairs]  # delta kernel on column 2
    monkeypatch.setattr(kn, "DISTINCT_MAX", 0)
    slow = [HSIC(data, kinds=kinds).test(a, b) for a, b in pairs]
    for f, s in zip(fast, slow):
        assert f.statistic == pytest.approx(s.statistic, rel=1e-9)
        assert f.pvalue == pytest.approx(s.pvalue, rel=1e-7, abs=1e-14)


@pytest.mark.parametrize("factored", [False, True])
def test_pair_moments_against_dense_matrices(factored, monkeypatch):
    from causaltraits.independence import kernels as kn

    calls = []
    factor = kn.lowrank_factor
    monkeypatch.setattr(kn, "lowrank_factor", lambda *a, **k: calls.append(1) or factor(*a, **k))
    # exact pass over the value pairs, or the low-rank factor of the many-valued side
    monkeypatch.setattr(kn, "FACTOR_MIN_DISTINCT", 40 if factored else 10**9)
    rng = np.random.default_rng(43)
    n = 150
    x, codes = rng.normal(size=n), rng.integers(0, 4, n).astype(float)
    scores = np.round(x + rng.normal(size=n))
    for u, v, tu, tv, du, dv in [(x, scores, 2.0, 0.7, False, False), (scores, codes, 1.3, 0.0, False, True),
                                 (codes, x, 0.0, 3.0, True, False)]:
        k = kn.delta_gram(u) if du else kn.gaussian_gram(u[:, None], tu)
        l = kn.delta_gram(v) if dv else kn.gaussian_gram(v[:, None], tv)
        kc, lc = kn.center_gram(k), kn.center_gram(l)
        off = ~np.eye(n, dtype=bool)
        pm = kn.pair_moments(u, v, tu, tv, du, dv)
        expected = dict(trace_product=np.sum(kc * lc), mean_offdiag_k=k[off].mean(), mean_offdiag_l=l[off].mean(),
                        trace_k=np.trace(kc), trace_l=np.trace(lc), fro2_k=np.sum(kc**2), fro2_l=np.sum(lc**2),
                        hadamard_sq=np.sum((kc * lc) ** 2), hadamard_sq_diag=np.sum((np.diag(kc) * np.diag(lc)) ** 2))
        assert pm.n == n
        for name, value in expected.items():
            assert getattr(pm, name) == pytest.approx(value, rel=1e-11, abs=1e-11), name
    assert len(calls) == (2 if factored else 0)  # the continuous x in the first and third case
