"""Kernel-based conditional independence test (KCI, Zhang et al. 2011), exact and cached.

The same test as causal-learn's ``CIT(data, 'kci')`` with its defaults (``KCI_UInd`` and
``KCI_CInd``: Gaussian kernels, ``est_width='empirical'``, ``approx=True``, i.e. the gamma
approximation of the null for both the unconditional and the conditional test), agreeing to
round-off on the same rows:

unconditional
    x, y z-scored (ddof=1); ``Kx, Ky`` Gaussian with causal-learn's empirical widths
    (:func:`~.kernels.empirical_theta_hsic`); statistic ``sum(HKxH * HKyH)``; gamma with mean
    ``tr(Kxc) tr(Kyc) / n`` and variance ``2 |Kxc|^2 |Kyc|^2 / n^2``.
conditional
    x, y, Z z-scored; ``Kx`` on ``[x, Z / 2]``, ``Ky`` on ``y``, ``Kz`` on ``Z`` (x is the
    lower column index, as in causal-learn), all with theta ``1 / (sigma^2 |Z|)``
    (:func:`~.kernels.empirical_theta_kci`), centred; ``Rz = eps (Kzc + eps I)^-1`` with
    ``eps = 1e-3``; ``KxR = Rz Kxc Rz`` (same for y); statistic ``sum(KxR * KyR)``; the gamma
    moments come from the eigenpairs of ``KxR`` and ``KyR`` above ``1e-5`` times the largest.

What is different (and faster)
------------------------------
- ``Rz`` is kept as ``I - U diag(c) U'`` with ``U, lambda`` the eigenpairs of ``Kzc`` and
  ``c = lambda / (lambda + eps)`` (causal-learn calls ``pinv``, an SVD, several times slower);
  ``Kzc + eps I`` is well conditioned, so the two agree to round-off.
- Low rank where it is exact: a Gaussian kernel on at most two continuous dimensions (x, y, Z,
  and [x, Z/2] when |Z| = 1; delta kernels multiply in) has numerical rank far below n. For
  n >= 300 such a kernel is
  factored by pivoted Cholesky, ``K = F F' + E`` with ``E`` positive semi-definite and every
  entry of ``E`` below 1e-12 (round-off level, as a dense eigendecomposition), and the test runs
  on the factors: ``Rz`` from the SVD of the centred ``F_z``, ``KxR = G G'`` with
  ``G = Rz F_x``, eigenpairs from the SVD of ``G``, statistic ``|Gx' Gy|_F^2``. Cost O(n^2 r)
  instead of O(n^3); p-values agree with causal-learn to ~1e-9 relative. Kernels whose factor
  would exceed rank n/3, or on more dimensions, use the dense path. The unconditional test
  uses the same factors: statistic ``|Fx' Fy|_F^2``, O(n r^2) time and memory per pair.
- Unconditional pairs where x or y has at most ``kernels.DISTINCT_MAX`` (32) distinct values
  (traits on a 5-point scale) are computed on the contingency table of value pairs
  (:func:`~.kernels.pair_moments`): the statistic, ``tr(Kc)``, ``|Kc|^2`` (and y's) are sums
  over value pairs weighted by their counts, O(n + D^2 m) or O(n + D r^2) (low-rank factor of
  the kernel on a continuous partner's D distinct values) instead of O(n^2); same numbers to
  round-off.
- The gamma moments ``tr(UU')`` and ``tr((UU')^2)`` of causal-learn's n x (kx ky) product
  matrix ``UU`` are computed as ``sum(diag(Ax) diag(Ay))`` and ``sum((Ax * Ay)^2)`` with
  ``Ax = Vx Vx'`` the truncated ``KxR`` (the same numbers, O(n^2 k) instead of O(n^2 k^2)).
- Caching: the test object keeps, per row selection, each variable's centred kernel or factor
  (unconditional), each conditioning set's ``Rz`` and each (variable, Z) reduced kernel with its
  eigenpairs, in an LRU bounded by ``cache_bytes``. A battery of pairs therefore builds each
  variable's kernel once (per set of complete rows: with missing values the rows, hence the
  z-scores and kernels, differ by pair); in PC the (x, Z) pieces are reused across pairs.
- p-values use ``gamma.sf`` (causal-learn: ``1 - gamma.cdf``, which loses digits below 1e-16).
- ``width='median'`` uses the median of ALL pairwise distances; causal-learn draws 1,000 rows
  without a seed above n = 1,000, so the two agree only for n <= 1,000 (and causal-learn is not
  reproducible above). The default ``'empirical'`` rule involves no sampling. As in
  causal-learn, the unconditional median width is taken from the raw column (and applied to the
  z-scored one), the conditional ones from the z-scored data.
- Columns of kind ``categorical`` use a delta kernel (``categorical_kernel='delta'``, default)
  instead of a Gaussian on arbitrary codes; ``'gaussian'`` reproduces causal-learn.
- Degenerate input: if x or y is constant on the rows used the result is statistic 0,
  p-value 1 (causal-learn returns NaN); constant Z columns contribute nothing.

The null-simulation variant (``approx=False``) is not offered: it is random, slower, and not
causal-learn's default.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import stats

from causaltraits.errors import ParameterError
from causaltraits.independence import kernels as kn
from causaltraits.independence.base import CITest, register

#: ridge of causal-learn's kernel regression on Z (``epsilon_x = epsilon_y = 1e-3``)
EPSILON = 1e-3
#: eigenvalues of the reduced kernels below this fraction of the largest are dropped (causal-learn)
EIG_THRESH = 1e-5
#: largest entry of ``K - F F'`` allowed for a low-rank kernel factor (round-off level)
LOWRANK_TOL = 1e-12
#: kernels on more continuous dimensions than this are handled densely (their rank is too high)
LOWRANK_MAX_DIM = 2


def gamma_pvalue(stat: float, mean: float, var: float) -> float:
    """Upper tail of the gamma distribution with the given mean and variance at ``stat``."""
    if not (mean > 0 and var > 0):
        return float("nan")
    shape = mean**2 / var
    scale = var / mean
    return float(stats.gamma.sf(stat, shape, loc=0.0, scale=scale))


def trace_product(a: tuple, b: tuple) -> float:
    """``sum(A * B)`` for symmetric A, B given as ``("G", F)`` (``A = F F'``) or ``("K", A)``."""
    if a[0] == "G" and b[0] == "G":
        m = a[1].T @ b[1]
        return float(np.vdot(m, m))
    if a[0] == "K" and b[0] == "K":
        return float(np.vdot(a[1], b[1]))
    k, g = (a[1], b[1]) if a[0] == "K" else (b[1], a[1])
    return float(np.vdot(k @ g, g))


def dense_rows(a: tuple, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a matrix given as ``("G", F)`` or ``("K", A)``."""
    return a[1][start:stop] @ a[1].T if a[0] == "G" else a[1][start:stop]


class KernelTestBase(CITest):
    """Common machinery of the kernel tests: standardised columns, kernels, a bounded cache."""

    def __init__(
        self,
        data: np.ndarray,
        kinds: Sequence[str] | None = None,
        seed: int = 0,
        cache_bytes: int = 1 << 30,
        **params: Any,
    ):
        super().__init__(data, kinds=kinds, seed=seed, **params)
        # cache_bytes changes speed and memory, never a p-value: not in params
        self._cache = kn.MatrixCache(cache_bytes)
        #: below this many rows every kernel is handled densely (fast enough; tests lower it)
        self.lowrank_min_n = 300

    def _column(self, col: int, rows: np.ndarray | None) -> np.ndarray:
        v = self.data[:, col]
        return v if rows is None else v[rows]

    def _is_categorical(self, col: int) -> bool:
        return self.params.get("categorical_kernel", "delta") == "delta" and self.kinds[col] == "categorical"

    def _gram(self, cols: Sequence[tuple[int, float]], rows: np.ndarray | None, theta: float) -> np.ndarray:
        """Product kernel over ``cols`` = [(column, scale)]: Gaussian on the standardised and
        scaled non-categorical columns (one joint RBF), times a delta kernel per categorical one."""
        cont = [(c, s) for c, s in cols if not self._is_categorical(c)]
        cat = [c for c, _ in cols if self._is_categorical(c)]
        n = self.data.shape[0] if rows is None else len(rows)
        if cont:
            x = np.column_stack([s * kn.standardize(self._column(c, rows))[:, 0] for c, s in cont])
            k = kn.gaussian_gram(np.ascontiguousarray(x), float(theta))
        else:
            k = np.ones((n, n))
        for c in cat:
            k *= kn.delta_gram(np.ascontiguousarray(self._column(c, rows)))
        return k

    def _factor(self, cols: Sequence[tuple[int, float]], rows: np.ndarray | None, theta: float) -> np.ndarray | None:
        """Low-rank factor ``F F' = K`` (to round-off) when it pays, else None (use dense)."""
        cont = [(c, s) for c, s in cols if not self._is_categorical(c)]
        n = self.data.shape[0] if rows is None else len(rows)
        if len(cont) > LOWRANK_MAX_DIM or n < self.lowrank_min_n:
            return None
        cat = [c for c, _ in cols if self._is_categorical(c)]
        codes = np.column_stack([self._column(c, rows) for c in cat]) if cat else None
        return kn.lowrank_factor(self._continuous_block(cols, rows), theta, codes, tol=LOWRANK_TOL,
                                 max_rank=max(n // 3, 1))

    def _kernel_input(self, col: int, rows: np.ndarray | None) -> tuple[np.ndarray, bool]:
        """The 1-D values a kernel on one variable sees: (codes, True) for a delta kernel, else
        (z-scores, False)."""
        if self._is_categorical(col):
            return self._column(col, rows), True
        return kn.standardize(self._column(col, rows))[:, 0], False

    def _few_values(self, x: int, y: int, rows: np.ndarray | None) -> bool:
        """True when x or y has at most ``kn.DISTINCT_MAX`` distinct values on the rows used, so
        the pair is computed exactly on its contingency table (:func:`~.kernels.pair_moments`)."""
        return min(kn.count_distinct(self._column(x, rows)),
                   kn.count_distinct(self._column(y, rows))) <= kn.DISTINCT_MAX

    def _continuous_block(self, cols: Sequence[tuple[int, float]], rows: np.ndarray | None) -> np.ndarray:
        cont = [(c, s) for c, s in cols if not self._is_categorical(c)]
        if not cont:
            return np.zeros((self.data.shape[0] if rows is None else len(rows), 1))
        return np.column_stack([s * kn.standardize(self._column(c, rows))[:, 0] for c, s in cont])


@register("kci")
class KCI(KernelTestBase):
    """Kernel conditional independence test with causal-learn's default settings, exact.

    Parameters
    ----------
    data : n x p float array, NaN for missing (test-wise deletion)
    kinds : kind of each column; ``categorical`` columns get a delta kernel (see below)
    seed : unused (the test is deterministic); kept for the common interface
    width : ``'empirical'`` (causal-learn's default rule) or ``'median'``
    categorical_kernel : ``'delta'`` (default) or ``'gaussian'`` for categorical columns
    cache_bytes : memory budget of the per-variable kernel cache (default 1 GiB)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=300); data = np.column_stack([z + rng.normal(size=300), z, z ** 2])
    >>> t = KCI(data)
    >>> t(0, 2, (1,)) > 0.01
    True
    """

    def __init__(
        self,
        data: np.ndarray,
        kinds: Sequence[str] | None = None,
        seed: int = 0,
        width: str = "empirical",
        categorical_kernel: str = "delta",
        **params: Any,
    ):
        if width not in ("empirical", "median"):
            raise ParameterError(f"KCI width must be 'empirical' or 'median', got '{width}'")
        if categorical_kernel not in ("delta", "gaussian"):
            raise ParameterError(f"categorical_kernel must be 'delta' or 'gaussian', got '{categorical_kernel}'")
        super().__init__(data, kinds=kinds, seed=seed, width=width, categorical_kernel=categorical_kernel, **params)
        self.width = width

    # ------------------------------------------------------------ unconditional pieces
    def _centred(self, col: int, rows: np.ndarray | None) -> tuple:
        """Centred kernel of one variable, ``("G", F)`` with ``Kc = F F'`` or ``("K", Kc)``,
        followed by its trace and squared Frobenius norm."""
        key = ("u", col, kn.rows_key(rows))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        theta = self._theta_unconditional(col, rows)
        f = self._factor([(col, 1.0)], rows, theta)
        if f is not None:
            fc = np.ascontiguousarray(f - f.mean(axis=0))
            gram = fc.T @ fc
            value = ("G", fc, float(np.trace(gram)), float(np.vdot(gram, gram)))
        else:
            kc = kn.center_gram(self._gram([(col, 1.0)], rows, theta))
            value = ("K", kc, float(np.trace(kc)), float(np.vdot(kc, kc)))
        return self._cache.put(key, value)

    def _theta_unconditional(self, col: int, rows: np.ndarray | None) -> float:
        n = self.data.shape[0] if rows is None else len(rows)
        if self.width == "empirical":
            return kn.empirical_theta_hsic(n, 1)
        # causal-learn's KCI_UInd takes the median width from the RAW column and applies it
        # to the z-scored one (KCI_CInd standardises first); matched here on purpose.
        return 1.0 if self._is_categorical(col) else kn.median_theta_kci(self._column(col, rows)[:, None])

    def _unconditional(self, x, y, rows):
        if self._few_values(x, y, rows):
            (vx, dx), (vy, dy) = self._kernel_input(x, rows), self._kernel_input(y, rows)
            pm = kn.pair_moments(vx, vy, self._theta_unconditional(x, rows), self._theta_unconditional(y, rows),
                                 dx, dy)
            n = pm.n
            stat = pm.trace_product
            return stat, gamma_pvalue(stat, pm.trace_k * pm.trace_l / n, 2.0 * pm.fro2_k * pm.fro2_l / n**2), None
        kx, ky = self._centred(x, rows), self._centred(y, rows)
        n = self.data.shape[0] if rows is None else len(rows)
        stat = trace_product(kx, ky)
        return stat, gamma_pvalue(stat, kx[2] * ky[2] / n, 2.0 * kx[3] * ky[3] / n**2), None

    # ------------------------------------------------------------ conditional pieces
    def _theta(self, n: int, z: tuple[int, ...], block: np.ndarray) -> float:
        if self.width == "empirical":
            return kn.empirical_theta_kci(n, len(z))
        return kn.median_theta_kci(block)

    def _residualizer(self, z: tuple[int, ...], rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``Rz = eps (Kzc + eps I)^-1`` as ``I - U diag(c) U'`` (cached per Z and rows).

        ``U, lambda`` are the eigenpairs of ``Kzc`` (from the SVD of its centred factor when the
        kernel has low rank, else a dense eigendecomposition) and ``c = lambda / (lambda + eps)``.
        """
        key = ("rz", z, kn.rows_key(rows))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        cols = [(c, 1.0) for c in z]
        n = self.data.shape[0] if rows is None else len(rows)
        theta = self._theta(n, z, self._continuous_block(cols, rows))
        f = self._factor(cols, rows, theta)
        if f is not None:
            u, sv, _ = np.linalg.svd(f - f.mean(axis=0), full_matrices=False)
            lam = sv**2
        else:
            lam, u = np.linalg.eigh(kn.center_gram(self._gram(cols, rows, theta)))
        return self._cache.put(key, (np.ascontiguousarray(u), lam / (lam + EPSILON)))

    def _reduced(self, col: int, z: tuple[int, ...], rows: np.ndarray | None, with_z: bool):
        """``KR = Rz Kc Rz`` of x (kernel on [x, Z/2], ``with_z``) or of y (kernel on y), as
        ``("G", G, Vs)`` with ``KR = G G'`` or ``("K", KR, Vs)``; ``Vs = V sqrt(w)`` are its
        eigenvectors scaled by the root eigenvalues, for eigenvalues above ``EIG_THRESH * max``."""
        key = ("r", col, z, with_z, kn.rows_key(rows))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        cols = [(col, 1.0)] + ([(c, 0.5) for c in z] if with_z else [])
        n = self.data.shape[0] if rows is None else len(rows)
        theta = self._theta(n, z, self._continuous_block(cols, rows))
        u, c = self._residualizer(z, rows)
        f = self._factor(cols, rows, theta)
        if f is not None:
            fc = f - f.mean(axis=0)
            g = fc - u @ (c[:, None] * (u.T @ fc))
            p, sv, _ = np.linalg.svd(g, full_matrices=False)
            w = sv**2
            keep = w > w.max() * EIG_THRESH
            value = ("G", np.ascontiguousarray(g), np.ascontiguousarray(p[:, keep] * sv[keep]))
        else:
            kc = kn.center_gram(self._gram(cols, rows, theta))
            b = kc - u @ (c[:, None] * (u.T @ kc))  # Rz Kc
            kr = b - ((b @ u) * c) @ u.T  # Rz Kc Rz
            kr = 0.5 * (kr + kr.T)
            w, v = np.linalg.eigh(kr)
            keep = w > w.max() * EIG_THRESH
            value = ("K", kr, np.ascontiguousarray(v[:, keep] * np.sqrt(w[keep])))
        return self._cache.put(key, value)

    def _conditional(self, x, y, z, rows):
        rx = self._reduced(x, z, rows, with_z=True)
        ry = self._reduced(y, z, rows, with_z=False)
        stat = trace_product(rx, ry)
        vx, vy = rx[2], ry[2]
        mean = float(np.dot(np.einsum("ij,ij->i", vx, vx), np.einsum("ij,ij->i", vy, vy)))
        prod = (vx @ vx.T) * (vy @ vy.T)
        var = 2.0 * float(np.vdot(prod, prod))
        return stat, gamma_pvalue(stat, mean, var), None

    def _compute(self, x, y, z, rows):
        if kn.is_constant(self._column(x, rows)) or kn.is_constant(self._column(y, rows)):
            return 0.0, 1.0, None
        if not z:
            return self._unconditional(x, y, rows)
        return self._conditional(x, y, z, rows)
