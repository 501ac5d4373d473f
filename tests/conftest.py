"""Fixtures shared by test modules in different folders."""

import pytest


@pytest.fixture(scope="module")
def cluster():
    """A local dask.distributed cluster (2 worker threads, no dashboard); skipped without dask."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as c:
        yield c
