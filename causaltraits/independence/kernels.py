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

:func:`pair_moments` computes every centred-kernel sum an unconditional test needs on the
contingency table of a pair in which one variable has few distinct values (O(n + D^2 m)).

The loops are numba (nopython, cache=True): one pass over the upper triangle, no n x n
temporaries besides the output.
"""

from __future__ import annotations

from typing import NamedTuple

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


def _median_sq_1d(v: np.ndarray, root: bool = False) -> float:
    # ``root``: the median of the distances sqrt((v_j - v_i)^2), whose order statistics are the
    # roots of the squared ones (sqrt is monotone), computed as the enumeration computes them
    v = np.sort(np.asarray(v, dtype=np.float64))
    n = v.shape[0]
    zeros = _count_sq_le(v, 0.0)
    m = n * (n - 1) // 2 - zeros
    if m == 0:
        return float("nan")
    f = np.sqrt if root else (lambda t: t)
    if m % 2:
        return float(f(_kth_positive_sq(v, m // 2, zeros)))
    a = f(_kth_positive_sq(v, m // 2 - 1, zeros))
    b = f(_kth_positive_sq(v, m // 2, zeros))
    return float(np.mean(np.array([a, b])))  # as np.median does for an even count


def median_distance(x: np.ndarray, squared: bool = False) -> float:
    """Median of the positive pairwise (squared, if asked) Euclidean distances over all pairs.

    Exact. For one column the order statistics are found in O(n log n) (sort, then bisection
    with pair counting) instead of enumerating the n^2 / 2 pairs. Returns NaN when all rows are
    equal.
    """
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(len(x), -1)
    if x.shape[1] == 1 and len(x) > 1:
        return _median_sq_1d(x[:, 0], root=not squared)
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


# ---------------------------------------------------------------------- pairs with few distinct values
#: a pair goes through :func:`pair_moments` when one variable has at most this many distinct values
DISTINCT_MAX = 32
#: above this many distinct values a Gaussian kernel on them is factored (pivoted Cholesky) ...
FACTOR_MIN_DISTINCT = 512
#: ... when a factor of at most this rank reaches ``factor_tol`` (else the exact O(D^2 m) pass)
FACTOR_MAX_RANK = 200


def count_distinct(v: np.ndarray) -> int:
    """Number of distinct values of a 1-D array (O(n log n))."""
    v = np.sort(np.asarray(v, dtype=np.float64))
    return int(v.size and 1 + np.count_nonzero(v[1:] != v[:-1]))


class PairMoments(NamedTuple):
    """Centred-kernel quantities of one pair of variables (``Kc = HKH``, ``Lc = HLH``, n rows)."""

    n: int
    trace_product: float  #: ``sum(Kc * Lc)`` = ``tr(Kc Lc)``
    mean_offdiag_k: float  #: mean off-diagonal entry of the raw ``K``
    mean_offdiag_l: float
    trace_k: float  #: ``tr(Kc)``
    trace_l: float
    fro2_k: float  #: ``sum(Kc ** 2)``
    fro2_l: float
    hadamard_sq: float  #: ``sum((Kc * Lc) ** 2)`` over all (i, j)
    hadamard_sq_diag: float  #: the same over i = j only


@numba.njit(cache=True)
def _many_valued_side(u: np.ndarray, theta: float, delta: bool, a: np.ndarray, ptr: np.ndarray,
                      idx: np.ndarray, val: np.ndarray, m: int):
    """Row means of K and the products of the centred kernel (and its square) with the table.

    ``u`` are the d distinct values, ``a`` their counts; the d x m contingency table against the
    other variable is given sparse by rows (``ptr, idx, val``: a many-valued variable's values
    mostly meet one or two values of the other). Returns ``r`` (``r_p`` = mean of row p of K),
    the grand mean ``g``, ``t1 = Kcd C`` and ``t2 = (Kcd ** 2) C`` with ``Kcd`` the d x d centred
    kernel on the values. Two passes over the pairs p < q, kernel entries recomputed (no d x d
    matrix).
    """
    d = u.shape[0]
    n = 0.0
    for p in range(d):
        n += a[p]
    r = a.copy()  # K_pp = 1
    if not delta:
        for p in range(d):
            up = u[p]
            ap = a[p]
            s = 0.0
            for q in range(p + 1, d):
                t = up - u[q]
                k = np.exp(-0.5 * theta * (t * t))
                s += k * a[q]
                r[q] += k * ap
            r[p] += s
    for p in range(d):
        r[p] /= n
    g = 0.0
    for p in range(d):
        g += a[p] * r[p]
    g /= n
    t1 = np.zeros((d, m))
    t2 = np.zeros((d, m))
    acc1 = np.zeros(m)
    acc2 = np.zeros(m)
    for p in range(d):
        rp = r[p] - g
        kc = 1.0 - rp - r[p]
        kc2 = kc * kc
        for j in range(ptr[p], ptr[p + 1]):
            acc1[idx[j]] = kc * val[j]
            acc2[idx[j]] = kc2 * val[j]
        up = u[p]
        for q in range(p + 1, d):
            if delta:
                k = 0.0
            else:
                t = up - u[q]
                k = np.exp(-0.5 * theta * (t * t))
            kc = k - rp - r[q]
            kc2 = kc * kc
            for j in range(ptr[q], ptr[q + 1]):
                acc1[idx[j]] += kc * val[j]
                acc2[idx[j]] += kc2 * val[j]
            for j in range(ptr[p], ptr[p + 1]):
                t1[q, idx[j]] += kc * val[j]
                t2[q, idx[j]] += kc2 * val[j]
        for s in range(m):
            t1[p, s] += acc1[s]
            t2[p, s] += acc2[s]
            acc1[s] = 0.0
            acc2[s] = 0.0
    return r, g, t1, t2


@numba.njit(cache=True)
def _factor_side(fc: np.ndarray, ptr: np.ndarray, idx: np.ndarray, val: np.ndarray, m: int):
    """Table-weighted sums of a centred factor's rows ``f_p`` and of their packed outer products.

    Returns ``s`` (m x r, ``s_t = sum_p C_pt f_p``), ``g`` (m x r(r+1)/2, the upper triangle of
    ``sum_p C_pt f_p f_p'`` with off-diagonal entries times sqrt 2, so that ``g_t . g_u`` is the
    Frobenius product of the two r x r sums) and ``d4`` (``sum_p C_pt |f_p|^4``).
    """
    d, r = fc.shape
    s = np.zeros((m, r))
    g = np.zeros((m, r * (r + 1) // 2))
    d4 = np.zeros(m)
    w = np.empty(r * (r + 1) // 2)
    root2 = np.sqrt(2.0)
    for p in range(d):
        h = 0
        nrm = 0.0
        for a in range(r):
            fa = fc[p, a]
            nrm += fa * fa
            w[h] = fa * fa
            h += 1
            fa2 = root2 * fa
            for b in range(a + 1, r):
                w[h] = fa2 * fc[p, b]
                h += 1
        for j in range(ptr[p], ptr[p + 1]):
            t = idx[j]
            c = val[j]
            for a in range(r):
                s[t, a] += c * fc[p, a]
            for h in range(w.shape[0]):
                g[t, h] += c * w[h]
            d4[t] += c * nrm * nrm
    return s, g, d4


def _small_side(u: np.ndarray, theta: float, delta: bool, b: np.ndarray):
    """Dense centred kernel on the m distinct values, the raw kernel's grand mean."""
    if delta:
        k = np.eye(len(u))
    else:
        t = u[:, None] - u[None, :]
        k = np.exp(-0.5 * theta * (t * t))
    n = b.sum()
    r = k @ b / n
    g = float(b @ r) / n
    return k - r[:, None] - r[None, :] + g, g


