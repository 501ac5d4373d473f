"""Randomized conditional independence tests RCIT and RCoT (Strobl, Zhang, Visweswaran 2019), seeded.

Both tests map x, y and z to random Fourier features of a Gaussian kernel, regress the features
of x and y on those of z (linear regression in feature space), and test for zero
cross-covariance of the residuals. The statistic ``n * ||Cov(r_x, r_y)||_F^2`` is compared with
a weighted sum of chi-squares whose weights are the eigenvalues of the covariance of the
products ``r_x[:, i] * r_y[:, j]``; its tail is approximated by Lindsay-Pilla-Basak (four
moments) with Hall-Buckley-Eagleson as the fallback.

- ``rcot``: features of x and y alone (the paper's recommended variant);
- ``rcit``: features of (x, z) jointly against y (the original RCIT).

Differences from causal-learn's ``rcit`` (each one a trap there, see docs/causal-learn.md):

- every random draw comes from ``self.rng(x, y, z)``: same seed, same p-value, in any call order;
- the kernel width is the median pairwise distance on a *seeded random* subsample of the
  complete rows (not the first 500 rows), cached per column set;
- the statistic is computed from the same residuals as its null, so a conditioning variable
  that copies x gives a large p-value instead of p = 0 from cancellation error; a ridge
  regularises the feature regression, and an x (or y) that is an exact linear function of z
  (a copy of a conditioning column) gives statistic 0 and p = 1;
- a constant x or y (on the rows tested) gives statistic 0 and p = 1 (a constant is independent
  of everything); constant z columns are dropped (conditioning on a constant is conditioning
  on nothing). A p-value is never 0 because of a degenerate input, and no LinAlgError escapes.

Every column is treated as numeric and standardised, as in the paper (categorical codes
included); use ``lowrank`` for a delta kernel on categorical columns.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import linalg, optimize, stats
from scipy.spatial.distance import pdist

from causaltraits.independence.base import CITest, register

__all__ = [
    "RCIT",
    "RCoT",
    "hbe_sf",
    "lpb4_sf",
    "median_width",
    "random_fourier_features",
    "weighted_chi2_sf",
]

_BLAS = None


def single_thread_blas():
    """Context limiting BLAS to one thread: the products here are small, and threads only
    contend with each other (2 threads were 20 times slower than 1 on a loaded 2-core machine)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


#: rows used for the median heuristic (a seeded random subsample above this)
WIDTH_SUBSAMPLE = 300


# ------------------------------------------------------------------ null distribution
def hbe_sf(weights: np.ndarray, q: float) -> float:
    """Hall-Buckley-Eagleson: P(sum w_i chi2_1 > q) by a three-cumulant matched chi-square."""
    w = np.asarray(weights, dtype=float)
    k1, k2, k3 = w.sum(), 2.0 * np.sum(w**2), 8.0 * np.sum(w**3)
    if k2 <= 0 or k3 <= 0:
        return 1.0 if q <= k1 else 0.0
    nu = 8.0 * k2**3 / k3**2
    x = (q - k1) / math.sqrt(k2) * math.sqrt(2.0 * nu) + nu
    return float(stats.chi2.sf(x, nu))


def _raw_moments(w: np.ndarray, k: int) -> np.ndarray:
    """Raw moments 1..k of ``sum w_i chi2_1`` from its cumulants ``2^(r-1) (r-1)! sum w^r``."""
    kappa = np.array([2.0 ** (r - 1) * math.factorial(r - 1) * np.sum(w**r) for r in range(1, k + 1)])
    mu = np.zeros(k + 1)
    mu[0] = 1.0
    for n in range(1, k + 1):
        mu[n] = sum(math.comb(n - 1, m - 1) * kappa[m - 1] * mu[n - m] for m in range(1, n + 1))
    return mu[1:]


_HANKEL = {k: np.add.outer(np.arange(k + 1), np.arange(k + 1)) for k in range(1, 9)}
_STEPS = np.arange(0, 16, dtype=float)


def _delta_matrix(lam: float, moments: np.ndarray, order: int) -> np.ndarray:
    """Hankel matrix of the moments shrunk by ``prod (1 + j lam)`` (Lindsay, Pilla, Basak 2000)."""
    shrink = np.cumprod(1.0 + lam * _STEPS[: 2 * order])
    m = np.empty(2 * order + 1)
    m[0] = 1.0
    m[1:] = moments[: 2 * order] / shrink
    return m[_HANKEL[order]]


