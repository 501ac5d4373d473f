"""``lowrank``: a fast kernel conditional independence test for thousands of rows (Nystrom features).

The test is KCI's idea in a low-rank feature space:

1. each of x, y and z gets Nystrom features of a product kernel: a Gaussian kernel (median
   heuristic width) on its standardised numeric columns times a delta kernel on its categorical
   columns (``kinds[col] == 'categorical'``, so codes are never treated as magnitudes). All
   kernel work is done once per distinct row (ordinal traits, years, codes have few); with at
   most m distinct rows every one is a landmark and the features span the kernel exactly
   (one-hot for a categorical variable). The median heuristic is exact over all pairs of rows
   up to 150 distinct rows, else on a seeded random subsample of 300 rows;
2. the features of x and of y are regressed on the z design by ridge regression (kernel ridge
   regression in the Nystrom space): the standardised z columns (linear trends, which Gaussian
   features cannot extrapolate), Nystrom features of each z column (width 0.5 x median) and,
   with several columns, a joint block (width median / sqrt(#columns)) for interactions;
3. the statistic is ``n ||Cov(r_x, r_y)||_F^2`` (HSIC of the residual features), shrunk by the
   share of degrees of freedom the regression used (``1 - tr(H)/n``). Its null is the
   weighted chi-square whose weights are the eigenvalues of the covariance of the products
   ``r_x[:, i] r_y[:, j]`` (as RCoT: robust to a residual variance that changes with z), with a
   Lindsay-Pilla-Basak tail (Hall-Buckley-Eagleson fallback).

Cost: O(n m^2) per test with m the number of features (12 for x and y, 60 for one z column,
20 per column + 60 joint for several): about linear in n, a few megabytes per feature block.
Calibration, power and cost: ``benchmarks/calibration.py`` and ``benchmarks/ci_speed.py``. Features are seeded by (seed, columns),
so they do not depend on call order and are cached between tests (PC reuses the same z sets).
Missing values: a test uses the rows complete in x, y and z (test-wise deletion); the feature
map of a column set (standardisation, width, landmarks) is fitted once on all rows where that
set is observed, so that every test in a search shares one kernel per variable.
Degenerate inputs follow :mod:`.rcit`: constant x or y gives p = 1, constant z columns are
dropped, x or y an exact linear function of z gives p = 1.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Sequence

import numba
import numpy as np
from scipy import linalg
from scipy.spatial.distance import pdist

from causaltraits.independence.base import register
from causaltraits.independence.rcit import (
    FeatureCITest,
    linearly_determined,
    median_width,
    residual_cross_test,
)

__all__ = ["LowRankKCI", "nystrom_features", "product_kernel"]

#: feature directions with less than this share of the largest variance are dropped
VARIANCE_FLOOR = 1e-6
#: up to this many distinct rows the median heuristic uses every pair of rows
EXACT_WIDTH_ROWS = 150
#: feature blocks kept between tests, in megabytes
CACHE_MB = 64


@numba.njit(cache=True)
def _product_kernel(a_num, a_cat, b_num, b_cat, inv_two_s2, out):  # pragma: no cover - numba
    n, m = out.shape
    for i in range(n):
        for j in range(m):
            same = True
            for c in range(a_cat.shape[1]):
                if a_cat[i, c] != b_cat[j, c]:
                    same = False
                    break
            if not same:
                out[i, j] = 0.0
                continue
            d = 0.0
            for c in range(a_num.shape[1]):
                t = a_num[i, c] - b_num[j, c]
                d += t * t
            out[i, j] = math.exp(-d * inv_two_s2)


def product_kernel(
    a_num: np.ndarray, a_cat: np.ndarray, b_num: np.ndarray, b_cat: np.ndarray, width: float
) -> np.ndarray:
    """Gram matrix ``exp(-|a - b|^2 / (2 width^2)) * [a_cat == b_cat]`` between rows of a and b."""
    out = np.empty((a_num.shape[0], b_num.shape[0]))
    _product_kernel(
        np.ascontiguousarray(a_num, dtype=np.float64),
        np.ascontiguousarray(a_cat, dtype=np.int64),
        np.ascontiguousarray(b_num, dtype=np.float64),
        np.ascontiguousarray(b_cat, dtype=np.int64),
        1.0 / (2.0 * width * width),
        out,
    )
    return out


def distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of ``values`` with the inverse index and the counts (``np.unique`` rows).

    Ordinal traits, years and codes have few distinct values: every kernel computation below
    is done once per distinct row and expanded at the end.
    """
    n, d = values.shape
    if d == 1:
        u, inv, cnt = np.unique(values[:, 0], return_inverse=True, return_counts=True)
        return u[:, None], inv.ravel(), cnt
    for c in range(d):  # a column without ties makes every row distinct: skip the row sort
        if np.unique(values[:, c]).size == n:
            return values, np.arange(n), np.ones(n, dtype=np.int64)
    u, inv, cnt = np.unique(values, axis=0, return_inverse=True, return_counts=True)
    return u, inv.ravel(), cnt


