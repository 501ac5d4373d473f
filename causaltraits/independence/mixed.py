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
from scipy import special

from causaltraits.independence.base import CITest, register

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
        # One design matrix for all tests: intercept, then each variable's block. Numeric columns
        # are centred and scaled (the intercept absorbs it; it keeps the cross-products well
        # conditioned, e.g. birth years near 2000). A test only needs cross-products of its
        # blocks, so the full cross-product matrix is computed once when no value is missing.
        blocks = [np.ones((self.data.shape[0], 1))]
        self._cols: list[np.ndarray] = []
        start = 1
        for c in range(self.data.shape[1]):
            v = self.data[:, c]
            ok = ~np.isnan(v)
            if self.kinds[c] == "categorical":
                levels = np.unique(v[ok])
                b = (v[:, None] == levels[None, 1:]).astype(np.float64)
            else:
                mu = v[ok].mean() if ok.any() else 0.0
                sd = v[ok].std() if ok.any() else 1.0
                b = ((v - mu) / (sd if sd > 0 else 1.0))[:, None]
            b[~ok] = np.nan
            blocks.append(b)
            self._cols.append(np.arange(start, start + b.shape[1]))
            start += b.shape[1]
        self._design = np.hstack(blocks)
        self._has_nan = np.isnan(self.data).any(axis=0)
        # full cross-product matrix per set of incomplete columns involved (few distinct sets)
        self._grams: dict[frozenset[int], np.ndarray] = {}

    def _gram(self, idx: np.ndarray, variables: tuple[int, ...], rows: np.ndarray | None) -> np.ndarray:
        key = frozenset(c for c in variables if self._has_nan[c])
        if key not in self._grams:
            d = self._design if rows is None else self._design[rows]
            d = np.nan_to_num(d)  # NaNs only in columns not involved in this pattern
            self._grams[key] = d.T @ d
        return self._grams[key][np.ix_(idx, idx)]

    @staticmethod
    def _whitener(m: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """W with W.T m W = I on the numerical range of m; ``ref`` is m's source before
        residualisation (a block that is a function of Z has a null residual)."""
        if m.shape[0] == 0:
            return np.zeros((0, 0))
        w, v = np.linalg.eigh((m + m.T) / 2)
        scale = max(float(np.max(np.diag(ref))), np.finfo(float).tiny)
        keep = w > 1e-10 * scale
        return v[:, keep] / np.sqrt(w[keep])

    def _compute(self, x, y, z, rows):
        ix, iy = self._cols[x], self._cols[y]
        iz = np.concatenate([[0], *[self._cols[c] for c in z]]).astype(int)
        idx = np.concatenate([ix, iy, iz])
        g = self._gram(idx, (x, y, *z), rows)
        n = self.data.shape[0] if rows is None else len(rows)
        kx, ky = len(ix), len(iy)
        a = slice(0, kx + ky)
        zz = g[kx + ky:, kx + ky:]
        za = g[kx + ky:, a]
        # residual cross-products of [X, Y] after regression on [1, Z]
        # one eigendecomposition gives both the pseudo-inverse square root and the rank of Z
        wz, vz = np.linalg.eigh(zz)
        keep = wz > 1e-12 * max(float(wz[-1]), np.finfo(float).tiny)
        dz = int(keep.sum()) - 1  # without the intercept
        proj = za.T @ (vz[:, keep] / np.sqrt(wz[keep]))
        res = g[a, a] - proj @ proj.T
        wx = self._whitener(res[:kx, :kx], g[:kx, :kx])
        wy = self._whitener(res[kx:, kx:], g[kx:kx + ky, kx:kx + ky])
        dx, dy = wx.shape[1], wy.shape[1]
        if dx == 0 or dy == 0:
            # X or Y is a function of Z: nothing left to depend on.
            return 0.0, 1.0, 0.0
        rho = np.linalg.svd(wx.T @ res[:kx, kx:] @ wy, compute_uv=False)
        rho2 = np.clip(rho**2, 0.0, 1.0 - np.finfo(float).eps)
        logdet = float(np.sum(np.log1p(-rho2)))
        factor = float(n)
        if self.bartlett:
            factor = n - 1 - dz - (dx + dy + 1) / 2.0
            if factor <= 0:
                return float("nan"), float("nan"), float(dx * dy)
        stat = max(-factor * logdet, 0.0)
        dof = dx * dy
        p = float(special.chdtrc(dof, stat))  # chi-square survival; scipy.stats' sf is 50x slower
        return stat, p, float(dof)