def lpb4_sf(weights: np.ndarray, q: float) -> float:
    """Lindsay-Pilla-Basak: P(sum w_i chi2_1 > q) by a four-component gamma mixture.

    Matches the first eight moments with a mixture of gammas sharing one shape parameter.
    Raises ``ValueError`` when the moment problem has no valid solution (too few distinct
    weights); :func:`weighted_chi2_sf` then falls back to :func:`hbe_sf`.
    """
    order = 4
    w = np.asarray(weights, dtype=float)
    scale = w.sum()
    w, q = w / scale, q / scale  # the tail is scale-free; unit mean keeps the moments tame
    moments = _raw_moments(w, 2 * order)
    lam = moments[1] / moments[0] ** 2 - 1.0
    for n in range(2, order + 1):
        f = lambda t, n=n: np.linalg.det(_delta_matrix(t, moments, n))  # noqa: E731
        lo, hi = 0.0, lam
        if not (f(lo) * f(hi) < 0):
            raise ValueError("LPB: no sign change in the moment determinant")
        lam = optimize.brentq(f, lo, hi, xtol=1e-12)
    mat = _delta_matrix(lam, moments, order)
    size = order + 1
    coeffs = np.array(
        [(-1) ** (i + order) * np.linalg.det(np.delete(mat, i, axis=0)[:, :-1]) for i in range(size)]
    )
    mus = np.real(np.roots(coeffs[::-1]))
    if len(mus) != order or np.any(mus <= 0):
        raise ValueError("LPB: invalid mixture means")
    vdm = np.vander(mus, order, increasing=True).T
    pis = np.linalg.solve(vdm, mat[:order, 0])
    if not np.all(np.isfinite(pis)):
        raise ValueError("LPB: invalid mixing proportions")
    shape = 1.0 / lam
    sf = float(np.sum(pis * stats.gamma.sf(q, a=shape, scale=mus * lam)))
    if not (-1e-6 <= sf <= 1 + 1e-6):
        raise ValueError("LPB: tail probability outside [0, 1]")
    return min(max(sf, 0.0), 1.0)


def weighted_chi2_sf(weights: np.ndarray, q: float, approx: str = "lpb4") -> float:
    """Tail of ``sum w_i chi2_1`` at ``q`` by ``lpb4`` (fallback ``hbe``), ``hbe`` or ``gamma``."""
    w = np.asarray(weights, dtype=float)
    w = w[w > w.max(initial=0.0) * 1e-12] if w.size else w
    if w.size == 0:
        return 1.0
    if approx == "gamma":
        mean, var = w.sum(), 2.0 * np.sum(w**2)
        return float(stats.gamma.sf(q, a=mean**2 / var, scale=var / mean))
    if approx == "lpb4" and w.size >= 4:
        try:
            return lpb4_sf(w, q)
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError):
            pass
    return hbe_sf(w, q)


# ------------------------------------------------------------------ features
def median_width(values: np.ndarray, rng: np.random.Generator, subsample: int = WIDTH_SUBSAMPLE) -> float:
    """Median of the non-zero pairwise Euclidean distances on a seeded random subsample of rows.

    Returns 1.0 when every sampled distance is zero (a constant block); callers drop constant
    columns before, so this only guards against a rare all-ties subsample.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if len(values) > subsample:
        values = values[rng.choice(len(values), size=subsample, replace=False)]
    d = pdist(values)
    d = d[d > 0]
    return float(np.median(d)) if d.size else 1.0


def random_fourier_features(
    values: np.ndarray, num_f: int, width: float, rng: np.random.Generator
) -> np.ndarray:
    """``sqrt(2) cos(values W^T + b)``, W ~ N(0, 1/width^2), b ~ U(0, 2 pi): a Gaussian-kernel map."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    w = rng.standard_normal((values.shape[1], num_f)) / width
    b = rng.uniform(0.0, 2.0 * np.pi, size=num_f)
    return math.sqrt(2.0) * np.cos(values @ w + b)


def _nonconstant(block: np.ndarray) -> np.ndarray:
    """Mask of the columns of ``block`` that are not constant (up to rounding)."""
    sd = block.std(axis=0)
    return sd > 1e-12 * np.maximum(1.0, np.abs(block).max(axis=0, initial=0.0))