def pair_moments(x: np.ndarray, y: np.ndarray, theta_x: float, theta_y: float, delta_x: bool = False,
                 delta_y: bool = False, factor_tol: float = 1e-12) -> PairMoments:
    """Exact centred-kernel quantities of a pair computed on its contingency table of distinct values.

    ``x``, ``y`` are the (standardised, or category-code for a delta kernel) columns on the rows
    used; kernels as :func:`gaussian_gram` (``theta``) or :func:`delta_gram` (``delta_*``). A
    variable with d distinct values has a Gram matrix that is a d x d matrix expanded by the
    row-to-value indicator ``E`` (``K = E Kd E'``), so with ``C = Ex' Ey`` (the counts of value
    pairs) every sum over the n x n entries is a sum over value pairs weighted by ``C``:
    ``sum(Kc * Lc) = sum((C' Kcd C) * Lcd)``, ``sum((Kc * Lc)^2) = sum((C' Kcd^2 C) * Lcd^2)``.
    Cost O(n + D^2 m) with D, m the larger and smaller numbers of distinct values, instead of
    O(n^2); meant for m <= :data:`DISTINCT_MAX` (a trait on a 5-point scale against anything).
    When D > :data:`FACTOR_MIN_DISTINCT` (a continuous column) the Gaussian kernel on the D values
    is factored, ``Kd = F F'`` with every entry of the (positive semi-definite) residual below
    ``factor_tol`` (as :func:`lowrank_factor`, the same exactness as the unconditional tests'
    general path), and the sums are taken over the factor: with ``f_p`` the centred rows,
    ``sum(Kc * Lc) = sum_{t,u} Lcd_tu s_t . s_u`` with ``s_t = sum_p C_pt f_p``, and
    ``sum((Kc * Lc)^2) = sum_{t,u} Lcd_tu^2 <G_t, G_u>`` with ``G_t = sum_p C_pt f_p f_p'``, in
    O(D r^2 + m^2 r^2) (rank r <= :data:`FACTOR_MAX_RANK`, else the exact pass is used).
    """
    ux, ix, ax = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True, return_counts=True)
    uy, iy, ay = np.unique(np.asarray(y, dtype=np.float64), return_inverse=True, return_counts=True)
    swapped = len(ux) < len(uy)
    if swapped:  # the many-valued variable goes through the O(D^2 m) pass
        ux, ix, ax, uy, iy, ay = uy, iy, ay, ux, ix, ax
        theta_x, theta_y, delta_x, delta_y = theta_y, theta_x, delta_y, delta_x
    n = int(ax.sum())
    dx, dy = len(ux), len(uy)
    c = np.bincount(ix.ravel() * dy + iy.ravel(), minlength=dx * dy).reshape(dx, dy).astype(np.float64)
    a, b = ax.astype(np.float64), ay.astype(np.float64)
    rows_nz, cols_nz = np.nonzero(c)  # row-major order: a CSR layout of the table
    ptr = np.searchsorted(rows_nz, np.arange(dx + 1)).astype(np.int64)
    lcd, gl = _small_side(uy, float(theta_y), bool(delta_y), b)
    lcd_diag = np.diag(lcd).copy()
    mu_l = (n * n * gl - n) / (n * (n - 1)) if n > 1 else float("nan")
    l_side = (mu_l, float(b @ lcd_diag), float(b @ (lcd * lcd) @ b))
    f = None
    if dx > FACTOR_MIN_DISTINCT and not delta_x:
        f = lowrank_factor(ux[:, None], theta_x, tol=factor_tol, max_rank=min(dx // 3, FACTOR_MAX_RANK))
    if f is not None:
        # Kd = F F' to round-off: the O(D^2 m) pass becomes O(D r^2) on the centred factor
        mean_row = a @ f / n
        fc = np.ascontiguousarray(f - mean_row)
        sums, outer, d4 = _factor_side(fc, ptr, cols_nz.astype(np.int64), c[rows_nz, cols_nz], dy)
        fca = fc.T @ (a[:, None] * fc)
        total = n * n * float(mean_row @ mean_row)  # 1'K1
        k_side = ((total - n) / (n * (n - 1)) if n > 1 else float("nan"),
                  float(a @ np.einsum("ij,ij->i", fc, fc)), float(np.vdot(fca, fca)))
        if swapped:
            k_side, l_side = l_side, k_side
        return PairMoments(
            n=n, trace_product=float(np.sum((sums @ sums.T) * lcd)),
            mean_offdiag_k=k_side[0], mean_offdiag_l=l_side[0], trace_k=k_side[1], trace_l=l_side[1],
            fro2_k=k_side[2], fro2_l=l_side[2], hadamard_sq=float(np.sum((outer @ outer.T) * (lcd * lcd))),
            hadamard_sq_diag=float(d4 @ (lcd_diag**2)),
        )
    rk, gk, t1, t2 = _many_valued_side(ux, float(theta_x), bool(delta_x), a, ptr, cols_nz.astype(np.int64),
                                       c[rows_nz, cols_nz], dy)
    kcd_diag = 1.0 - 2.0 * rk + gk  # K_pp = 1
    pairs_diag = float(np.sum(c * np.outer(kcd_diag**2, lcd_diag**2)))
    mu_k = (n * n * gk - n) / (n * (n - 1)) if n > 1 else float("nan")
    k_side = (mu_k, float(a @ kcd_diag), float(a @ t2.sum(axis=1)))
    if swapped:
        k_side, l_side = l_side, k_side
    return PairMoments(
        n=n,
        trace_product=float(np.sum((c.T @ t1) * lcd)),
        mean_offdiag_k=k_side[0],
        mean_offdiag_l=l_side[0],
        trace_k=k_side[1],
        trace_l=l_side[1],
        fro2_k=k_side[2],
        fro2_l=l_side[2],
        hadamard_sq=float(np.sum((c.T @ t2) * (lcd * lcd))),
        hadamard_sq_diag=pairs_diag,
    )
