"""HSIC test of unconditional independence with the gamma approximation (Gretton et al. 2008).

Definition used here
--------------------
- Each variable is z-scored (ddof=1) on the rows used; a categorical column (kind
  ``categorical``) gets a delta kernel instead (``categorical_kernel='delta'``, default).
- Gaussian kernel ``k(a, b) = exp(-|a - b|^2 / (2 sigma^2))`` with the median heuristic of
  Gretton's reference code: ``sigma^2 = median(|a_i - a_j|^2) / 2`` over ALL pairs i < j with a
  positive distance (deterministic; no subsample).
- Statistic ``n HSIC_b = tr(Kc Lc) / n`` with ``Kc = HKH``, ``Lc = HLH``.
- Null: gamma with the moments of Gretton et al. (2008, theorems 3 and 4):
  ``E = (1 + mu_x mu_y - mu_x - mu_y) / n`` with ``mu_x`` the mean off-diagonal entry of K,
  ``Var = 2 (n-4)(n-5) / (n(n-1)(n-2)(n-3)) * sum_{i != j} (Kc Lc)_ij^2 / (n(n-1))``
  (of HSIC_b), shape ``E^2 / Var`` and scale ``n Var / E`` for ``n HSIC_b``.
- Constant x or y: statistic 0, p-value 1 (as the other causaltraits tests).
- For n >= 300 a kernel is held as a pivoted-Cholesky factor ``Kc = F F'`` exact to 1e-12 per
  entry (see :mod:`.kci`); the statistic is ``|Fx' Fy|_F^2 / n`` and the variance sum runs over
  row blocks, so no n x n matrix is stored (p-values equal the dense ones to ~1e-12 relative).
- When x or y has at most ``kernels.DISTINCT_MAX`` (32) distinct values on the rows used (a trait
  on a 5-point scale, a league code), every quantity above is a sum over the contingency table of
  value pairs (:func:`~.kernels.pair_moments`): O(n + D^2 m), or O(n + D r^2) with a low-rank
  factor of the kernel on the D distinct values of a continuous partner, instead of O(n^2 r).
  The same numbers to round-off (checked against the dense reference in the tests).

Relation to other implementations (checked in tests/independence/test_hsic.py)
-------------------------------------------------------------------------------
- causal-learn ``lingam.hsic.hsic_test_gamma`` uses the same statistic and moments but takes
  the median from the FIRST 100 rows only (so it depends on row order above n = 100); for
  n <= 100 the two agree to round-off.
- causal-learn ``KCI_UInd`` with the same widths has the same kernel matrices: its statistic is
  ``n`` times this one, but its gamma moments are the simpler ``tr(Kc) tr(Lc) / n`` and
  ``2 |Kc|^2 |Lc|^2 / n^2`` (no finite-sample corrections), so p-values are close, not equal.
- The PersonaX analysis used ``conditional_independence.hsic_test`` (uhlerlab, 0.1a6; read and
  run once for this note, not a dependency). Same gamma moments, but (1) a FIXED kernel
  ``exp(-|a - b|^2)`` (sigma = 1/sqrt 2) on the raw values, so p-values depend on units: on one
  simulated table (n = 500) a trait against height gave p = 4e-7 with height in cm and 0.0 in
  metres, where this test gives 2.7e-18 for both; (2) the cross term of the squared distances is
  computed in single precision (``sgemm``), inexact for large values such as heights in cm;
  (3) the variance sum is divided by n^2 rather than n(n-1) (negligible); (4) ``1 - cdf`` turns
  small p-values into 0; (5) with a conditioning set it tests the residuals of GAM regressions on
  Z, a different test; this class is unconditional only.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import stats

from causaltraits.errors import ParameterError
from causaltraits.independence import kernels as kn
from causaltraits.independence.base import register
from causaltraits.independence.kci import KernelTestBase, dense_rows, trace_product

#: rows per block when summing over n x n products
_BLOCK = 512


def hsic_gamma_moments(n: int, mu_x: float, mu_y: float, offdiag_sq: float) -> tuple[float, float]:
    """Null mean and variance of ``HSIC_b`` (Gretton et al. 2008, theorems 3 and 4).

    ``offdiag_sq`` is ``sum_{i != j} (Kc * Lc)_ij ** 2``.
    """
    mean = (1.0 + mu_x * mu_y - mu_x - mu_y) / n
    var = 2.0 * (n - 4) * (n - 5) / (n * (n - 1) * (n - 2) * (n - 3)) * offdiag_sq / (n * (n - 1))
    return mean, var


@register("hsic")
class HSIC(KernelTestBase):
    """HSIC gamma test of ``X _||_ Y`` (unconditional), median-heuristic Gaussian kernels.

    Parameters
    ----------
    data : n x p float array, NaN for missing (test-wise deletion)
    kinds : kind of each column; ``categorical`` columns get a delta kernel
    seed : unused (the test is deterministic); kept for the common interface
    categorical_kernel : ``'delta'`` (default) or ``'gaussian'`` for categorical columns
    cache_bytes : memory budget of the per-variable kernel cache (default 1 GiB)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=200)
    >>> data = np.column_stack([x, x ** 2 + 0.1 * rng.normal(size=200), rng.normal(size=200)])
    >>> t = HSIC(data)
    >>> t(0, 1) < 0.01 < t(0, 2)
    True
    """

    conditional = False

    def __init__(
        self,
        data: np.ndarray,
        kinds: Sequence[str] | None = None,
        seed: int = 0,
        categorical_kernel: str = "delta",
        **params: Any,
    ):
        if categorical_kernel not in ("delta", "gaussian"):
            raise ParameterError(f"categorical_kernel must be 'delta' or 'gaussian', got '{categorical_kernel}'")
        super().__init__(data, kinds=kinds, seed=seed, categorical_kernel=categorical_kernel, **params)

    def _centred(self, col: int, rows: np.ndarray | None) -> tuple:
        """Centred Gram matrix of one variable (``("G", F)`` with ``Kc = F F'``, or ``("K", Kc)``),
        the mean off-diagonal entry of the raw one, and the diagonal of the centred one."""
        key = ("hsic", col, kn.rows_key(rows))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        block = self._continuous_block([(col, 1.0)], rows)
        theta = self._theta(block[:, 0])
        n = block.shape[0]
        f = self._factor([(col, 1.0)], rows, theta)
        if f is not None:
            total = float(np.sum(f.sum(axis=0) ** 2))  # 1' K 1; the diagonal of K is exactly 1
            fc = np.ascontiguousarray(f - f.mean(axis=0))
            value = ("G", fc, (total - n) / (n * (n - 1)), np.einsum("ij,ij->i", fc, fc))
        else:
            k = self._gram([(col, 1.0)], rows, theta)
            mu = (float(k.sum()) - float(np.trace(k))) / (n * (n - 1))
            kc = kn.center_gram(k)
            value = ("K", kc, mu, kc.diagonal().copy())
        return self._cache.put(key, value)

    def _compute(self, x, y, z, rows):
        if kn.is_constant(self._column(x, rows)) or kn.is_constant(self._column(y, rows)):
            return 0.0, 1.0, None
        n = self.data.shape[0] if rows is None else len(rows)
        if n < 6:  # the variance formula needs n > 5
            return float("nan"), float("nan"), None
        if self._few_values(x, y, rows):
            (vx, dx), (vy, dy) = self._kernel_input(x, rows), self._kernel_input(y, rows)
            pm = kn.pair_moments(vx, vy, 1.0 if dx else self._theta(vx), 1.0 if dy else self._theta(vy), dx, dy)
            stat = pm.trace_product / n
            mean, var = hsic_gamma_moments(n, pm.mean_offdiag_k, pm.mean_offdiag_l,
                                           pm.hadamard_sq - pm.hadamard_sq_diag)
            return stat, self._pvalue(stat, n, mean, var), None
        kx, ky = self._centred(x, rows), self._centred(y, rows)
        stat = trace_product(kx, ky) / n
        # sum over i != j of (Kc * Lc)_ij^2, in row blocks (no n x n temporaries)
        total = 0.0
        for start in range(0, n, _BLOCK):
            prod = dense_rows(kx, start, start + _BLOCK) * dense_rows(ky, start, start + _BLOCK)
            total += float(np.vdot(prod, prod))
        offdiag_sq = total - float(np.sum((kx[3] * ky[3]) ** 2))
        mean, var = hsic_gamma_moments(n, kx[2], ky[2], offdiag_sq)
        return stat, self._pvalue(stat, n, mean, var), None

    @staticmethod
    def _theta(z: np.ndarray) -> float:
        """``1 / sigma^2`` with ``sigma^2 = median(|a_i - a_j|^2) / 2`` of the z-scores ``z``."""
        med_sq = kn.median_distance(z[:, None], squared=True)
        return 2.0 / med_sq if med_sq > 0 else 1.0

    @staticmethod
    def _pvalue(stat: float, n: int, mean: float, var: float) -> float:
        """Gamma upper tail of ``n HSIC_b`` given the null mean and variance of ``HSIC_b``."""
        if not (mean > 0 and var > 0):
            return float("nan")
        return float(stats.gamma.sf(stat, mean**2 / var, scale=n * var / mean))
