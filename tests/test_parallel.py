"""The shared executor: serial by default, dask.distributed on request, same results either way."""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from causaltraits import parallel
from causaltraits.errors import CausalTraitsError, ParameterError
from causaltraits.parallel import check_dask, check_scheduler, map_tasks, task_rng, task_seed


def _draw(shared, i):
    """A seeded task: its numbers depend only on (seed, i), never on where or when it runs."""
    offset, seed = shared
    return offset + float(task_rng(seed, i).normal()) + task_seed(seed, i) % 7


def _square(i):
    return i * i


def _fails_on_three(shared, i):
    if i == 3:
        raise ParameterError(f"task {i} refused")
    return i


def _csv(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = a + rng.normal(size=n)
    c = b + rng.normal(size=n)
    pd.DataFrame({"a": a, "b": b, "c": c}).to_csv(path, index=False)
    return path


def test_task_seeds_are_fixed_and_distinct():
    assert task_seed(3, 5) == task_seed(3, 5)
    assert len({task_seed(3, i) for i in range(50)}) == 50
    assert task_seed(3, 5) != task_seed(4, 5)
    assert np.array_equal(task_rng(1, 2).random(4), np.random.default_rng([1, 2]).random(4))
    assert not np.array_equal(task_rng(1, 2).random(4), task_rng(2, 1).random(4))


def test_serial_map_keeps_order_and_passes_shared():
    assert map_tasks(_square, [3, 1, 2]) == [9, 1, 4]
    out = map_tasks(_draw, range(5), shared=(10.0, 7))
    assert out == [_draw((10.0, 7), i) for i in range(5)]
    # a task's result does not depend on which other tasks ran
    assert map_tasks(_draw, [4], shared=(10.0, 7)) == out[4:]
    with pytest.raises(ParameterError, match="task 3"):
        map_tasks(_fails_on_three, range(5), shared=None)


@pytest.fixture
def no_dask(monkeypatch):
    """Make ``import dask.distributed`` fail, as on an install without the extra."""
    for name in list(sys.modules):
        if name == "dask" or name.startswith(("dask.", "distributed")):
            monkeypatch.delitem(sys.modules, name)
    for name in ("dask", "dask.distributed", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)


def test_without_dask_the_scheduler_path_fails_in_one_line(no_dask, tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match=r"dask\[distributed\]"):
        check_dask()
    with pytest.raises(ParameterError, match=r"dask\[distributed\]"):
        map_tasks(_square, [1], scheduler="tcp://127.0.0.1:1")
    assert map_tasks(_square, [1, 2]) == [1, 4]  # the default path does not need dask

    from causaltraits.cli import cli

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["discover", "--data", str(_csv(tmp_path / "d.csv")), "--bootstrap", "2",
                                 "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)])
    assert r.exit_code == 2
    assert "dask[distributed]" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.output + r.stderr
    assert not out.exists()


# ---------------------------------------------------------------------- with dask
def test_cluster_map_equals_serial(cluster):
    serial = map_tasks(_draw, range(12), shared=(0.5, 11))
    remote = map_tasks(_draw, range(12), shared=(0.5, 11), scheduler=cluster.scheduler_address)
    assert remote == serial
    assert map_tasks(_square, [5, 0, 2], scheduler=cluster.scheduler_address) == [25, 0, 4]


def test_cluster_map_with_a_client_leaves_it_open(cluster):
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        assert map_tasks(_square, range(4), scheduler=client) == [0, 1, 4, 9]
        assert client.status == "running"
        assert client.submit(_square, 6).result() == 36
        # the shared argument is sent as one object, even a list (dask would scatter a list's items)
        assert map_tasks(_draw, [0], shared=[1.0, 2], scheduler=client) == [_draw((1.0, 2), 0)]


def test_cluster_task_error_is_re_raised(cluster):
    with pytest.raises(CausalTraitsError, match="task 3 refused"):
        map_tasks(_fails_on_three, range(6), shared=None, scheduler=cluster.scheduler_address)


def test_bad_scheduler_address_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    with pytest.raises(ParameterError, match="port"):
        check_scheduler("nohost")
    with pytest.raises(ParameterError, match="scheme"):
        check_scheduler("http://127.0.0.1:8786")
    t0 = time.perf_counter()
    with pytest.raises(ParameterError, match="no dask scheduler answered within 0.5 s"):
        check_scheduler("tcp://127.0.0.1:1", timeout=0.5)
    assert time.perf_counter() - t0 < 5

    # the command checks the scheduler before any work: one line, exit 2, nothing written
    from causaltraits.cli import cli

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", 0.5)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["discover", "--data", str(_csv(tmp_path / "d.csv")), "--bootstrap", "2",
                                 "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "tcp://127.0.0.1:1" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()