def weighted_median_width(values: np.ndarray, counts: np.ndarray, inverse: np.ndarray,
                          rng: np.random.Generator) -> float:
    """Median of the non-zero pairwise distances between all rows, from the distinct rows.

    Exact (every pair of rows, no sampling) when there are at most ``EXACT_WIDTH_ROWS``
    distinct rows; otherwise the median over a seeded random subsample of the rows.
    """
    if values.shape[1] == 0:
        return 1.0
    if len(values) > EXACT_WIDTH_ROWS:
        return median_width(values[inverse], rng)
    d = pdist(values)
    i, j = np.triu_indices(len(values), 1)
    w = (counts[i] * counts[j]).astype(float)
    nonzero = d > 0
    d, w = d[nonzero], w[nonzero]
    if d.size == 0:
        return 1.0
    order = np.argsort(d)
    cum = np.cumsum(w[order])
    return float(d[order[np.searchsorted(cum, 0.5 * cum[-1])]])


def _nystrom_distinct(u_num: np.ndarray, u_cat: np.ndarray, counts: np.ndarray, m: int, width: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Centred, rotated Nystrom features of the distinct rows (weighted by their counts)."""
    u = len(u_num)
    n = counts.sum()
    if u <= m:  # few distinct rows: all of them are landmarks and the features are exact
        pick = np.arange(u)
    else:  # landmarks drawn like rows of the sample, without repeating a value
        pick = np.sort(rng.choice(u, size=m, replace=False, p=counts / n))
    k_um = product_kernel(u_num, u_cat, u_num[pick], u_cat[pick], width)
    vals, vecs = linalg.eigh(k_um[pick], check_finite=False)
    keep = vals > vals[-1] * 1e-9
    feats = k_um @ (vecs[:, keep] / np.sqrt(vals[keep]))
    feats -= (counts / n) @ feats
    # rotate to principal axes and drop directions with a negligible share of the variance:
    # they change neither statistic nor null, but cost O(n m^2) each in the products
    cov = (feats * counts[:, None]).T @ feats
    cvals, cvecs = linalg.eigh(cov, check_finite=False)
    keep = cvals > max(cvals[-1], 1e-300) * VARIANCE_FLOOR
    return feats @ cvecs[:, keep][:, ::-1]


def nystrom_features(num: np.ndarray, cat: np.ndarray, m: int, width: float, rng: np.random.Generator) -> np.ndarray:
    """Centred Nystrom features (n x r, r <= m) of the product kernel on (num, cat) rows.

    Landmarks are ``m`` distinct rows drawn with ``rng`` in proportion to their frequency; with
    at most ``m`` distinct rows all are used and the features span the kernel exactly.
    """
    uniq, inverse, counts = distinct_rows(np.hstack((num, cat.astype(np.float64))))
    k = num.shape[1]
    return _nystrom_distinct(uniq[:, :k], uniq[:, k:].astype(np.int64), counts, m, width, rng)[inverse]


@register("lowrank")
class LowRankKCI(FeatureCITest):
    """Low-rank kernel conditional independence test (Nystrom KCI), for thousands of rows.

    Parameters
    ----------
    data, kinds, seed : see :class:`~causaltraits.independence.base.CITest`; columns of kind
        ``categorical`` get a delta kernel, every other column is standardised
    num_f : Nystrom landmarks for x and for y (12)
    num_fz : Nystrom landmarks for the conditioning set (60; with several columns, for their
        joint block, beside ``num_fz1`` landmarks for each column alone)
    num_fz1 : landmarks of each single-column block of a multi-column conditioning set (20)
    ridge : ridge of the regression on z, relative to the mean feature variance (1e-5)
    z_width : multiplier of the median-heuristic width for the conditioning set's kernel (0.5: a sharper regression on z, needed for calibration at large n)
    approx : null tail approximation, ``lpb4`` (default), ``hbe`` or ``gamma``
    cache_mb : memory for feature blocks kept between tests (64 MB; they never change a p-value)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=2000); x = np.sin(2 * z) + rng.normal(size=2000) * 0.3
    >>> y = np.cos(2 * z) + rng.normal(size=2000) * 0.3
    >>> t = LowRankKCI(np.column_stack((x, y, z)), seed=1)
    >>> t(0, 1) < 1e-6, t(0, 1, [2]) > 0.01
    (True, True)
    """

    def __init__(self, data, kinds=None, seed=0, num_f: int = 12, num_fz: int = 60, num_fz1: int = 20,
                 ridge: float = 1e-5, z_width: float = 0.5, approx: str = "lpb4", cache_mb: float = CACHE_MB,
                 **params):
        if approx not in ("lpb4", "hbe", "gamma"):
            raise ValueError("approx must be 'lpb4', 'hbe' or 'gamma'")
        super().__init__(data, kinds=kinds, seed=seed, num_f=int(num_f), num_fz=int(num_fz),
                         num_fz1=int(num_fz1), ridge=float(ridge), z_width=float(z_width), approx=approx,
                         **params)
        self.z_width = float(z_width)
        self.num_f, self.num_fz, self.num_fz1 = int(num_f), int(num_fz), int(num_fz1)
        self.ridge, self.approx = float(ridge), approx
        self.cache_bytes = int(cache_mb * 2**20)
        self._feature_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._cached_bytes = 0
        self._categorical = np.array([k == "categorical" for k in self.kinds], dtype=bool)

    def _split(self, cols: Sequence[int], rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Standardised numeric block, integer categorical block, and the non-constant columns."""
        raw = self.columns(list(cols), rows)
        sd = raw.std(axis=0)
        keep = sd > 1e-12 * np.maximum(1.0, np.abs(raw).max(axis=0, initial=0.0))
        cols = [c for c, k in zip(cols, keep) if k]
        raw = raw[:, keep]
        is_cat = self._categorical[cols] if cols else np.zeros(0, dtype=bool)
        num = raw[:, ~is_cat]
        num = (num - num.mean(axis=0)) / num.std(axis=0)
        cat = raw[:, is_cat].astype(np.int64)
        return num, cat, cols

    def features(self, cols: Sequence[int], m: int, rows: np.ndarray | None, joint: bool = False,
                 z_block: bool = False) -> np.ndarray:
        """Centred Nystrom features of the columns ``cols`` on ``rows``.

        The feature map (width, landmarks, standardisation) is fitted once on every row where
        ``cols`` are observed and cached, so all tests share one kernel per column set, and
        test-wise deletion only selects rows. ``joint`` marks the joint block of a conditioning
        set, whose width is the median heuristic divided by sqrt(number of numeric columns);
        ``z_block`` a single-column block of a conditioning set, whose width is multiplied by
        ``z_width``.
        """
        key = (tuple(cols), m, joint, z_block)
        full = self._feature_cache.get(key)
        if full is None:
            full = self._fit_features(list(cols), m, joint, z_block)
            if full.nbytes <= self.cache_bytes:
                self._feature_cache[key] = full
                self._cached_bytes += full.nbytes
                while self._cached_bytes > self.cache_bytes:
                    self._cached_bytes -= self._feature_cache.popitem(last=False)[1].nbytes
        else:
            self._feature_cache.move_to_end(key)
        if rows is None and self.rows(list(cols)) is None:
            return full  # fitted on exactly these rows: already centred (read-only downstream)
        sub = full[rows] if rows is not None else full
        return sub - sub.mean(axis=0)

    def _fit_features(self, cols: list[int], m: int, joint: bool, z_block: bool) -> np.ndarray:
        """Features on all rows (NaN where ``cols`` are not all observed), seeded by the columns."""
        own = self.rows(cols)
        num, cat, kept = self._split(cols, own)
        rng = np.random.default_rng([self.seed, 104729, m, *kept])
        uniq, inverse, counts = distinct_rows(np.hstack((num, cat.astype(np.float64))))
        k = num.shape[1]
        u_num, u_cat = uniq[:, :k], uniq[:, k:].astype(np.int64)
        width = weighted_median_width(u_num, counts, inverse, rng)
        if z_block:
            width *= self.z_width
        if joint and k > 1:
            # the median distance grows like sqrt(d); shrinking by it keeps the per-coordinate
            # resolution of a single column, which the regression on z needs (calibration)
            width /= math.sqrt(k)
        feats = _nystrom_distinct(u_num, u_cat, counts, m, width, rng)[inverse]
        if own is None:
            return feats
        full = np.full((self.data.shape[0], feats.shape[1]), np.nan)
        full[own] = feats
        return full

    def _compute_features(self, x, y, z, rows):
        (bx, _), (by, _), (bz, kz) = self.block([x], rows), self.block([y], rows), self.block(z, rows)
        if bx.shape[1] == 0 or by.shape[1] == 0:
            return 0.0, 1.0, None
        if linearly_determined(bx, bz) or linearly_determined(by, bz):
            return 0.0, 1.0, None
        fx = self.features([x], self.num_f, rows)
        fy = self.features([y], self.num_f, rows)
        fz = None
        if kz:
            # the numeric z columns themselves carry linear trends, which Gaussian features
            # cannot extrapolate to the tails (the misfit there reads as dependence)
            blocks = [self._split(kz, rows)[0]]  # standardised, so centred
            if len(kz) == 1:
                blocks.append(self.features(kz, self.num_fz, rows, z_block=True))
            else:
                # additive blocks (one per column) plus a joint block for interactions: a joint
                # Gaussian block alone under-fits E[x | z] and the misfit reads as dependence
                blocks += [self.features([c], self.num_fz1, rows, z_block=True) for c in kz]
                blocks.append(self.features(kz, self.num_fz, rows, joint=True))
            fz = np.hstack(blocks)
        stat, p = residual_cross_test(fx, fy, fz, self.ridge, self.approx)
        return stat, p, None
