"""Kernel building blocks for the kernel CI tests: Gram matrices, widths, centring.

Conventions (shared by :mod:`.kci` and :mod:`.hsic`):

- a Gaussian (RBF) Gram matrix is ``K[i, j] = exp(-0.5 * theta * ||x_i - x_j||^2)``, i.e.
  ``theta = 1 / sigma^2`` (causal-learn's ``GaussianKernel.width``);
- the delta kernel of a categorical column is ``K[i, j] = 1`` if the codes are equal, else 0;
- centring is ``H K H`` with ``H = I - 11'/n``, done in O(n^2).

Width heuristics:

- :func:`empirical_theta_kci` / :func:`empirical_theta_hsic` are causal-learn's default
  ("empirical") rules of Zhang et al.'s KCI code: a fixed sigma chosen by sample size
  (<200, <1200, larger), divided (KCI, conditional) or multiplied (KCI, unconditional) by
  the dimension;
- :func:`median_distance` is the median of the positive pairwise distances over ALL pairs.
  causal-learn's ``set_width_median`` draws 1,000 rows without a seed above 1,000 rows, so it
  is matched exactly only for n <= 1,000; here every pair is used (deterministic).

The loops are numba (nopython, cache=True): one pass over the upper triangle, no n x n
temporaries besides the output.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def sq_distances(x: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``x`` (n x d), as an n x n matrix."""
    n, d = x.shape
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            s = 0.0
            for k in range(d):
                t = x[i, k] - x[j, k]
                s += t * t
            out[i, j] = s
            out[j, i] = s
    return out


@numba.njit(cache=True)
def gaussian_gram(x: np.ndarray, theta: float) -> np.ndarray:
    """Gaussian Gram matrix ``exp(-0.5 * theta * ||x_i - x_j||^2)`` of the rows of ``x`` (n x d)."""
    n, d = x.shape
    out = np.empty((n, n))
    for i in range(n):
        out[i, i] = 1.0
        for j in range(i + 1, n):
            s = 0.0
            for k in range(d):
                t = x[i, k] - x[j, k]
                s += t * t
            v = np.exp(-0.5 * theta * s)
            out[i, j] = v
            out[j, i] = v
    return out


@numba.njit(cache=True)
def delta_gram(codes: np.ndarray) -> np.ndarray:
    """Delta kernel of integer (or float-coded) categories: 1 where equal, 0 elsewhere."""
    n = codes.shape[0]
    out = np.empty((n, n))
    for i in range(n):
        out[i, i] = 1.0
        for j in range(i + 1, n):
            v = 1.0 if codes[i] == codes[j] else 0.0
            out[i, j] = v
            out[j, i] = v
    return out


@numba.njit(cache=True)
def center_gram(k: np.ndarray) -> np.ndarray:
    """``H K H`` for a symmetric ``K`` (a new matrix), ``H = I - 11'/n``."""
    n = k.shape[0]
    means = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += k[i, j]
        means[i] = s / n
    grand = means.sum() / n
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = k[i, j] - means[i] - means[j] + grand
    return out


