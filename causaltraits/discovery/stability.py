"""Edge stability: how often each edge type appears over seeded bootstrap resamples.

Resample ``b`` draws n rows with replacement from ``numpy.random.default_rng([seed, b])``
(:func:`causaltraits.parallel.task_rng`), so resample b is the same whatever the number of
resamples, the order they run in, or where they run; its randomised CI tests are seeded with
``task_seed(seed, b)``. Each resample reruns the same discovery, and for every pair of variables
the share of resamples giving each oriented edge type is counted. With ``scheduler`` the
resamples run on a dask.distributed cluster (an optional dependency, imported only then) through
:func:`causaltraits.parallel.map_tasks`; the results are identical to a local run.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Sequence

import numpy as np
import pandas as pd

from causaltraits.errors import ParameterError

#: oriented edge types counted per pair (x, y): "<--" is y --> x, "<-o" is y o-> x
ORIENTED = ("-->", "<--", "---", "<->", "o->", "<-o", "o-o")


def check_dask() -> None:
    """Fail with one line when dask.distributed is not installed."""
    from causaltraits.parallel import check_dask as _check

    _check("--scheduler")


def resample_rows(n: int, seed: int, b: int) -> np.ndarray:
    """Row indices of bootstrap resample ``b``."""
    from causaltraits.parallel import task_rng

    return task_rng(seed, b).integers(0, n, size=n)


def _one(shared: tuple[Any, int, dict[str, Any]], b: int) -> list[tuple[str, str, str]]:
    """The edges (source, target, type) found on bootstrap resample ``b``; runs on a worker."""
    from causaltraits.discovery.search import discover
    from causaltraits.parallel import task_seed

    ds, seed, params = shared
    sub = ds.subset(resample_rows(ds.n, seed, b))
    res = discover(sub, seed=task_seed(seed, b), **params)
    return [(e.source, e.target, e.type) for e in res.graph.edges]


def edge_frequencies(graphs: Sequence[Sequence[tuple[str, str, str]]], nodes: Sequence[str]) -> pd.DataFrame:
    """Per pair (in node order): the share of graphs with each oriented edge type, and no edge."""
    order = {v: k for k, v in enumerate(nodes)}
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for edges in graphs:
        for s, t, ty in edges:
            x, y = (s, t) if order[s] < order[t] else (t, s)
            if (x, y) != (s, t):
                ty = {"-->": "<--", "o->": "<-o"}.get(ty, ty)
            counts.setdefault((x, y), {})
            counts[(x, y)][ty] = counts[(x, y)].get(ty, 0) + 1
    total = max(len(graphs), 1)
    rows = []
    for x, y in combinations(nodes, 2):
        c = counts.get((x, y), {})
        adj = sum(c.values())
        row: dict[str, Any] = {"x": x, "y": y, "adjacent": adj / total}
        for ty in ORIENTED:
            row[ty] = c.get(ty, 0) / total
        row["none"] = 1 - adj / total
        best = max([*ORIENTED, "none"], key=lambda k: (row[k], k == "none"))
        row["most_frequent"] = best
        rows.append(row)
    return pd.DataFrame(rows, columns=["x", "y", "adjacent", *ORIENTED, "none", "most_frequent"])


def bootstrap_graphs(ds: Any, resamples: int | Sequence[int], algorithm: str = "pc", test: str = "auto",
                     alpha: float = 0.05, llm: str = "aggregate", seed: int = 0, max_depth: int | None = None,
                     scheduler: Any = None, progress: bool = False) -> list[list[tuple[str, str, str]]]:
    """The edges found on each bootstrap resample (a count, or the resample indices to run).

    Returns one list of ``(source, target, type)`` per resample, in resample order. Resample
    ``b`` gives the same edges whether run alone, among others, locally or on a cluster.
    """
    indices = list(range(resamples)) if isinstance(resamples, (int, np.integer)) else [int(b) for b in resamples]
    if not indices:
        raise ParameterError(f"the number of bootstrap resamples must be at least 1, got {resamples}")
    from causaltraits.parallel import map_tasks

    params = {"algorithm": algorithm, "test": test, "alpha": alpha, "llm": llm, "max_depth": max_depth}
    return map_tasks(_one, indices, shared=(ds, int(seed), params), scheduler=scheduler, progress=progress,
                     desc="bootstrap", unit="resample")


def bootstrap_edges(ds: Any, n_resamples: int, algorithm: str = "pc", test: str = "auto", alpha: float = 0.05,
                    llm: str = "aggregate", seed: int = 0, max_depth: int | None = None,
                    scheduler: Any = None, progress: bool = False) -> pd.DataFrame:
    """Edge-type frequencies over ``n_resamples`` seeded bootstrap resamples (``stability.csv``).

    Parameters
    ----------
    ds : a :class:`~causaltraits.data.Dataset`
    n_resamples : number of resamples (at least 1)
    algorithm, test, alpha, llm, max_depth : as in :func:`~causaltraits.discovery.search.discover`
    seed : run seed; resample b is drawn from ``default_rng([seed, b])``
    scheduler : None (run here), a dask scheduler address (``tcp://HOST:8786``) or a
        ``distributed.Client``; the result is the same
    progress : show a tqdm bar on stderr

    Returns
    -------
    pandas.DataFrame : one row per pair (node order) with ``adjacent``, a column per oriented
        edge type (:data:`ORIENTED`), ``none`` and ``most_frequent`` (shares of resamples)

    Examples
    --------
    >>> freq = bootstrap_edges(load_dataset("athle-demo"), 20)      # doctest: +SKIP
    >>> freq.sort_values("adjacent", ascending=False).head()         # doctest: +SKIP
    """
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ParameterError(f"the number of bootstrap resamples must be at least 1, got {n_resamples}")
    nodes = ds.analysis_variables(llm)
    graphs = bootstrap_graphs(ds, int(n_resamples), algorithm=algorithm, test=test, alpha=alpha, llm=llm, seed=seed,
                              max_depth=max_depth, scheduler=scheduler, progress=progress)
    return edge_frequencies(graphs, nodes)
