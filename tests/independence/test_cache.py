"""The persistent result cache: right key (test, params, names, full data, kinds), persistence."""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from causaltraits.errors import ParameterError
from causaltraits.independence import make_test
from causaltraits.independence.cache import CachedTest, ResultCache, data_fingerprint


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matrices: one BLAS thread is faster, and far faster on a shared, loaded machine."""
    with threadpool_limits(limits=1):
        yield


def _data(n=150, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    return np.column_stack([z + rng.normal(size=n), z + rng.normal(size=n), z, rng.normal(size=n)])


NAMES = ["a", "b", "c", "d"]


def test_same_test_same_data_is_a_hit_across_runs(tmp_path):
    data = _data()
    first = CachedTest(make_test("fisherz", data), tmp_path, NAMES)
    p1 = first(0, 1, (2,))
    r1 = first.test(1, 0, (2,))  # same test, other order: hit
    assert (first.hits, first.misses) == (1, 1)
    assert r1.pvalue == p1
    # a new process-like reopen: nothing recomputed
    second = CachedTest(make_test("fisherz", data), ResultCache.in_dir(tmp_path), NAMES)
    r2 = second.test(0, 1, (2,))
    assert (second.hits, second.misses) == (1, 0)
    assert (r2.pvalue, r2.statistic, r2.n) == (p1, r1.statistic, r1.n)
    lines = (tmp_path / "citests.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    assert (rec["test"], rec["x"], rec["y"], rec["z"]) == ("fisherz", "a", "b", ["c"])


def test_other_test_or_params_is_a_miss(tmp_path):
    data = _data()
    CachedTest(make_test("fisherz", data), tmp_path, NAMES)(0, 1, (2,))
    kci = CachedTest(make_test("kci", data), tmp_path, NAMES)
    p = kci(0, 1, (2,))
    assert (kci.hits, kci.misses) == (0, 1)
    assert p == make_test("kci", data)(0, 1, (2,))  # KCI's own value, not Fisher-z's
    median = CachedTest(make_test("kci", data, width="median"), tmp_path, NAMES)
    median(0, 1, (2,))
    assert median.misses == 1
    reseeded = CachedTest(make_test("fisherz", data, seed=1), tmp_path, NAMES)
    reseeded(0, 1, (2,))
    assert reseeded.misses == 1


def test_changed_data_or_kinds_is_a_miss(tmp_path):
    data = _data()
    CachedTest(make_test("fisherz", data), tmp_path, NAMES)(0, 1)
    changed = data.copy()
    changed[77, 3] += 1e-9  # one value in a column the test does not even use
    other = CachedTest(make_test("fisherz", changed), tmp_path, NAMES)
    other(0, 1)
    assert (other.hits, other.misses) == (0, 1)
    kinds = CachedTest(make_test("fisherz", data, kinds=["continuous"] * 3 + ["categorical"]), tmp_path, NAMES)
    kinds(0, 1)
    assert kinds.misses == 1
    # arrays whose numpy printouts are identical still hash differently (causal-learn's trap)
    big = np.random.default_rng(1).normal(size=(4000, 20))
    big2 = big.copy()
    big2[2000, 10] += 1.0
    assert str(big) == str(big2)
    assert data_fingerprint(big) != data_fingerprint(big2)


def test_keys_use_names_not_positions(tmp_path):
    data = _data()
    CachedTest(make_test("fisherz", data), tmp_path, NAMES)(0, 1)
    renamed = CachedTest(make_test("fisherz", data), tmp_path, ["b", "a", "c", "d"])
    renamed(0, 1)  # same matrix, but the columns are now called b, a: key {a, b} matches
    assert renamed.hits == 1
    relabelled = CachedTest(make_test("fisherz", data), tmp_path, ["x", "y", "c", "d"])
    relabelled(0, 1)
    assert relabelled.misses == 1
    with pytest.raises(ParameterError):
        CachedTest(make_test("fisherz", data), tmp_path, ["a", "a", "c", "d"])


def test_truncated_last_line_is_skipped_and_file_survives(tmp_path):
    data = _data()
    c = CachedTest(make_test("fisherz", data), tmp_path, NAMES)
    for pair in [(0, 1), (0, 2), (1, 3)]:
        c(*pair)
    c.close()
    path = tmp_path / "citests.jsonl"
    with open(path, "a") as fh:
        fh.write('{"key": "abc", "pval')  # a crash in the middle of a write
    reopened = ResultCache(path)
    assert len(reopened) == 3 and reopened.skipped_lines == 1
    again = CachedTest(make_test("fisherz", data), reopened, NAMES)
    assert again(0, 2) == make_test("fisherz", data)(0, 2)
    assert again.hits == 1


def test_wrapper_passes_attributes_through(tmp_path):
    t = make_test("kci", _data())
    c = CachedTest(t, tmp_path)
    assert c.name == "kci" and c.params == t.params and c.data is t.data
    assert c(0, 3) == t(0, 3)
    with pytest.raises(ValueError):
        c(1, 1)


def test_pickled_wrapper_keeps_records_and_appends(tmp_path):
    import pickle

    data = _data()
    c = CachedTest(make_test("fisherz", data), tmp_path, NAMES)
    c(0, 1)
    clone = pickle.loads(pickle.dumps(c))  # as a worker process would receive it
    assert clone(0, 1) == c(0, 1) and clone.hits == 1
    clone(2, 3)
    clone.close()
    c.close()
    assert len(ResultCache.in_dir(tmp_path)) == 2