@numba.njit(cache=True)
def _positive_distances(x: np.ndarray, squared: bool) -> np.ndarray:
    n, d = x.shape
    out = np.empty(n * (n - 1) // 2)
    m = 0
    for i in range(n):
        for j in range(i + 1, n):
            s = 0.0
            for k in range(d):
                t = x[i, k] - x[j, k]
                s += t * t
            if s > 0.0:
                out[m] = s if squared else np.sqrt(s)
                m += 1
    return out[:m]


@numba.njit(cache=True)
def _count_sq_le(v: np.ndarray, thr: float) -> int:
    """Pairs i < j of the sorted ``v`` with ``(v[j] - v[i])^2 <= thr`` (two pointers, O(n))."""
    count = 0
    i = 0
    for j in range(v.shape[0]):
        while (v[j] - v[i]) * (v[j] - v[i]) > thr:
            i += 1
        count += j - i
    return count


@numba.njit(cache=True)
def _kth_positive_sq(v: np.ndarray, k: int, zeros: int) -> float:
    """The k-th (0-based) smallest positive squared difference of the sorted ``v``.

    Bisection over the bit patterns of non-negative doubles (ordered like the values), so the
    answer is the exact floating-point square, as the O(n^2) enumeration would give.
    """
    bits = np.empty(1, dtype=np.int64)
    vals = bits.view(np.float64)
    d = v[v.shape[0] - 1] - v[0]
    vals[0] = d * d
    hi = bits[0]
    lo = np.int64(0)  # 0.0: no positive square is <= 0
    while hi - lo > 1:
        mid = lo + (hi - lo) // 2
        bits[0] = mid
        if _count_sq_le(v, vals[0]) - zeros >= k + 1:
            hi = mid
        else:
            lo = mid
    bits[0] = hi
    return vals[0]


def _median_sq_1d(v: np.ndarray) -> float:
    v = np.sort(np.asarray(v, dtype=np.float64))
    n = v.shape[0]
    zeros = _count_sq_le(v, 0.0)
    m = n * (n - 1) // 2 - zeros
    if m == 0:
        return float("nan")
    if m % 2:
        return float(_kth_positive_sq(v, m // 2, zeros))
    a = _kth_positive_sq(v, m // 2 - 1, zeros)
    b = _kth_positive_sq(v, m // 2, zeros)
    return float(np.mean(np.array([a, b])))  # as np.median does for an even count


def median_distance(x: np.ndarray, squared: bool = False) -> float:
    """Median of the positive pairwise (squared, if asked) Euclidean distances over all pairs.

    Exact. For one column and ``squared`` the order statistics are found in O(n log n) (sort,
    then bisection with pair counting) instead of enumerating the n^2 / 2 pairs. Returns NaN
    when all rows are equal.
    """
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(len(x), -1)
    if squared and x.shape[1] == 1 and len(x) > 1:
        return _median_sq_1d(x[:, 0])
    dists = _positive_distances(x, squared)
    return float(np.median(dists)) if dists.size else float("nan")


def empirical_theta_kci(n: int, dz: int) -> float:
    """causal-learn's default ``theta`` for every kernel of conditional KCI (``dz`` = |Z|)."""
    sigma = 1.2 if n < 200 else (0.7 if n < 1200 else 0.4)
    return 1.0 / sigma**2 / dz


def empirical_theta_hsic(n: int, d: int) -> float:
    """causal-learn's default ``theta`` for a d-dimensional kernel of unconditional KCI."""
    sigma = 0.8 if n < 200 else (0.5 if n < 1200 else 0.3)
    return 1.0 / sigma**2 * d


def median_theta_kci(x: np.ndarray) -> float:
    """causal-learn's median rule: sigma = sqrt(2) * median distance, theta = 1 / sigma^2."""
    med = median_distance(x)
    return 1.0 / (2.0 * med**2) if med > 0 else 1.0


def standardize(x: np.ndarray) -> np.ndarray:
    """Z-scores per column with ``ddof=1`` (as causal-learn's KCI); constant columns become 0."""
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1) if len(x) > 1 else np.zeros(x.shape[1])
    out = np.zeros_like(x)
    ok = sd > 0
    out[:, ok] = (x[:, ok] - mean[ok]) / sd[ok]
    return out


def is_constant(v: np.ndarray) -> bool:
    """True when a column has a single value (the kernel tests then return p = 1)."""
    return v.size == 0 or bool(np.all(v == v[0]))


def rows_key(rows: np.ndarray | None) -> bytes | None:
    """A hashable key of a row selection (None: all rows), for per-variable caches."""
    return None if rows is None else np.ascontiguousarray(rows).tobytes()


class MatrixCache:
    """A least-recently-used dict of arrays bounded by total bytes (kernel matrices are n^2)."""

    def __init__(self, max_bytes: int = 1 << 30):
        self.max_bytes = int(max_bytes)
        self._items: dict = {}
        self._bytes = 0

    @staticmethod
    def _size(value) -> int:
        if isinstance(value, np.ndarray):
            return value.nbytes
        if isinstance(value, tuple):
            return sum(MatrixCache._size(v) for v in value)
        return 64

    def get(self, key):
        value = self._items.pop(key, None)
        if value is not None:
            self._items[key] = value  # most recently used goes last
        return value

    def put(self, key, value):
        size = self._size(value)
        if key in self._items:
            self._bytes -= self._size(self._items.pop(key))
        while self._items and self._bytes + size > self.max_bytes:
            old = next(iter(self._items))
            self._bytes -= self._size(self._items.pop(old))
        if size <= self.max_bytes:
            self._items[key] = value
            self._bytes += size
        return value

    def __len__(self) -> int:
        return len(self._items)


@numba.njit(cache=True)
def _pivoted_cholesky(x: np.ndarray, codes: np.ndarray, theta: float, tol: float, max_rank: int):
    n, d = x.shape
    m = codes.shape[1]
    rows = np.zeros((max_rank, n))
    resid = np.ones(n)  # diagonal of the Gaussian x delta kernel is 1
    col = np.empty(n)
    rank = 0
    while rank < max_rank:
        piv = 0
        best = resid[0]
        for j in range(1, n):
            if resid[j] > best:
                best = resid[j]
                piv = j
        if best <= tol:
            break
        for j in range(n):
            s = 0.0
            for k in range(d):
                t = x[j, k] - x[piv, k]
                s += t * t
            v = np.exp(-0.5 * theta * s)
            for k in range(m):
                if codes[j, k] != codes[piv, k]:
                    v = 0.0
            col[j] = v
        if rank > 0:
            coef = rows[:rank, piv].copy()
            col -= np.dot(coef, rows[:rank])
        scale = 1.0 / np.sqrt(best)
        for j in range(n):
            v = col[j] * scale
            rows[rank, j] = v
            resid[j] -= v * v
        resid[piv] = 0.0
        rank += 1
    converged = rank < max_rank or resid.max() <= tol
    return rows[:rank], converged


def lowrank_factor(x: np.ndarray, theta: float, codes: np.ndarray | None = None, tol: float = 1e-12,
                   max_rank: int | None = None) -> np.ndarray | None:
    """Factor ``F`` (n x r) with ``F F' = K`` up to ``tol`` on every entry, or None if r would exceed
    ``max_rank``.

    ``K`` is the Gaussian kernel of the rows of ``x`` (theta as in :func:`gaussian_gram`) times a
    delta kernel per column of ``codes``. Pivoted Cholesky: the residual ``K - F F'`` is positive
    semi-definite with diagonal (hence every entry) at most ``tol``, so with ``tol`` near round-off
    the factor is as exact as a dense eigendecomposition, at O(n r^2) instead of O(n^3).
    """
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(len(x), -1)
    n = x.shape[0]
    if codes is None:
        codes = np.zeros((n, 0))
    codes = np.ascontiguousarray(codes, dtype=np.float64).reshape(n, -1)
    max_rank = n if max_rank is None else min(int(max_rank), n)
    rows, converged = _pivoted_cholesky(x, codes, float(theta), float(tol), max_rank)
    if not converged:
        return None
    return np.ascontiguousarray(rows.T)
