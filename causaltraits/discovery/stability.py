"""Edge stability: how often each edge type appears over seeded bootstrap resamples.

Resample ``b`` draws n rows with replacement from ``numpy.random.default_rng([seed, b])`` (so
resample b is the same whatever the number of resamples, the order they run in, or where they
run), reruns the same discovery on it, and counts, for every pair of variables, how often each
oriented edge type came out. With ``scheduler`` the resamples run on a dask.distributed cluster
(an optional dependency, imported only then); results are identical to a local run.
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
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise ParameterError(
            "--scheduler needs the optional dependency dask[distributed] (pip install 'dask[distributed]')"
        ) from None


def resample_rows(n: int, seed: int, b: int) -> np.ndarray:
    """Row indices of bootstrap resample ``b``."""
    return np.random.default_rng([int(seed), int(b)]).integers(0, n, size=n)


def _one(ds: Any, b: int, seed: int, params: dict[str, Any]) -> list[tuple[str, str, str]]:
    from causaltraits.discovery.search import discover

    sub = ds.subset(resample_rows(ds.n, seed, b))
    res = discover(sub, seed=seed, **params)
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


def bootstrap_edges(ds: Any, n_resamples: int, algorithm: str = "pc", test: str = "auto", alpha: float = 0.05,
                    llm: str = "aggregate", seed: int = 0, max_depth: int | None = None,
                    scheduler: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Edge-type frequencies over ``n_resamples`` seeded bootstrap resamples (``stability.csv``).

    Examples
    --------
    >>> freq = bootstrap_edges(load_dataset("athle-demo"), 20)      # doctest: +SKIP
    >>> freq.sort_values("adjacent", ascending=False).head()         # doctest: +SKIP
    """
    if n_resamples < 1:
        raise ParameterError(f"the number of bootstrap resamples must be at least 1, got {n_resamples}")
    params = {"algorithm": algorithm, "test": test, "alpha": alpha, "llm": llm, "max_depth": max_depth}
    nodes = ds.analysis_variables(llm)
    if scheduler:
        check_dask()
        from dask.distributed import Client, as_completed

        with Client(scheduler) as client:
            remote_ds = client.scatter(ds, broadcast=True)
            futures = [client.submit(_one, remote_ds, b, seed, params, pure=False) for b in range(n_resamples)]
            bar = _bar(progress, n_resamples)
            for _ in as_completed(futures):
                bar.update(1)
            bar.close()
            graphs = [f.result() for f in futures]  # in resample order, whatever finished first
    else:
        bar = _bar(progress, n_resamples)
        graphs = []
        for b in range(n_resamples):
            graphs.append(_one(ds, b, seed, params))
            bar.update(1)
        bar.close()
    return edge_frequencies(graphs, nodes)


def _bar(progress: bool, total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="bootstrap", unit="resample", disable=None if progress else True, leave=False)
