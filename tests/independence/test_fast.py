"""lowrank (Nystrom KCI): features, seeding, symmetry, deletion, mixed kinds, agreement with KCI."""

from __future__ import annotations

import numpy as np
import pytest

from causaltraits.independence import make_test
from causaltraits.independence.fast import nystrom_features, product_kernel


def test_product_kernel_matches_direct_formula():
    rng = np.random.default_rng(0)
    a_num, b_num = rng.normal(size=(7, 2)), rng.normal(size=(4, 2))
    a_cat, b_cat = rng.integers(0, 2, size=(7, 1)), rng.integers(0, 2, size=(4, 1))
    got = product_kernel(a_num, a_cat, b_num, b_cat, 1.3)
    sq = ((a_num[:, None, :] - b_num[None, :, :]) ** 2).sum(-1)
    want = np.exp(-sq / (2 * 1.3**2)) * (a_cat[:, None, 0] == b_cat[None, :, 0])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_nystrom_is_exact_for_few_distinct_rows():
    # a 3-level variable: the features reproduce the centred kernel matrix exactly
    rng = np.random.default_rng(1)
    v = rng.integers(0, 3, size=200).astype(float)[:, None]
    empty = np.empty((200, 0), dtype=np.int64)
    f = nystrom_features(v, empty, 12, 1.0, rng)
    k = product_kernel(v, empty, v, empty, 1.0)
    h = np.eye(200) - 1.0 / 200
    np.testing.assert_allclose(f @ f.T, h @ k @ h, atol=1e-9)
    assert f.shape[1] == 2  # three levels, centred


def test_same_seed_same_pvalue_in_any_call_order(chain_and_collider):
    data = chain_and_collider(500, 0)
    a = make_test("lowrank", data, seed=11)
    first = a.test(0, 1, (2,))
    a.test(3, 4, (5, 2))
    b = make_test("lowrank", data, seed=11)
    b.test(2, 5, (0,))
    assert b.test(1, 0, (2,)) == first
    assert a.test(0, 1, (2,)) == first
    assert make_test("lowrank", data, seed=11, cache_mb=0)(0, 1, (2,)) == first.pvalue
    assert make_test("lowrank", data, seed=12)(0, 1, (2,)) != first.pvalue


def test_symmetric(chain_and_collider):
    t = make_test("lowrank", chain_and_collider(400, 1), seed=3)
    for x, y, z in ((0, 1, (2,)), (3, 4, (5,)), (0, 5, ()), (1, 3, (2, 5)), (0, 4, (1, 2, 5))):
        assert t(x, y, z) == t(y, x, z)


def test_testwise_deletion_uses_only_complete_rows(chain_and_collider):
    """A test uses the rows complete in x, y and z; the kernel of a column is fitted once on
    all its observed values (so every test shares it), which leaves a complete table unchanged."""
    data = chain_and_collider(500, 2)
    rng = np.random.default_rng(0)
    holes = data.copy()
    holes[rng.choice(500, 50, replace=False), 2] = np.nan
    holes[rng.choice(500, 50, replace=False), 4] = np.nan
    t = make_test("lowrank", holes, seed=5)
    r = t.test(0, 1, (2,))
    assert r.n == (~np.isnan(holes[:, 2])).sum()
    assert r.pvalue > 0.01  # the chain is still separated on the complete rows
    assert t.test(3, 5, (4,)).n == (~np.isnan(holes[:, 4])).sum()
    assert t.test(3, 5, (4,)).pvalue < 1e-6
    full = make_test("lowrank", data, seed=5)
    assert t.test(0, 1).pvalue == full.test(0, 1).pvalue  # same complete columns, same result
    assert t.test(0, 1, (2,)).n < full.test(0, 1, (2,)).n  # the incomplete rows were left out


def test_chain_vs_collider(chain_and_collider):
    t = make_test("lowrank", chain_and_collider(1000, 3), seed=0)
    assert t(0, 1) < 1e-6
    assert t(0, 1, (2,)) > 0.01
    assert t(3, 4) > 0.01
    assert t(3, 4, (5,)) < 1e-6


