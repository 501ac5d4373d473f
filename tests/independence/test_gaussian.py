"""Fisher-z against causal-learn's CIT(data, 'fisherz'), and its degenerate cases."""

import numpy as np
import pytest
from causallearn.utils.cit import CIT
from threadpoolctl import threadpool_limits

from causaltraits.independence import make_test


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matrices: one BLAS thread is faster, and far faster on a shared, loaded machine."""
    with threadpool_limits(limits=1):
        yield


def test_matches_causallearn():
    rng = np.random.default_rng(0)
    n = 2000
    z = rng.normal(size=(n, 3))
    x = z @ [0.5, -0.2, 0.0] + rng.normal(size=n)
    y = z @ [0.3, 0.4, 0.1] + 0.05 * x + rng.normal(size=n)
    data = np.column_stack([x, y, z])
    ref = CIT(data, "fisherz")
    ours = make_test("fisherz", data)
    for a, b, s in [(0, 1, ()), (0, 1, (2,)), (0, 1, (2, 3)), (0, 1, (2, 3, 4)), (2, 3, (0,)), (3, 4, (0, 1))]:
        assert ours(a, b, s) == pytest.approx(ref(a, b, s), rel=1e-8, abs=1e-15), (a, b, s)


def test_constant_columns():
    rng = np.random.default_rng(1)
    data = np.column_stack([rng.normal(size=300), rng.normal(size=300), np.ones(300)])
    data[:, 1] += data[:, 0]
    t = make_test("fisherz", data)
    r = t.test(0, 2)
    assert (r.statistic, r.pvalue) == (0.0, 1.0)
    # conditioning on a constant is conditioning on nothing
    assert t(0, 1, (2,)) == t(0, 1)


def test_testwise_deletion():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(500, 3))
    data[:, 1] += 0.2 * data[:, 0]
    holes = data.copy()
    holes[:50, 2] = np.nan
    r = make_test("fisherz", holes).test(0, 1, (2,))
    assert r.n == 450
    assert r.pvalue == pytest.approx(CIT(data[50:], "fisherz")(0, 1, [2]), rel=1e-8)
