"""A persistent, correctly keyed cache of CI-test results, kept in the run directory.

Each result is one JSON line in ``<run>/cache/citests.jsonl``, keyed by the sha256 of

- the test's registered name and class, and its ``params`` (every setting that changes a
  p-value: seed, kernel width rule, ...);
- the variables by column NAME: ``{x, y}`` sorted, ``z`` sorted;
- a sha256 of the FULL data matrix (shape, dtype and every byte, NaNs canonicalised) and of
  the column kinds (which choose kernels and encodings).

So a Fisher-z result is never served to KCI, a changed table or changed kinds is a miss, and a
rerun of the same test on the same data is a hit (causal-learn's cache fails all three: it keys
by method name only loosely and hashes numpy's truncated printout).

Writing: every new result is appended as one complete line with a single ``write`` on a file
opened in append mode and flushed at once, so an interrupted run keeps everything it computed
and a crash can at worst leave a truncated last line, which the reader skips. ``close()``
(or leaving the ``with`` block, or garbage collection / interpreter exit) fsyncs and closes.

>>> cache = ResultCache.in_dir(run_dir / "cache")                  # doctest: +SKIP
>>> cached = CachedTest(make_test("kci", data), cache, names)       # doctest: +SKIP
>>> cached(0, 1, (2,)); cached.hits, cached.misses                  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import weakref
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from causaltraits.errors import ParameterError
from causaltraits.independence.base import CIResult

log = logging.getLogger(__name__)

#: file name of the cache inside a cache directory
CACHE_FILE = "citests.jsonl"


def data_fingerprint(data: np.ndarray, kinds: Sequence[str] | None = None) -> str:
    """sha256 of a data matrix's shape, dtype and bytes (NaNs canonicalised) and column kinds."""
    arr = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
    nan = np.isnan(arr)
    if nan.any():  # NaN payload bits differ between sources; they all mean "missing"
        arr = arr.copy()
        arr[nan] = np.nan
    h = hashlib.sha256()
    h.update(json.dumps({"shape": list(arr.shape), "dtype": arr.dtype.str}).encode())
    h.update(arr.tobytes())
    h.update(json.dumps(list(kinds) if kinds is not None else None).encode())
    return h.hexdigest()


def _canonical(obj: Any) -> Any:
    """JSON-stable form of a params dict (numpy scalars to Python, tuples to lists)."""
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def result_key(test: str, params: dict[str, Any], x: str, y: str, z: Sequence[str], data_hash: str) -> str:
    """The cache key of one CI test (x, y and z are column names; order does not matter)."""
    a, b = sorted((str(x), str(y)))
    body = {"test": test, "params": _canonical(params), "x": a, "y": b, "z": sorted(map(str, z)), "data": data_hash}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _close_handle(handle_box: list) -> None:
    fh = handle_box[0]
    if fh is not None and not fh.closed:
        try:
            fh.flush()
            os.fsync(fh.fileno())
        except OSError:  # pragma: no cover - disk gone; lines were already flushed
            pass
        fh.close()
    handle_box[0] = None


