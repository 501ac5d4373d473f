"""``gcm``: the generalised covariance measure with additive spline regressions on the conditioning set.

The test of Shah & Peters (2020, "The hardness of conditional independence testing and the
generalised covariance measure"):

1. x and y are each regressed on a design built from the conditioning columns - for every
   column, its standardised value, square and cube and a cubic truncated-power term at each of
   ``knots`` interior quantiles (a cubic regression spline), the columns' terms added (no
   interactions). A column with few distinct values (at most ``knots + 3``: an ordinal trait, a
   binary attribute) enters as one indicator per value instead, which fits any function of it;
2. with residuals ``r_x``, ``r_y`` and their products ``R = r_x r_y``, the statistic is
   ``T = sqrt(n) mean(R) / sd(R)``, standard normal under the null when both regressions are
   consistent; the p-value is two-sided. Without a conditioning set the regressions are on a
   constant and the test is a (heteroscedasticity-robust) test of zero correlation.

Why here. Fisher-z asks that x and y depend on z linearly. Latent variables learned by a causal
representation model are identified only up to an invertible map of each variable, and a
monotone warp of a cause leaves a linear partial correlation between its effects (PC then adds
an edge between two effects of one cause): the GCM's regressions absorb any smooth warp of the
conditioning variables, and its null hypothesis is unchanged by maps of x and y. It costs one
least-squares fit per test (under a millisecond at thousands of rows), so it drives a search as
Fisher-z does.

Limits. The regression is additive over the conditioning columns; a dependence on an
interaction of two of them is not removed (with one conditioning column, as in PC's first
levels, this does not arise). It detects only dependence that shows in the covariance of the
residuals. A test on a categorical column is refused (``accepts``; use ``mixed``, ``gsq`` or a
kernel test); the battery marks such pairs not applicable. Degenerate inputs: constant x or y gives p = 1, constant z columns are dropped, x or y
an exact function of the design gives p = 1.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from causaltraits.errors import ParameterError
from causaltraits.independence.base import CITest, register
from causaltraits.independence.kernels import is_constant

__all__ = ["GCM", "cubic_terms", "spline_design"]


def cubic_terms(c_fit: np.ndarray, c: np.ndarray | None = None, knots: int = 5) -> list[np.ndarray]:
    """A cubic regression spline's terms of one column: ``s``, ``s^2``, ``s^3`` and ``(s - q)^3_+``
    at ``knots`` interior quantiles ``q``, with ``s`` standardised. Scale and knots come from the
    fitting values ``c_fit``; the terms are those of ``c`` (default: ``c_fit`` itself), so rows
    held out get the same basis."""
    c_fit = np.asarray(c_fit, dtype=np.float64)
    c = c_fit if c is None else np.asarray(c, dtype=np.float64)
    mu, sd = c_fit.mean(), max(c_fit.std(), 1e-12)
    s_fit, s = (c_fit - mu) / sd, (c - mu) / sd
    qs = np.unique(np.quantile(s_fit, np.linspace(0.0, 1.0, knots + 2)[1:-1]))
    return [s, s ** 2, s ** 3, *(np.clip(s - q, 0.0, None) ** 3 for q in qs)]


def spline_design(Z: np.ndarray, knots: int = 5) -> np.ndarray:
    """The regression design of :class:`GCM` for conditioning columns ``Z`` (rows x k): an
    intercept, then per column either indicators of its values (at most ``knots + 3`` distinct
    values; the first value dropped, so a constant column adds none) or its :func:`cubic_terms`."""
    cols = [np.ones(len(Z))]
    for c in np.asarray(Z, dtype=np.float64).T:
        values = np.unique(c)
        if len(values) <= knots + 3:
            cols.extend((c == v).astype(np.float64) for v in values[1:])
            continue
        cols.extend(cubic_terms(c, knots=knots))
    return np.column_stack(cols)


@register("gcm")
class GCM(CITest):
    """Generalised covariance measure; see the module docstring. ``knots``: interior knots of each
    conditioning column's cubic spline (default 5)."""

    accepts = ("continuous", "ordinal", "binary")

    def __init__(self, data, kinds=None, seed=0, knots: int = 5, **params):
        if int(knots) != knots or knots < 0:
            raise ParameterError(f"gcm: knots must be a whole number >= 0, got {knots!r}")
        super().__init__(data, kinds=kinds, seed=seed, knots=int(knots), **params)
        self.knots = int(knots)

    def _compute(self, x, y, z, rows):
        xy = self.columns([x, y], rows)
        if is_constant(xy[:, 0]) or is_constant(xy[:, 1]):
            return 0.0, 1.0, None
        B = spline_design(self.columns(list(z), rows), self.knots)  # a constant z column adds nothing
        n = len(xy)
        if B.shape[1] >= n:
            return float("nan"), float("nan"), None
        coef, *_ = np.linalg.lstsq(B, xy, rcond=None)
        resid = xy - B @ coef
        scale = np.abs(xy - xy.mean(axis=0)).max(axis=0)
        if np.any(np.abs(resid).max(axis=0) <= 1e-10 * scale):  # x or y a function of the design
            return 0.0, 1.0, None
        prod = resid[:, 0] * resid[:, 1]
        sd = prod.std()
        if not sd > 0:
            return 0.0, 1.0, None
        stat = abs(np.sqrt(n) * prod.mean() / sd)
        return stat, float(2.0 * stats.norm.sf(stat)), None
