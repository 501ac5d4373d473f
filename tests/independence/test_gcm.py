"""The generalised covariance measure (``gcm``): against statsmodels with a B-spline design,
calibration where Fisher-z is not, invariance to a warp of the conditioning variable."""

import numpy as np
import pytest
import statsmodels.api as sm
from patsy import dmatrix
from scipy import stats
from threadpoolctl import threadpool_limits

from causaltraits.errors import ParameterError
from causaltraits.independence import make_test
from causaltraits.independence.gcm import spline_design


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


def _reference_p(x, y, z, knots=5):
    """The GCM p-value with residuals from statsmodels OLS on patsy's cubic B-spline basis at the
    same interior knots (another basis of the same spline space)."""
    n = len(x)
    if z.shape[1] == 0:
        B = np.ones((n, 1))
    else:
        parts = []
        for c in z.T:
            s = (c - c.mean()) / c.std()
            q = np.quantile(s, np.linspace(0, 1, knots + 2)[1:-1])
            parts.append(np.asarray(dmatrix("bs(s, knots=q, degree=3, include_intercept=False) - 1",
                                            {"s": s, "q": q})))
        B = np.column_stack([np.ones(n), *parts])
    rx = sm.OLS(x, B).fit().resid
    ry = sm.OLS(y, B).fit().resid
    R = rx * ry
    t = np.sqrt(n) * R.mean() / R.std()
    return 2 * stats.norm.sf(abs(t))


def test_matches_statsmodels_with_a_bspline_basis():
    rng = np.random.default_rng(0)
    n = 800
    z = rng.uniform(-2, 2, size=(n, 2))
    x = np.sin(2 * z[:, 0]) + 0.5 * z[:, 1] ** 2 + rng.normal(size=n) * 0.5
    y = np.exp(z[:, 0] / 2) + 0.3 * x + rng.normal(size=n) * 0.5
    data = np.column_stack([x, y, z])
    t = make_test("gcm", data)
    for zs in [(), (2,), (2, 3)]:
        assert t(0, 1, zs) == pytest.approx(_reference_p(x, y, data[:, list(zs)]), rel=1e-7, abs=1e-12), zs
    # the design spans the same space as the B-splines: identical fitted values
    s = (z[:, 0] - z[:, 0].mean()) / z[:, 0].std()
    q = np.quantile(s, np.linspace(0, 1, 7)[1:-1])
    bs = np.column_stack([np.ones(n), dmatrix("bs(s, knots=q, degree=3, include_intercept=False) - 1",
                                             {"s": s, "q": q})])
    ours = spline_design(z[:, :1])
    fit = lambda B: B @ np.linalg.lstsq(B, x, rcond=None)[0]  # noqa: E731
    np.testing.assert_allclose(fit(ours), fit(bs), atol=1e-9)


def test_calibrated_under_a_nonlinear_common_cause_where_fisherz_is_not():
    # x and y independent given z, both nonlinear in z: Fisher-z's linear partial correlation
    # leaves the quadratic parts correlated and rejects almost always
    rej = {"gcm": 0, "fisherz": 0}
    reps = 200
    for r in range(reps):
        rng = np.random.default_rng(100 + r)
        n = 400
        z = rng.normal(size=n)
        x = z ** 2 + rng.normal(size=n)
        y = z ** 2 + rng.normal(size=n)
        data = np.column_stack([x, y, z])
        for name in rej:
            rej[name] += make_test(name, data)(0, 1, (2,)) < 0.05
    assert 0.02 <= rej["gcm"] / reps <= 0.09
    assert rej["fisherz"] / reps > 0.9