def _standardise(block: np.ndarray) -> np.ndarray:
    """Centre and scale each column; constant columns (sd 0) are removed."""
    keep = _nonconstant(block)
    block = block[:, keep]
    return (block - block.mean(axis=0)) / block.std(axis=0)


def residual_cross_test(
    fx: np.ndarray, fy: np.ndarray, fz: np.ndarray | None, ridge: float, approx: str
) -> tuple[float, float]:
    """Statistic ``n ||Cov(r_x, r_y)||_F^2 (1 - df/n)`` of ridge residuals on ``fz``, p-value.

    ``df`` is the trace of the ridge hat matrix (the regression's degrees of freedom).
    ``fx``, ``fy``, ``fz`` are centred feature matrices (n rows). The null weights are the
    eigenvalues of the covariance of the products ``r_x[:, i] r_y[:, j]``. Returns p = 1 when
    ``fz`` explains ``fx`` or ``fy`` exactly (x or y is a function of z, so x _||_ y | z holds).
    """
    n = fx.shape[0]
    dof_factor = 1.0
    if fz is not None and fz.shape[1] > 0:
        both = np.hstack((fx, fy))
        gram = fz.T @ fz
        lam = ridge * max(np.trace(gram) / gram.shape[0], 1e-300)
        gram[np.diag_indices_from(gram)] += lam
        try:
            factor = linalg.cho_factor(gram, check_finite=False)
            coef = linalg.cho_solve(factor, fz.T @ both, check_finite=False)
            inv_trace = np.trace(linalg.cho_solve(factor, np.eye(gram.shape[0]), check_finite=False))
        except (linalg.LinAlgError, ValueError):
            coef = np.linalg.lstsq(gram, fz.T @ both, rcond=None)[0]
            inv_trace = np.trace(np.linalg.pinv(gram))
        res = both - fz @ coef
        rx, ry = res[:, : fx.shape[1]], res[:, fx.shape[1] :]
        tiny = 1e-10
        if np.sum(rx**2) <= tiny * np.sum(fx**2) or np.sum(ry**2) <= tiny * np.sum(fy**2):
            return 0.0, 1.0
        # The residuals' own products underestimate the statistic's null variance by the share
        # of degrees of freedom the regression used (exactly 1 - p/n for least squares), so
        # the statistic is shrunk by it; without this the test over-rejects when |z| grows.
        hat_trace = gram.shape[0] - lam * inv_trace
        dof_factor = max(1.0 - hat_trace / n, 1.0 / n)
    else:
        rx, ry = fx, fy
    cross = rx.T @ ry / n
    stat = float(n * np.sum(cross**2) * dof_factor)
    prod = (rx[:, :, None] * ry[:, None, :]).reshape(n, -1)
    cov = prod.T @ prod / n
    try:
        weights = linalg.eigvalsh(cov, check_finite=False)
    except (linalg.LinAlgError, ValueError):
        return stat, float("nan")
    if not np.isfinite(stat):
        return stat, float("nan")
    return stat, weighted_chi2_sf(weights, stat, approx)


def linearly_determined(block: np.ndarray, bz: np.ndarray, tol: float = 1e-10) -> bool:
    """Whether the standardised ``block`` is an exact linear function of the standardised ``bz``.

    Covers a conditioning variable that copies (or rescales) x or y. Then x _||_ y | z holds
    trivially, but feature regressions only approximate the identity and their misfit would
    look like dependence (causal-learn's RCIT returns p = 0 there).
    """
    if bz.shape[1] == 0 or block.shape[1] == 0:
        return False
    coef = np.linalg.lstsq(bz, block, rcond=None)[0]
    resid = block - bz @ coef
    return bool(np.sum(resid**2) <= tol * np.sum(block**2))


