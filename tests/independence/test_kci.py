"""KCI against causal-learn's CIT(data, 'kci') (defaults: empirical widths, gamma approximation)."""

import numpy as np
import pytest
from causallearn.utils.cit import CIT
from threadpoolctl import threadpool_limits

from causaltraits.independence import make_test
from causaltraits.independence.kci import KCI


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matrices: one BLAS thread is faster, and far faster on a shared, loaded machine."""
    with threadpool_limits(limits=1):
        yield


def _table(n, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    w = rng.normal(size=n)
    return np.column_stack([
        z + 0.5 * rng.normal(size=n),          # 0: child of z
        np.sin(z) + 0.5 * rng.normal(size=n),  # 1: child of z (0 _||_ 1 | 2)
        z,                                     # 2
        w,                                     # 3
        z * w + rng.normal(size=n),            # 4: depends on z and w jointly
    ])


CASES = [(0, 1, ()), (0, 3, ()), (0, 1, (2,)), (0, 1, (2, 3)), (1, 4, (2,)), (3, 4, (0, 2))]


@pytest.mark.parametrize("n", [150, pytest.param(250, marks=pytest.mark.slow), pytest.param(600, marks=pytest.mark.slow), pytest.param(1000, marks=pytest.mark.slow)])
def test_matches_causallearn_default(n):
    data = _table(n, seed=n)
    ref = CIT(data, "kci")
    ours = make_test("kci", data)
    for x, y, z in CASES:
        expected = ref(x, y, z)
        got = ours(x, y, z)
        # causal-learn's 1 - cdf rounds tiny p-values to 0; ours keeps them (gamma.sf)
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-14), (x, y, z)


def test_matches_causallearn_median_width():
    data = _table(250, seed=7)
    ref = CIT(data, "kci", est_width="median")
    ours = make_test("kci", data, width="median")
    for x, y, z in [(0, 3, ()), (0, 1, (2,)), (1, 4, (2, 3))]:
        assert ours(x, y, z) == pytest.approx(ref(x, y, z), rel=1e-6, abs=1e-14)


def test_decisions_and_statistic():
    data = _table(250, seed=11)
    t = KCI(data)
    assert t(0, 1) < 1e-6            # marginally dependent through z
    assert t(0, 1, (2,)) > 0.05      # independent given z
    assert t(3, 4, (0, 2)) < 1e-3    # w and z*w dependent given z
    r = t.test(1, 0, (2,))
    assert (r.x, r.y, r.z, r.n) == (0, 1, (2,), 250)
    assert r.statistic > 0


def test_kernels_cached_across_pairs():
    data = _table(200, seed=3)
    t = KCI(data)
    t(0, 1, (2,))
    before = len(t._cache)
    t(0, 3, (2,))  # reuses Rz of z and the reduced kernel of x=0 given z
    assert len(t._cache) == before + 1
    p_fresh = KCI(data)(0, 3, (2,))
    assert t(0, 3, (2,)) == p_fresh  # cached pieces give the same p-value


def test_constant_and_missing():
    data = _table(200, seed=5)
    data[:, 3] = 2.0
    t = KCI(data)
    r = t.test(0, 3)
    assert (r.statistic, r.pvalue) == (0.0, 1.0)
    assert t.test(0, 3, (2,)).pvalue == 1.0
    # a constant conditioning column reduces to the unconditional kernel: finite p-value
    assert 0.0 <= t(0, 1, (3,)) <= 1.0
    holes = _table(220, seed=6)
    holes[:20, 2] = np.nan
    r = make_test("kci", holes).test(0, 1, (2,))
    assert r.n == 200
    assert r.pvalue == pytest.approx(CIT(holes[20:], "kci")(0, 1, [2]), rel=1e-6)


def test_delta_kernel_for_categorical():
    rng = np.random.default_rng(2)
    n = 200
    league = rng.integers(0, 4, n).astype(float)
    y = np.array([0.0, 3.0, -1.0, 2.0])[league.astype(int)] + rng.normal(size=n)
    data = np.column_stack([league, y, rng.normal(size=n)])
    kinds = ["categorical", "continuous", "continuous"]
    delta = KCI(data, kinds=kinds)
    gauss = KCI(data, kinds=kinds, categorical_kernel="gaussian")
    assert delta.params["categorical_kernel"] == "delta"
    assert delta(0, 1) < 1e-6 and delta(0, 2) > 0.01
    # the Gaussian option is causal-learn's treatment of codes as numbers
    assert gauss(0, 2) == pytest.approx(CIT(data, "kci")(0, 2), rel=1e-6)


def test_lowrank_path_matches_causallearn():
    # n = 300 with the low-rank threshold lowered: every kernel on <= 2 dimensions is factored
    data = _table(300, seed=21)
    ref = CIT(data, "kci")
    t = KCI(data)
    t.lowrank_min_n = 0
    for x, y, z in [(0, 1, (2,)), (0, 4, (2,)), (0, 1, (2, 3)), (0, 3, ()), (1, 4, ())]:
        assert t(x, y, z) == pytest.approx(ref(x, y, z), rel=1e-6, abs=1e-14), (x, y, z)
    conditional = {v[0] for k, v in t._cache._items.items() if k[0] == "r"}
    unconditional = {v[0] for k, v in t._cache._items.items() if k[0] == "u"}
    assert conditional == {"G", "K"}  # factored and dense pieces (x given two Z) both exercised
    assert unconditional == {"G"}


# ---------------------------------------------------------------- kernels.py building blocks
def test_kernel_building_blocks():
    from causallearn.utils.KCI.GaussianKernel import GaussianKernel
    from causallearn.utils.KCI.Kernel import Kernel
    from scipy.spatial.distance import pdist

    from causaltraits.independence import kernels as kn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    ref = GaussianKernel(0.7)
    k = kn.gaussian_gram(x, ref.width)
    np.testing.assert_allclose(k, ref.kernel(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(kn.center_gram(k), Kernel.center_kernel_matrix(k), atol=1e-13)
    np.testing.assert_allclose(kn.sq_distances(x), np.square(np.linalg.norm(x[:, None] - x[None], axis=2)), atol=1e-12)
    d = pdist(x)
    assert kn.median_distance(x) == pytest.approx(np.median(d), rel=1e-12)
    assert kn.median_distance(x, squared=True) == pytest.approx(np.median(d**2), rel=1e-12)
    codes = rng.integers(0, 3, 50).astype(float)
    np.testing.assert_array_equal(kn.delta_gram(codes), (codes[:, None] == codes[None]).astype(float))
    # low-rank factor: every entry of K - F F' within the tolerance, rank far below n
    z = rng.normal(size=(600, 1))
    f = kn.lowrank_factor(z, 2.0, tol=1e-12)
    assert f.shape[1] < 80
    assert np.abs(kn.gaussian_gram(z, 2.0) - f @ f.T).max() < 1e-11
    # product with a delta kernel, and the rank cap returning None
    g = kn.lowrank_factor(z, 2.0, codes=rng.integers(0, 2, 600), tol=1e-12)
    assert g is not None
    assert kn.lowrank_factor(rng.normal(size=(300, 4)), 4.0, max_rank=20) is None


# ---------------------------------------------------------------- few distinct values (contingency path)
def _trait_table(n, seed):
    """Trait-like 5-point scores, a 7-level code, a rounded and a continuous attribute."""
    rng = np.random.default_rng(seed)
    league = rng.integers(0, 7, n).astype(float)
    height = 175 + 8 * (league == 3) + rng.normal(0, 6, n)
    trait = np.clip(np.round(3 + 0.1 * (height - 175) + rng.normal(size=n)), 1, 5)
    other = rng.integers(1, 6, n).astype(float)
    return np.column_stack([trait, other, league, np.round(height), rng.normal(size=n), height])


@pytest.mark.parametrize("factored", [False, True])
@pytest.mark.parametrize("width", ["empirical", "median"])
def test_few_distinct_values_match_causallearn(width, factored, monkeypatch):
    from causaltraits.independence import kernels as kn

    # the continuous columns (240 values): exact pass over value pairs, or their low-rank factors
    monkeypatch.setattr(kn, "FACTOR_MIN_DISTINCT", 40 if factored else 10**9)
    data = _trait_table(240, seed=31)
    ref = CIT(data, "kci", est_width=width)
    t = KCI(data, width=width)
    for x, y in [(0, 5), (0, 3), (0, 1), (0, 2), (4, 1), (2, 5)]:
        assert t(x, y) == pytest.approx(ref(x, y), rel=1e-6, abs=1e-14), (x, y)
    assert len(t._cache) == 0  # no per-variable n x n kernel was built
    assert t(0, 5) < 1e-3 and t(0, 1) > 0.01
    data[:12, 5] = np.nan  # test-wise deletion: the table is built on the pair's rows
    r = KCI(data, width=width).test(0, 5)
    assert r.n == 228
    assert r.pvalue == pytest.approx(CIT(data[12:], "kci", est_width=width)(0, 5), rel=1e-6, abs=1e-14)


def test_few_distinct_values_equal_the_general_path(monkeypatch):
    from causaltraits.independence import kernels as kn

    data = _trait_table(400, seed=32)
    kinds = ["continuous", "continuous", "categorical", "continuous", "continuous", "continuous"]
    pairs = [(0, 5), (0, 2), (2, 5), (2, 1), (0, 3)]
    fast = [KCI(data, kinds=kinds).test(x, y) for x, y in pairs]  # delta kernel on column 2
    monkeypatch.setattr(kn, "DISTINCT_MAX", 0)  # every pair through the dense / low-rank path
    slow = [KCI(data, kinds=kinds).test(x, y) for x, y in pairs]
    for f, s in zip(fast, slow):
        assert f.statistic == pytest.approx(s.statistic, rel=1e-9)
        assert f.pvalue == pytest.approx(s.pvalue, rel=1e-7, abs=1e-14)