class ResultCache:
    """CI results persisted as JSON lines; read once at open, appended as results arrive.

    Parameters
    ----------
    path : the ``.jsonl`` file (created with its directory on the first result)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._records: dict[str, dict[str, Any]] = {}
        self._handle: list = [None]  # boxed so the finalizer does not keep ``self`` alive
        self._finalizer = weakref.finalize(self, _close_handle, self._handle)
        self.skipped_lines = 0
        if self.path.exists():
            self._load()

    @classmethod
    def in_dir(cls, directory: str | os.PathLike) -> "ResultCache":
        """The cache file ``citests.jsonl`` inside ``directory``."""
        return cls(Path(directory) / CACHE_FILE)

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    self._records[rec["key"]] = rec
                except (json.JSONDecodeError, KeyError, TypeError):
                    # a line cut by a crash (only the last can be): ignore it
                    self.skipped_lines += 1

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored record of ``key`` or None."""
        return self._records.get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Store a record and append it to the file at once (one line, one write)."""
        record = {**record, "key": key}
        self._records[key] = record
        if self._handle[0] is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle[0] = open(self.path, "a", encoding="utf-8")
        fh = self._handle[0]
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()

    def flush(self) -> None:
        """Push appended lines to disk (they are already in the file)."""
        fh = self._handle[0]
        if fh is not None:
            fh.flush()
            os.fsync(fh.fileno())

    def close(self) -> None:
        """fsync and close the file (a later ``put`` reopens it)."""
        _close_handle(self._handle)

    def __getstate__(self) -> dict[str, Any]:
        # worker processes get the records, not the open file; each reopens it in append mode
        # (one write per complete line, so concurrent appenders do not interleave lines)
        return {"path": self.path, "records": self._records, "skipped_lines": self.skipped_lines}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._records = state["records"]
        self.skipped_lines = state["skipped_lines"]
        self._handle = [None]
        self._finalizer = weakref.finalize(self, _close_handle, self._handle)

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class CachedTest:
    """A CI test behind a :class:`ResultCache`: same ``test`` / ``__call__``, plus counters.

    Parameters
    ----------
    test : a :class:`~causaltraits.independence.base.CITest` built on the whole data matrix
    cache : a :class:`ResultCache`, or a directory (``<dir>/citests.jsonl``) or ``.jsonl`` path
    names : column names of the test's data matrix (keys use names). Without names the keys
        use column positions, which is still safe because the key includes the hash of the
        whole matrix, but names keep the file readable.

    Attributes
    ----------
    hits, misses : results served from the cache / computed by the test
    """

    def __init__(self, test: Any, cache: ResultCache | str | os.PathLike, names: Sequence[str] | None = None):
        self.inner = test
        if isinstance(cache, ResultCache):
            self.cache = cache
        else:
            p = Path(cache)
            self.cache = ResultCache(p) if p.suffix == ".jsonl" else ResultCache.in_dir(p)
        ncol = test.data.shape[1]
        if names is None:
            names = [f"#{i}" for i in range(ncol)]
        names = [str(n) for n in names]
        if len(names) != ncol:
            raise ParameterError(f"CachedTest got {len(names)} column names for a {ncol}-column matrix")
        if len(set(names)) != len(names):
            raise ParameterError("CachedTest column names must be unique")
        self.names = names
        self.data_hash = data_fingerprint(test.data, getattr(test, "kinds", None))
        self._test_id = f"{test.name}:{type(test).__module__}.{type(test).__qualname__}"
        self.hits = 0
        self.misses = 0

    # the wrapped test's attributes (name, params, data, kinds, conditional, ...) stay visible
    def __getattr__(self, attr: str) -> Any:
        if attr == "inner":  # not set yet (during unpickling): avoid infinite recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def key(self, x: int, y: int, z: Sequence[int] = ()) -> str:
        """Cache key of ``x _||_ y | z`` (column positions) for this test and data."""
        nm = self.names
        return result_key(self._test_id, self.inner.params, nm[x], nm[y], [nm[c] for c in z], self.data_hash)

    def test(self, x: int, y: int, z: Sequence[int] = ()) -> CIResult:
        """The result of ``x _||_ y | z`` from the cache, or computed and stored."""
        x, y = int(x), int(y)
        z = tuple(sorted(int(c) for c in z))
        if x == y or x in z or y in z:
            return self.inner.test(x, y, z)  # let the test raise its own error
        key = self.key(x, y, z)
        rec = self.cache.get(key)
        if rec is not None:
            self.hits += 1
            lo, hi = min(x, y), max(x, y)
            return CIResult(self.inner.name, lo, hi, z, float(rec["statistic"]), float(rec["pvalue"]),
                            int(rec["n"]), None if rec.get("dof") is None else float(rec["dof"]))
        self.misses += 1
        res = self.inner.test(x, y, z)
        a, b = sorted((self.names[x], self.names[y]))
        self.cache.put(key, {
            "test": self.inner.name, "params": _canonical(self.inner.params), "x": a, "y": b,
            "z": sorted(self.names[c] for c in z), "data": self.data_hash,
            "statistic": res.statistic, "pvalue": res.pvalue, "n": res.n, "dof": res.dof,
        })
        return res

    def __call__(self, x: int, y: int, z: Sequence[int] = ()) -> float:
        return self.test(x, y, z).pvalue

    def flush(self) -> None:
        """Make every stored result durable on disk."""
        self.cache.flush()

    def close(self) -> None:
        """Close the cache file."""
        self.cache.close()