class FeatureCITest(CITest):
    """Shared plumbing for feature-map tests: standardised blocks and cached seeded widths."""

    def __init__(self, data, kinds=None, seed=0, **params):
        super().__init__(data, kinds=kinds, seed=seed, **params)
        self._width_cache: dict[tuple[int, ...], float] = {}

    def block(self, cols: Sequence[int], rows: np.ndarray | None) -> tuple[np.ndarray, list[int]]:
        """The standardised columns ``cols`` on ``rows`` and their ids, constant columns removed."""
        raw = self.columns(list(cols), rows)
        keep = _nonconstant(raw)
        raw = raw[:, keep]
        return (raw - raw.mean(axis=0)) / raw.std(axis=0), [c for c, k in zip(cols, keep) if k]

    def width(self, cols: Sequence[int], block: np.ndarray, rows: np.ndarray | None) -> float:
        """Median-heuristic width of ``block``; seeded by (seed, cols), cached on complete data."""
        key = tuple(cols)
        if rows is None and key in self._width_cache:
            return self._width_cache[key]
        rng = np.random.default_rng([self.seed, 7919, *key])
        w = median_width(block, rng)
        if rows is None:
            self._width_cache[key] = w
        return w

    def _compute(self, x, y, z, rows):
        """Run :meth:`_compute_features` (the subclass's statistic) with one BLAS thread."""
        with single_thread_blas():
            try:
                return self._compute_features(x, y, z, rows)
            except np.linalg.LinAlgError:  # scipy's LinAlgError is numpy's
                # a numerical failure is not evidence of dependence: NaN, which callers report
                return float("nan"), float("nan"), None

    def _compute_features(self, x, y, z, rows):  # pragma: no cover - abstract
        raise NotImplementedError


class _RandomFeatureTest(FeatureCITest):
    augment_x: bool = False

    def __init__(self, data, kinds=None, seed=0, num_f: int = 100, num_f2: int = 5,
                 approx: str = "lpb4", ridge: float = 1e-6, **params):
        if approx not in ("lpb4", "hbe", "gamma"):
            raise ValueError("approx must be 'lpb4', 'hbe' or 'gamma'")
        super().__init__(data, kinds=kinds, seed=seed, num_f=int(num_f), num_f2=int(num_f2),
                         approx=approx, ridge=float(ridge), **params)
        self.num_f, self.num_f2, self.approx, self.ridge = int(num_f), int(num_f2), approx, float(ridge)

    def _compute_features(self, x, y, z, rows):
        (bx, _), (by, _) = self.block([x], rows), self.block([y], rows)
        if bx.shape[1] == 0 or by.shape[1] == 0:
            return 0.0, 1.0, None
        bz, zkeep = self.block(z, rows)
        if linearly_determined(bx, bz) or linearly_determined(by, bz):
            return 0.0, 1.0, None
        rng = self.rng(x, y, z)
        wy = self.width([y], by, rows)
        if bz.shape[1] and self.augment_x:
            bxa = np.hstack((bx, bz))
            wx = self.width([x, *zkeep], bxa, rows)
        else:
            bxa, wx = bx, self.width([x], bx, rows)
        fz = None
        if bz.shape[1]:
            wz = self.width(zkeep, bz, rows)
            fz = random_fourier_features(bz, self.num_f, wz, rng)
        fx = random_fourier_features(bxa, self.num_f2, wx, rng)
        fy = random_fourier_features(by, self.num_f2, wy, rng)
        fx, fy = _standardise(fx), _standardise(fy)
        if fx.shape[1] == 0 or fy.shape[1] == 0:
            return 0.0, 1.0, None
        if fz is not None:
            fz = _standardise(fz)
        stat, p = residual_cross_test(fx, fy, fz, self.ridge, self.approx)
        return stat, p, None


@register("rcot")
class RCoT(_RandomFeatureTest):
    """Randomized conditional correlation test: features of x and of y, each regressed on z.

    Parameters
    ----------
    data, kinds, seed : see :class:`~causaltraits.independence.base.CITest`
    num_f : random features for z (100, as the paper)
    num_f2 : random features for x and for y (5, as the paper)
    approx : null approximation, ``lpb4`` (default), ``hbe`` or ``gamma``
    ridge : ridge of the feature regression, relative to the mean feature variance

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=500); x = z + rng.normal(size=500); y = z + rng.normal(size=500)
    >>> t = RCoT(np.column_stack((x, y, z)), seed=1)
    >>> t(0, 1) < 0.01, t(0, 1, [2]) > 0.01
    (True, True)
    """


@register("rcit")
class RCIT(_RandomFeatureTest):
    """Randomized conditional independence test: features of (x, z) against features of y, given z.

    Same parameters as :class:`RCoT`; the smaller-index variable of the pair is augmented with z.
    """

    augment_x = True