def test_power_and_invariance_to_a_warp_of_z():
    rng = np.random.default_rng(3)
    n = 1500
    z = rng.normal(size=n)
    x = np.tanh(z) + rng.normal(size=n) * 0.5
    y = np.tanh(z) + 0.2 * x + rng.normal(size=n) * 0.5   # x -> y beyond z
    y0 = np.tanh(z) + rng.normal(size=n) * 0.5           # independent of x given z
    for warp in (z, np.exp(z), z ** 3 + z):
        t = make_test("gcm", np.column_stack([x, y, y0, warp]))
        assert t(0, 1, (3,)) < 1e-4
        assert t(0, 2, (3,)) > 0.01
    # an affine map of z changes nothing (the design standardises each column)
    a = make_test("gcm", np.column_stack([x, y, z]))(0, 1, (2,))
    b = make_test("gcm", np.column_stack([x, y, 3.0 * z - 7.0]))(0, 1, (2,))
    assert a == pytest.approx(b, rel=1e-8)


def test_pc_over_warped_latents_finds_the_skeleton_fisherz_does_not():
    # one cause and its two effects: z1 <- z0 -> z2; the cause seen through exp(.)
    from causaltraits.discovery.search import run_search

    rng = np.random.default_rng(7)
    n = 2000
    z0 = rng.uniform(-1, 1, size=n)
    data = np.column_stack([np.exp(2 * z0), z0 + 0.3 * rng.uniform(-1, 1, size=n),
                            -z0 + 0.3 * rng.uniform(-1, 1, size=n)])
    names = ["c", "e1", "e2"]
    adj = {}
    for test in ("gcm", "fisherz"):
        g, _, _ = run_search(data, names, ["continuous"] * 3, algorithm="pc", test=test, alpha=0.05)
        adj[test] = {frozenset((e.source, e.target)) for e in g.edges}
    assert adj["gcm"] == {frozenset(("c", "e1")), frozenset(("c", "e2"))}
    assert frozenset(("e1", "e2")) in adj["fisherz"]


def test_ordinal_conditioning_gets_indicators_and_degenerate_inputs():
    rng = np.random.default_rng(5)
    n = 600
    z = rng.integers(0, 3, size=n).astype(float)          # a 3-level trait score
    x = np.array([0.0, 2.0, -1.0])[z.astype(int)] + rng.normal(size=n)
    y = np.array([1.0, -2.0, 0.5])[z.astype(int)] + rng.normal(size=n)
    data = np.column_stack([x, y, z, np.ones(n), 2.0 * z])
    t = make_test("gcm", data, kinds=["continuous", "continuous", "ordinal", "continuous", "continuous"])
    assert spline_design(z[:, None]).shape == (n, 3)     # intercept + two indicators
    assert t(0, 1, (2,)) > 0.01
    assert t(0, 1) < 1e-6                                 # marginally dependent through z
    assert (t.test(0, 3).statistic, t.test(0, 3).pvalue) == (0.0, 1.0)   # constant y
    assert t(0, 1, (2, 3)) == t(0, 1, (2,))               # a constant z column is dropped
    assert t.test(2, 0, (4,)).pvalue == 1.0               # x a function of z
    assert t(0, 1, (2,)) == t(1, 0, (2,))


def test_refuses_categorical_columns_and_bad_knots():
    data = np.random.default_rng(0).normal(size=(50, 3))
    t = make_test("gcm", data, kinds=["continuous", "categorical", "continuous"])
    for args in ((0, 1), (1, 2), (0, 2, (1,))):
        with pytest.raises(ParameterError, match="column 1 is categorical"):
            t.test(*args)
    assert 0.0 <= t(0, 2) <= 1.0            # the numeric columns of the same table are tested
    with pytest.raises(ParameterError, match="knots"):
        make_test("gcm", data, knots=-1)


def test_battery_marks_categorical_pairs_not_applicable():
    # a table with a categorical attribute (League): the battery tests the numeric pairs and marks
    # the League column not applicable, as for any test whose class restricts the kinds
    from causaltraits.data import load_dataset
    from causaltraits.independence.battery import run_battery

    res = run_battery(load_dataset("athle-demo"), tests=["gcm"])
    p = res.matrix("pvalues", "gcm")
    assert p["League"].isna().all() and p.drop(columns="League").notna().all().all()