@pytest.mark.slow
def test_power_on_nonlinear_dependence_beside_causallearn_kci():
    from causallearn.utils.cit import CIT

    rng = np.random.default_rng(4)
    n = 300
    z = rng.normal(size=n)
    x = rng.uniform(-2, 2, size=n)
    y = np.cos(1.5 * x) + 0.5 * z + 0.5 * rng.normal(size=n)  # dependence invisible to correlation
    data = np.column_stack((x, y, z))
    ours = make_test("lowrank", data, seed=0)(0, 1, (2,))
    kci = CIT(data, "kci")(0, 1, [2])
    assert kci < 1e-3 and ours < 1e-3


def test_categorical_columns_use_a_delta_kernel():
    rng = np.random.default_rng(5)
    n = 600
    g = rng.integers(0, 4, size=n)
    effect = np.array([0.0, 1.0, -1.0, 0.0])  # not monotone in the code
    y = effect[g] + rng.normal(size=n)
    z = rng.normal(size=n)
    relabel = np.array([2, 0, 3, 1])[g]  # the same grouping under other codes
    data = np.column_stack((g, y, z, relabel)).astype(float)
    t = make_test("lowrank", data, kinds=["categorical", "continuous", "continuous", "categorical"], seed=0)
    assert t(0, 1) < 1e-6
    assert t(0, 1, (2,)) == pytest.approx(make_test(
        "lowrank", data[:, [3, 1, 2]], kinds=["categorical", "continuous", "continuous"], seed=0)(0, 1, (2,)),
        rel=1e-9)
    assert t(1, 2, (0,)) > 0.01
    # a categorical conditioning set explains the group effect away
    w = effect[g] + rng.normal(size=n)
    d2 = np.column_stack((g, y, w)).astype(float)
    t2 = make_test("lowrank", d2, kinds=["categorical", "continuous", "continuous"], seed=0)
    assert t2(1, 2) < 1e-6 and t2(1, 2, (0,)) > 0.01


def test_ordinal_ties_and_binary():
    rng = np.random.default_rng(6)
    n = 1500
    z = rng.integers(0, 3, size=n).astype(float)
    x = (rng.random(n) < 0.2 + 0.3 * z).astype(float)
    y = np.clip(np.round(z + rng.normal(scale=0.7, size=n)), 0, 2)
    t = make_test("lowrank", np.column_stack((x, y, z)), kinds=["binary", "ordinal", "ordinal"], seed=1)
    assert t(0, 1) < 1e-6
    assert t(0, 1, (2,)) > 0.01


def test_degenerate_inputs():
    rng = np.random.default_rng(7)
    x = rng.normal(size=400)
    y = np.sin(x) + 0.5 * rng.normal(size=400)
    data = np.column_stack((x, y, x.copy(), np.full(400, 2.0)))
    t = make_test("lowrank", data, seed=0)
    assert t(0, 1, (2,)) == 1.0  # x given a copy of itself
    assert t(0, 3) == 1.0 and t(1, 3, (0,)) == 1.0  # a constant is independent of everything
    assert t(0, 1, (3,)) < 1e-6  # a constant conditioning column is dropped


def test_power_on_nonlinear_dependence():
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, size=400)
    y = np.cos(1.5 * x) + 0.5 * rng.normal(size=400)
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.15
    assert make_test("lowrank", np.column_stack((x, y)), seed=0)(0, 1) < 1e-6


def test_calibration_smoke():
    """200 nonlinear conditional nulls at n = 300: rejection rate within a loose binomial band."""
    pvalues = []
    for rep in range(200):
        rng = np.random.default_rng(3000 + rep)
        z = rng.normal(size=300)
        x = np.tanh(z) + 0.5 * rng.standard_t(5, size=300)
        y = z**2 / 2 + rng.normal(size=300)
        pvalues.append(make_test("lowrank", np.column_stack((x, y, z)), seed=rep)(0, 1, (2,)))
    rate = np.mean(np.array(pvalues) < 0.05)
    assert 0.015 <= rate <= 0.095, rate


@pytest.mark.slow
def test_same_decisions_as_causallearn_kci(chain_and_collider):
    from causallearn.utils.cit import CIT

    data = chain_and_collider(400, 8)
    ours = make_test("lowrank", data, seed=0)
    kci = CIT(data, "kci")
    for x, y, z, dependent in ((0, 1, (), True), (0, 1, (2,), False), (3, 4, (), False), (3, 4, (5,), True)):
        assert (ours(x, y, z) < 0.01) == dependent == (kci(x, y, list(z)) < 0.01)
