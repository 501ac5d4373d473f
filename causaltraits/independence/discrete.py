"""Chi-square and G-square tests of conditional independence for discrete columns.

Both tests stratify by the observed configurations of the conditioning set ``Z`` and sum, over
the strata, the Pearson (chi-square) or likelihood-ratio (G-square) statistic of the ``X x Y``
contingency table of each stratum against the product of its margins.

Degrees of freedom follow causal-learn (``CIT(data, 'chisq' | 'gsq')``): a stratum with ``r``
observed levels of ``X`` and ``c`` observed levels of ``Y`` contributes ``(r - 1) (c - 1)``
(an empty row or column costs no degree of freedom), strata without rows are dropped, and a
test with zero degrees of freedom has p-value 1. On complete data the statistics and p-values
equal causal-learn's to round-off; counting is done with integer codes and ``np.bincount``.

Which columns are discrete
--------------------------
A column is accepted when its observed values are all integers or half-integers (the
aggregated LLM trait ratings take 1, 1.5, 2, 2.5, 3) and it has at most ``max_levels``
(default 20) distinct values. Anything else raises :class:`~causaltraits.errors.ParameterError`
naming the column and its number of distinct values; causal-learn would instead treat every
distinct value of a continuous column as a category (slow, memory-hungry and meaningless).

Degenerate input: when ``X`` or ``Y`` takes a single value on the rows used, the result is
statistic 0, p-value 1, 0 degrees of freedom (no evidence of dependence), as in causal-learn.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np
from scipy import stats

from causaltraits.errors import ParameterError
from causaltraits.independence.base import CITest, register

#: default largest number of distinct values of a column the discrete tests accept
MAX_LEVELS = 20


class _ContingencyTest(CITest):
    """Shared counting for chi-square and G-square (subclasses set ``gsquare``)."""

    gsquare: ClassVar[bool] = False

    def __init__(
        self,
        data: np.ndarray,
        kinds: Sequence[str] | None = None,
        seed: int = 0,
        max_levels: int = MAX_LEVELS,
        names: Sequence[str] | None = None,
        **params: Any,
    ):
        # max_levels and names only decide whether a column is refused, never a p-value,
        # so they stay out of ``params`` (which keys the result cache).
        super().__init__(data, kinds=kinds, seed=seed, **params)
        self.max_levels = int(max_levels)
        self.names = list(names) if names is not None else None
        self._codes: dict[int, np.ndarray] = {}

    def _label(self, col: int) -> str:
        return self.names[col] if self.names is not None else f"#{col}"

    def _column_codes(self, col: int) -> np.ndarray:
        """Integer codes 0..k-1 of a column (-1 where missing), validated as discrete once."""
        if col not in self._codes:
            values = self.data[:, col]
            observed = ~np.isnan(values)
            levels, inverse = np.unique(values[observed], return_inverse=True)
            if len(levels) > self.max_levels:
                raise ParameterError(
                    f"column '{self._label(col)}' has {len(levels)} distinct values; chi-square/G-square "
                    f"need a discrete column with at most {self.max_levels} distinct values"
                )
            doubled = 2.0 * levels
            if not np.all(np.isfinite(levels)) or not np.array_equal(doubled, np.round(doubled)):
                raise ParameterError(
                    f"column '{self._label(col)}' has {len(levels)} distinct values, not all integers or "
                    f"half-steps (.5); chi-square/G-square need a discrete column"
                )
            codes = np.full(values.shape[0], -1, dtype=np.int64)
            codes[observed] = inverse
            self._codes[col] = codes
        return self._codes[col]

    def _codes_on(self, col: int, rows: np.ndarray | None) -> tuple[np.ndarray, int]:
        """Compact codes (0..k-1, only levels present in ``rows``) and their count ``k``."""
        codes = self._column_codes(col)
        if rows is not None:
            codes = codes[rows]
        present = np.bincount(codes)
        if np.count_nonzero(present) == len(present):
            return codes, len(present)
        remap = np.cumsum(present > 0) - 1
        return remap[codes], int(np.count_nonzero(present))

    def _strata(self, z: tuple[int, ...], rows: np.ndarray | None) -> tuple[np.ndarray, int]:
        """Index 0..S-1 of the observed configuration of ``z`` in each row, and S."""
        coded = [self._codes_on(c, rows) for c in z]
        radix = 1
        for _, k in coded:
            radix *= k
        if radix < 2**62:
            combined = np.zeros(len(coded[0][0]), dtype=np.int64)
            for codes, k in coded:
                combined = combined * k + codes
            _, strata = np.unique(combined, return_inverse=True)
        else:  # too many configurations for one integer: unique rows instead
            _, strata = np.unique(np.column_stack([c for c, _ in coded]), axis=0, return_inverse=True)
        strata = strata.ravel()
        return strata, int(strata.max()) + 1

    def _compute(self, x, y, z, rows):
        cx, kx = self._codes_on(x, rows)
        cy, ky = self._codes_on(y, rows)
        if kx < 2 or ky < 2:
            return 0.0, 1.0, 0.0
        if z:
            strata, n_strata = self._strata(z, rows)
            index = (strata * kx + cx) * ky + cy
        else:
            n_strata = 1
            index = cx * ky + cy
        observed = np.bincount(index, minlength=n_strata * kx * ky).reshape(n_strata, kx, ky).astype(np.float64)
        row_margin = observed.sum(axis=2)
        col_margin = observed.sum(axis=1)
        stratum_size = row_margin.sum(axis=1)
        expected = row_margin[:, :, None] * col_margin[:, None, :] / stratum_size[:, None, None]
        positive = expected > 0
        if self.gsquare:
            nz = observed > 0
            stat = 2.0 * float(np.sum(observed[nz] * np.log(observed[nz] / expected[nz])))
        else:
            stat = float(np.sum((observed[positive] - expected[positive]) ** 2 / expected[positive]))
        rows_present = np.count_nonzero(row_margin, axis=1)
        cols_present = np.count_nonzero(col_margin, axis=1)
        dof = int(np.sum((rows_present - 1) * (cols_present - 1)))
        if dof == 0:
            return stat, 1.0, 0.0
        return stat, float(stats.chi2.sf(stat, dof)), float(dof)


@register("chisq")
class ChiSquare(_ContingencyTest):
    """Pearson chi-square test of ``X _||_ Y | Z`` for discrete columns (stratified by ``Z``).

    Parameters
    ----------
    data : n x p float array, NaN for missing (test-wise deletion)
    kinds : kind of each column (not used: every column the test touches must be discrete)
    seed : unused (the test is deterministic)
    max_levels : largest number of distinct values accepted in a column
    names : column names, used in error messages only
    """

    gsquare = False


@register("gsq")
class GSquare(_ContingencyTest):
    """G-square (likelihood-ratio) test of ``X _||_ Y | Z`` for discrete columns.

    Same parameters, strata and degrees of freedom as :class:`ChiSquare`.
    """

    gsquare = True
