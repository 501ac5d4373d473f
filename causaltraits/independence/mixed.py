"""Likelihood-ratio test for mixed continuous / categorical data (conditional Gaussian).

Each variable becomes a block of numeric columns: a categorical variable (kind
``categorical``) becomes one-hot dummies with the first observed level dropped; every other
kind (continuous, ordinal, binary) is used as it is. ``X _||_ Y | Z`` is then the hypothesis that
the coefficient matrix of ``Y`` on ``X`` is zero in the multivariate linear regression of ``Y``
on ``[1, X, Z]``. Its likelihood-ratio statistic (Gaussian errors) is

    LR = -n * log( det(S_yy|xz) / det(S_yy|z) ) = -n * sum_i log(1 - rho_i^2)

where ``rho_i`` are the canonical correlations between the residuals of ``X`` and of ``Y``
after regressing each on ``[1, Z]``; the expression is symmetric in ``X`` and ``Y``. Under the
null LR is asymptotically chi-square with ``dx * dy`` degrees of freedom (dx, dy: ranks of the
residual blocks, so an absent category level costs no degree of freedom). With ``bartlett=True``
the statistic is multiplied by ``(n - 1 - dz - (dx + dy + 1) / 2) / n`` (Bartlett's correction,
better calibrated in small samples).

With single numeric ``X`` and ``Y`` this is exactly the nested-model LR test of ordinary least
squares, ``n * log(SSR_restricted / SSR_full)`` (statsmodels ``compare_lr_test``), and
``-n log(1 - r^2)`` for the partial correlation ``r``: asymptotically the same decisions as
Fisher-z. Categorical league codes are thus never treated as numbers.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from causaltraits.independence.base import CITest, register

_RANK_TOL = 1e-9


def _orthonormal_basis(a: np.ndarray, scale: float | None = None) -> np.ndarray:
    """An orthonormal basis of the column space of ``a`` (numerical rank by SVD).

    ``scale`` is the norm of the matrix ``a`` was derived from: a residual that is round-off
    relative to its source (a variable that is a function of Z) has rank 0, however its own
    singular values compare with each other.
    """
    if a.shape[1] == 0:
        return a
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    ref = s[0] if scale is None else scale
    if s.size == 0 or ref == 0:
        return a[:, :0]
    keep = s > _RANK_TOL * max(a.shape) * ref
    return u[:, keep]


@register("mixed")
class MixedLR(CITest):
    """Conditional-Gaussian likelihood-ratio test; categorical columns enter as dummies.

    Parameters
    ----------
    data : n x p float array, NaN for missing
    kinds : kind of each column; ``categorical`` columns are one-hot encoded
    seed : unused (the test is deterministic); kept for the common interface
    bartlett : apply Bartlett's small-sample correction (default False)
    """

    def __init__(self, data, kinds=None, seed=0, bartlett: bool = False, **params):
        super().__init__(data, kinds=kinds, seed=seed, bartlett=bool(bartlett), **params)
        self.bartlett = bool(bartlett)

    def _block(self, col: int, rows: np.ndarray | None) -> np.ndarray:
        v = self.data[:, col] if rows is None else self.data[rows, col]
        if self.kinds[col] != "categorical":
            return v[:, None]
        levels = np.unique(v)
        # drop the first level: the intercept absorbs it
        return (v[:, None] == levels[None, 1:]).astype(np.float64)

    def _compute(self, x, y, z, rows):
        bx = self._block(x, rows)
        by = self._block(y, rows)
        n = bx.shape[0]
        design = [np.ones((n, 1))] + [self._block(c, rows) for c in z]
        zmat = np.hstack(design)
        qz = _orthonormal_basis(zmat)
        dz = qz.shape[1] - 1  # without the intercept
        rx = bx - qz @ (qz.T @ bx)
        ry = by - qz @ (qz.T @ by)
        qx = _orthonormal_basis(rx, np.linalg.norm(bx, 2))
        qy = _orthonormal_basis(ry, np.linalg.norm(by, 2))
        dx, dy = qx.shape[1], qy.shape[1]
        if dx == 0 or dy == 0:
            # X or Y is a function of Z: nothing left to depend on.
            return 0.0, 1.0, 0.0
        rho = np.linalg.svd(qx.T @ qy, compute_uv=False)
        rho2 = np.clip(rho**2, 0.0, 1.0 - np.finfo(float).eps)
        logdet = float(np.sum(np.log1p(-rho2)))
        factor = float(n)
        if self.bartlett:
            factor = n - 1 - dz - (dx + dy + 1) / 2.0
            if factor <= 0:
                return float("nan"), float("nan"), float(dx * dy)
        stat = max(-factor * logdet, 0.0)
        dof = dx * dy
        p = float(stats.chi2.sf(stat, dof))
        return stat, p, float(dof)
