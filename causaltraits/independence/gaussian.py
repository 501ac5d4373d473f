"""Fisher-z test of zero partial correlation."""

from __future__ import annotations

import numpy as np
from scipy import stats

from causaltraits.independence.base import CITest, register


@register("fisherz")
class FisherZ(CITest):
    """Fisher's z on the partial correlation of x and y given z (linear Gaussian).

    Matches causal-learn's ``fisherz`` on complete data: same correlation, same clipping of
    |r| at 1 - eps, same statistic ``sqrt(n - |z| - 3) * |atanh(r)|`` and two-sided p-value.

    Degenerate input (causal-learn gives NaN): if x or y is constant on the rows used the result
    is statistic 0, p-value 1, as in the other causaltraits tests; constant columns of z are
    dropped from the conditioning set (conditioning on a constant changes nothing).
    """

    def __init__(self, data, kinds=None, seed=0, **params):
        super().__init__(data, kinds=kinds, seed=seed, **params)
        self._corr_full: np.ndarray | None = None

    def _corr(self, cols: list[int], rows: np.ndarray | None) -> np.ndarray:
        if rows is None:
            if self._corr_full is None:
                with np.errstate(invalid="ignore", divide="ignore"):  # constant columns: NaN, unused
                    self._corr_full = np.corrcoef(self.data.T)
            return self._corr_full[np.ix_(cols, cols)]
        return np.corrcoef(self.columns(cols, rows).T)

    def _is_constant(self, col: int, rows: np.ndarray | None) -> bool:
        v = self.data[:, col] if rows is None else self.data[rows, col]
        return bool(np.all(v == v[0]))

    def _compute(self, x, y, z, rows):
        if self._is_constant(x, rows) or self._is_constant(y, rows):
            return 0.0, 1.0, None
        z = tuple(c for c in z if not self._is_constant(c, rows))
        cols = [x, y, *z]
        n = self.data.shape[0] if rows is None else len(rows)
        sub = self._corr(cols, rows)
        try:
            inv = np.linalg.inv(sub)
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(sub)
        r = -inv[0, 1] / np.sqrt(abs(inv[0, 0] * inv[1, 1]))
        if not np.isfinite(r):
            return float("nan"), float("nan"), None
        eps = np.finfo(float).eps
        if abs(r) >= 1:
            r = (1.0 - eps) * np.sign(r)
        zstat = 0.5 * np.log((1 + r) / (1 - r))
        dof = n - len(z) - 3
        if dof <= 0:
            return float("nan"), float("nan"), None
        stat = np.sqrt(dof) * abs(zstat)
        p = 2 * (1 - stats.norm.cdf(abs(stat)))
        return stat, p, None
