"""Agreement between raters (here: LLMs scoring the same person's traits).

Two statistics, both chance-corrected and both written from their definitions:

- :func:`weighted_kappa` -- Cohen's kappa for two raters with linear or quadratic disagreement
  weights (Cohen 1968), computed on the units both raters scored. With ``weights=None`` it is the
  unweighted kappa. Matches :func:`sklearn.metrics.cohen_kappa_score`.
- :func:`krippendorff_alpha` -- Krippendorff's alpha for any number of raters with missing values
  allowed, from the coincidence matrix, with the nominal, ordinal, interval or ratio difference
  function (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").

Missing ratings are NaN. Undefined values (fewer than two pairable ratings, or no variation at
all so that expected disagreement is zero) are returned as NaN, never as a number that looks like
agreement.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

KAPPA_WEIGHTS = (None, "linear", "quadratic")
ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")


def weighted_kappa(a: Sequence[float], b: Sequence[float], weights: str | None = "quadratic",
                   categories: Sequence[float] | None = None) -> float:
    """Cohen's weighted kappa between two raters over the units both rated.

    Parameters
    ----------
    a, b : ratings of the same units by two raters; NaN marks a missing rating (the unit is
        then left out).
    weights : ``"quadratic"`` (disagreement ``(i - j)**2``), ``"linear"`` (``|i - j|``) or None
        (unweighted). ``i, j`` are positions of the categories in sorted order, as in
        scikit-learn, so equally spaced scores such as 1, 2, 3 give the textbook weights.
    categories : the possible ratings; default the values seen in either rater.

    Returns
    -------
    float
        ``1 - sum(w * observed) / sum(w * expected)``; NaN when fewer than two units are
        pairable or the expected weighted disagreement is zero (one category only).

    Examples
    --------
    >>> round(weighted_kappa([1, 2, 3, 3], [1, 2, 3, 2], weights="linear"), 3)
    0.714
    """
    if weights not in KAPPA_WEIGHTS:
        raise ValueError(f"weights must be one of {KAPPA_WEIGHTS}, got {weights!r}")
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"raters have different numbers of units: {a.size} and {b.size}")
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    if a.size < 2:
        return float("nan")
    cats = np.unique(np.concatenate([a, b])) if categories is None else np.unique(np.asarray(categories, float))
    ia = np.searchsorted(cats, a)
    ib = np.searchsorted(cats, b)
    if np.any(ia >= cats.size) or np.any(cats[np.minimum(ia, cats.size - 1)] != a) \
            or np.any(cats[np.minimum(ib, cats.size - 1)] != b):
        raise ValueError("a rating is not among the given categories")
    k = cats.size
    observed = np.zeros((k, k))
    np.add.at(observed, (ia, ib), 1.0)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    pos = np.arange(k, dtype=np.float64)
    diff = pos[:, None] - pos[None, :]
    if weights is None:
        w = (diff != 0).astype(np.float64)
    elif weights == "linear":
        w = np.abs(diff)
    else:
        w = diff ** 2
    denom = float((w * expected).sum())
    if denom <= 0.0:
        return float("nan")
    return float(1.0 - (w * observed).sum() / denom)


def coincidence_matrix(ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Krippendorff's coincidence matrix of a raters x units array (NaN = missing).

    Each unit with ``m >= 2`` ratings contributes ``1 / (m - 1)`` for every ordered pair of
    ratings from different raters; units with fewer than two ratings are not pairable.

    Returns
    -------
    values : the distinct ratings, sorted
    o : ``o[c, k]``, the coincidences of value ``values[c]`` with ``values[k]``
    """
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError("ratings must be a 2-d array (raters x units)")
    values = np.unique(r[~np.isnan(r)])
    k = values.size
    units = r.shape[1]
    counts = np.zeros((units, k))  # counts[u, c]: raters giving unit u the value c
    for row in r:
        ok = ~np.isnan(row)
        np.add.at(counts, (np.nonzero(ok)[0], np.searchsorted(values, row[ok])), 1.0)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts, m = counts[pairable], m[pairable]
    scale = 1.0 / (m - 1.0)
    o = (counts * scale[:, None]).T @ counts - np.diag((counts * scale[:, None]).sum(axis=0))
    return values, o


def _difference(values: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    """The squared difference function delta^2(c, k) of Krippendorff's alpha."""
    c = values[:, None]
    k = values[None, :]
    if level == "nominal":
        return (c != k).astype(np.float64)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            d = ((c - k) / (c + k)) ** 2
        return np.nan_to_num(d, nan=0.0)
    # ordinal: the mass of the values between c and k, counting the ends by half
    cum = np.concatenate([[0.0], np.cumsum(n_c)])
    i = np.arange(values.size)
    lo = np.minimum(i[:, None], i[None, :])
    hi = np.maximum(i[:, None], i[None, :])
    between = cum[hi + 1] - cum[lo]
    return (between - (n_c[lo] + n_c[hi]) / 2.0) ** 2


def krippendorff_alpha(ratings: np.ndarray, level: str = "ordinal") -> float:
    """Krippendorff's alpha for a raters x units array with missing values (NaN).

    Parameters
    ----------
    ratings : array of shape (raters, units); NaN where a rater gave no rating.
    level : the difference function: ``"nominal"``, ``"ordinal"`` (ranks; only the order of
        the values matters), ``"interval"`` or ``"ratio"``.

    Returns
    -------
    float
        ``1 - D_o / D_e`` from the coincidence matrix; NaN when fewer than two pairable values
        exist or the expected disagreement is zero.

    Examples
    --------
    >>> round(krippendorff_alpha([[1, 2, 3, 3], [1, 2, 3, 2]], level="nominal"), 3)
    0.667
    """
    if level not in ALPHA_LEVELS:
        raise ValueError(f"level must be one of {ALPHA_LEVELS}, got {level!r}")
    values, o = coincidence_matrix(np.asarray(ratings, dtype=np.float64))
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n < 2 or values.size < 1:
        return float("nan")
    delta = _difference(values, n_c, level)
    expected = float((np.outer(n_c, n_c) * delta).sum())
    if expected <= 0.0:
        return float("nan")
    observed = float((o * delta).sum())
    return float(1.0 - (n - 1.0) * observed / expected)


__all__ = ["weighted_kappa", "krippendorff_alpha", "coincidence_matrix", "KAPPA_WEIGHTS", "ALPHA_LEVELS"]
