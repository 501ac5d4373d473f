"""Cross-modal content correction: a modality's cause made a function of what the modalities share.

Why. PC over the estimated latents judges each latent by what conditioning on it removes. When a
modality's cause (z11 on variant digits) comes out of the refit with a little of its effect mixed
in, conditioning on it no longer separates the effect from the other modality (z12 - z21 given z11),
and PC keeps a spurious adjacency; the same holds for modality 2's cause (z11 - z22 given z21).
Within a modality the structural-model prior and the decoders' contrast barely tell the cause from
a rotation of it (``results/benchmarks/crl_experiments.md``, sessions 5 and 6). What does tell them
apart is the other modality: modality 2 depends on modality 1 only through z11, so among all
functions of modality 1's latents, those of z11 alone carry the most information about
modality 2, and mixing in z12 (or measurement noise) dilutes it. The same holds the other way
round for z21.

The same fact gives a sharper test. Once the cause is known, the rest of its modality says nothing
more about the other modality (modality 2 is independent of z12 given z11). A cause estimate with
some of z12 mixed in fails this, and the failure grows with the amount mixed in. Maximising the
shared information instead would be nearly flat there: a little of z12 still carries z11 through
z12's own dependence on it.

What. For each modality's block of latents (two or more columns) and the latents of all the other
modalities, each described by per-column cubic splines:

1. The block's content column is the one whose spline has the highest first canonical
   correlation with the other modalities' splines (:mod:`causaltraits.crl.selection`).
2. It is corrected by a few terms of the block's other columns (each standardised column and its
   square). The coefficients minimise what the block's other columns still share with the other
   modalities once the corrected column is known: both sides are taken as residuals of a
   regression on splines of the corrected column, and each criterion is minimised by Nelder-Mead
   from no correction, on the fitting rows. There are two criteria (below):

   - the full one, the first canonical correlation between the splines of the block's other
     columns and the other modalities' splines (the statistic the check below tests);
   - the small one, the sum of all squared canonical correlations between the block's other
     columns with their squares and the other modalities' columns with their squares.
3. The corrected column is brought back to its centre and scale on those rows. The other columns
   are left as they are.

Why two criteria. The full criterion cannot see an impurity of 1% of the cause's variance at 8,000
rows (the calibration below), while PC on 2,000 rows needs about 0.2%
(``crl_experiments.md``, session 9). The small criterion has fewer terms and counts every
canonical direction, so it follows the additive mix that the encoders leave further. On twenty
development fits (seeds 10-24), it halved the median share of its effect mixed into modality 1's
cause (0.017 -> 0.008), and the exact PC skeletons rose from 10 to 11 (Fisher-z) and from 11 to 13
(GCM) of 20 (``crl_experiments.md``, session 10).

Its few terms can also hide a second channel. On a modality built to share through two latents, it
finds a mix that brings the full statistic down to about its level. So:

- it is tried only where the full criterion's minimum is within twice the permutation level (the
  ``one_latent_shares`` bound: one latent can carry what the block shares);
- its solution is kept only where it lowers its own criterion and its full statistic stays within
  that bound.

Otherwise the full criterion's solution stands. ``criterion`` in the summary says which one was kept.
The check below judges the full criterion's minimum (``residual_min``) whichever is kept: it asks
whether the correction's terms can make the rest of the block independent of the other modalities,
a property of the block, not of the coefficients chosen. The small criterion's solution leaves the
full statistic a little higher (``residual_after``), and tested there a pure cause would fail about
twice as often (0.20 against 0.07 at 8,000 rows on the calibration's pure latents).

The correction only removes from the content column what the other modalities say does not
belong to it.

The model's learned graph stays the structural-model prior's, over the refitted coordinates
before the correction; PC over the latents sees the corrected ones.

It assumes that one latent per modality carries what the modalities share (a modality with two
latents that both act on another modality has a two-dimensional content, and the correction would
mix them). The summary records, per block, the content column's canonical correlation with the
other modalities and the residual one (the full criterion), before and after, and the full
criterion's own minimum.

It also records where independence would leave the full criterion's minimum, by a permutation null:
the other modalities' residuals are shuffled over rows (:data:`PERMUTATIONS` times, from a seeded
generator), which keeps both sets of residuals as they are and breaks only their pairing. The
level is the null's :data:`NULL_QUANTILE` quantile (``residual_null``), and the p-value is the
share of shuffles that reach the observed value (``residual_p_value``).

- A minimum at or below the level means no sign that the rest of the block still shares with
  the other modalities: the content column is pure as far as these rows can tell. The effect
  restoration (:mod:`causaltraits.crl.effects`) acts only then.
- Well above it (``one_latent_shares`` false, at twice the level), the assumption may not hold for
  that block. Such a block is corrected all the same, towards the one latent that explains the
  most of what it shares. The correction cannot make the rest of a block independent of the other
  modalities where the data say otherwise, so PC still sees such dependence.

How well it sees (``benchmarks/crl_content_calibration.py``, variant-digits latents, 40 draws per
cell; ``results/benchmarks/crl_content_calibration.md``):

- Size 0.03 with independent modalities (the statistic before any correction).
- After the correction, on pure causes and on rotations it undoes, it rejects 0.10 of the time
  (pooled), about twice the nominal rate: the spline residuals leave a little of what the cause
  explains. As the restoration's gate it errs towards leaving a block alone.
- Power against impurity the correction's terms cannot take out, at 8,000 rows: 0.90 with 10% of
  the cause's variance from its effect, 0.33 with 3%, the size with 1%. A pass therefore says the
  cause is pure to within a few percent of its variance, not to the 0.2% PC needs on variant
  digits (``crl_experiments.md``, session 7).
- What the correction leaves of the effect in the cause, at 8,000 rows: with the small criterion
  (kept in every draw but the two-latent ones and 30% of the 10% cubic mixes) 0.026 and 0.077 of
  the cubic mixes at 3% and 10%, against 0.034 and 0.105 with the full criterion only; on pure
  causes and rotations both leave under 0.1% (0.0006-0.0009 against 0.0003-0.0009).

Before session 9 the level was the rough ``sqrt(p / n) + sqrt(q / n)`` for p and q spline terms on
n rows; on variant digits that sits above the null's 99% quantile (0.066 against about 0.055 for
the 95% one).

The flag is a rough guide, not a test:

- It caught a modality built to share through two latents (``tests/crl/test_content.py``).
- The demo tables' face and text latents share through several channels (gender and traits).
  There the permutation test rejects every block (p <= 0.01), but the flag fires only on
  celeb-demo's face block (0.266 against a level of 0.117), not on athle-demo's (0.304 and 0.321
  against 0.185 and 0.201). The correction lowers MCC there (athle-demo 0.951 -> 0.947 with the
  small criterion, 0.926 with the full one only; celeb-demo 0.970 -> 0.965), so ``crl fit``
  leaves it off by default.
- It raised a false alarm on variant-digits seed 0, where the two terms do not reach the cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: interior knots of the corrected column's cubic spline
KNOTS = 5
#: interior knots of the splines of the other columns (the block's and the other modalities')
KNOTS_OTHER = 3
#: row shuffles of the permutation null of the residual correlation
PERMUTATIONS = 199
#: the null's quantile that sets ``residual_null``
NULL_QUANTILE = 0.95


def _whiten(F: np.ndarray) -> np.ndarray:
    from causaltraits.crl.selection import RIDGE, _whitener

    F = F - F.mean(0)
    return F @ _whitener(F, RIDGE)


def _canonical_correlations(Fa: np.ndarray, Fb_white: np.ndarray) -> np.ndarray:
    """All canonical correlations (largest first) between feature sets ``Fa`` (whitened here) and
    ``Fb_white``."""
    Wa = _whiten(Fa)
    return np.linalg.svd(Wa.T @ Fb_white / len(Wa), compute_uv=False)


def _first_cc(Fa: np.ndarray, Fb_white: np.ndarray) -> float:
    """First canonical correlation between feature sets ``Fa`` (whitened here) and ``Fb_white``."""
    return float(_canonical_correlations(Fa, Fb_white)[0])


def _spline(c: np.ndarray) -> np.ndarray:
    """One column's cubic-spline terms (:func:`~causaltraits.crl.selection.block_features`)."""
    from causaltraits.crl.selection import block_features

    return block_features(c[:, None], c[:, None], KNOTS)


def _splines(Z: np.ndarray) -> np.ndarray:
    """Every column's cubic-spline terms side by side (no products between columns)."""
    from causaltraits.crl.selection import block_features

    return block_features(Z, Z, KNOTS_OTHER, additive=True)


def _residual(F: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``F`` minus its least-squares fit on a constant and ``B``."""
    B1 = np.column_stack([np.ones(len(B)), B])
    return F - B1 @ np.linalg.lstsq(B1, F, rcond=None)[0]


@dataclass
class ContentMap:
    """The correction of one block's content column: the column standardised plus ``terms(Z) @ coef``,
    brought back to the column's centre and scale on the fitting rows."""

    column: int
    others: list[int]
    #: centre and scale of the block's columns: the content column first, then ``others``
    center: np.ndarray
    scale: np.ndarray
    #: centre and scale of the terms (each other column standardised, and its square)
    term_center: np.ndarray
    term_scale: np.ndarray
    coef: np.ndarray
    #: centre and scale of the corrected standardised column on the fitting rows
    out: np.ndarray
    #: first canonical correlation of the content column with the other modalities
    score_before: float
    score_after: float
    #: what the block's other columns still share with the other modalities given the content
    #: column (the full criterion): with no correction, and at the kept coefficients
    residual_before: float = float("nan")
    residual_after: float = float("nan")
    #: where independence would leave the residual correlation: the :data:`NULL_QUANTILE` quantile
    #: of its permutation null. The test is of ``residual_min``; well above the level, the block may
    #: share with the other modalities through more than one latent (a rough guide: see the
    #: module's notes)
    residual_null: float = float("nan")
    #: share of the null's shuffles at or above ``residual_min`` (with the observed value counted)
    residual_p_value: float = float("nan")
    #: the criterion whose minimum gave ``coef``: "small" (few terms, summed) or "full" (the
    #: residual correlation itself; every model saved before session 10)
    criterion: str = "full"
    #: the full criterion's minimum over the correction's terms: the least the rest of the block
    #: can share given the corrected column, which the permutation test and the flag judge (equal
    #: to ``residual_after`` where the full criterion was kept)
    residual_min: float = float("nan")

    def _raw_terms(self, Z: np.ndarray) -> np.ndarray:
        S = (Z[:, self.others] - self.center[1:]) / self.scale[1:]
        return np.column_stack([t for k in range(S.shape[1]) for t in (S[:, k], S[:, k] ** 2)])

    def terms(self, Z: np.ndarray) -> np.ndarray:
        return (self._raw_terms(Z) - self.term_center) / self.term_scale

    def apply(self, Z: np.ndarray) -> np.ndarray:
        Z = np.array(Z, dtype=np.float64, copy=True)
        w = (Z[:, self.column] - self.center[0]) / self.scale[0] + self.terms(Z) @ self.coef
        Z[:, self.column] = self.center[0] + self.scale[0] * (w - self.out[0]) / self.out[1]
        return Z

    def residual_within(self, factor: float) -> bool:
        """The least residual correlation the correction reaches (``residual_min``) is at most
        ``factor`` times the level of its permutation null (2: the ``one_latent_shares`` flag; 1:
        the effect restoration's purity gate, which is the permutation test at 1 -
        :data:`NULL_QUANTILE`)."""
        return bool(self.residual_min <= factor * self.residual_null)

    def summary(self, names: list[str] | None = None) -> dict:
        name = names[self.column] if names is not None else self.column
        return {"column": name, "canonical_correlation_before": round(self.score_before, 6),
                "canonical_correlation_after": round(self.score_after, 6),
                "residual_correlation_before": round(self.residual_before, 6),
                "residual_correlation_after": round(self.residual_after, 6),
                "residual_correlation_min": round(self.residual_min, 6),
                "residual_correlation_null": round(self.residual_null, 6),
                # a model saved before the permutation null has no p-value
                "residual_p_value": None if np.isnan(self.residual_p_value) else round(self.residual_p_value, 6),
                "one_latent_shares": self.residual_within(2),
                "criterion": self.criterion,
                "coef": [round(float(c), 6) for c in self.coef]}


def _permutation_null(rest: np.ndarray, other: np.ndarray, observed: float,
                      rng: np.random.Generator) -> tuple[float, float]:
    """The level (:data:`NULL_QUANTILE` quantile) and p-value of the first canonical correlation
    between the residual sets ``rest`` and ``other`` when ``other``'s rows are shuffled."""
    B = _whiten(other)
    null = np.array([_first_cc(rest, B[rng.permutation(len(B))]) for _ in range(PERMUTATIONS)])
    return float(np.quantile(null, NULL_QUANTILE)), float((1 + np.sum(null >= observed)) / (1 + PERMUTATIONS))


def _squares(S: np.ndarray) -> np.ndarray:
    """Each column of ``S`` standardised, then the standardised columns and their squares."""
    sd = S.std(0)
    S = (S - S.mean(0)) / np.where(sd > 0, sd, 1.0)
    return np.column_stack([S, S ** 2])


def _nelder_mead(f, n_terms: int) -> np.ndarray:
    from scipy.optimize import minimize

    return np.asarray(minimize(f, np.zeros(n_terms), method="Nelder-Mead",
                               options={"xatol": 1e-4, "fatol": 1e-7, "maxiter": 400 * n_terms}).x, dtype=np.float64)


def fit_content_maps(Z: np.ndarray, blocks: list[tuple[int, int]], seed: int = 0,
                     small: bool = True) -> list[ContentMap]:
    """One :class:`ContentMap` per block of two or more columns, fitted on the rows ``Z``;
    ``blocks`` are the modalities' [start, stop) column ranges (at least two); ``seed`` drives the
    permutation null's shuffles; ``small`` False keeps the full criterion everywhere (the
    correction before session 10)."""
    Z = np.asarray(Z, dtype=np.float64)
    rng = np.random.default_rng([seed, 0xC0])
    if len(blocks) < 2:
        raise ValueError("the content correction needs at least two blocks of latents")
    maps = []
    for a, b in blocks:
        if b - a < 2:
            continue
        rest = [c for a2, b2 in blocks if (a2, b2) != (a, b) for c in range(a2, b2)]
        maps.append(_fit_block(Z, list(range(a, b)), rest, rng, small))
    return maps


def _fit_block(Z: np.ndarray, block: list[int], rest: list[int], rng: np.random.Generator,
               try_small: bool) -> ContentMap:
    """The :class:`ContentMap` of one block's columns ``block`` against the other modalities'
    columns ``rest`` (the module's notes, steps 1-3, and the choice between the two criteria);
    ``rng`` draws the permutation null's shuffles."""
    other = _splines(Z[:, rest])
    other_white = _whiten(other)
    scores = [_first_cc(_spline(Z[:, j]), other_white) for j in block]
    j = block[int(np.argmax(scores))]
    others = [k for k in block if k != j]
    cols = [j, *others]
    center, scale = Z[:, cols].mean(0), Z[:, cols].std(0)
    scale = np.where(scale > 0, scale, 1.0)
    n_terms = 2 * len(others)
    cmap = ContentMap(j, others, center, scale, np.zeros(n_terms), np.ones(n_terms), np.zeros(n_terms),
                      np.array([0.0, 1.0]), float(max(scores)), float(max(scores)))
    raw = cmap._raw_terms(Z)
    cmap.term_center = raw.mean(0)
    sd = raw.std(0)
    cmap.term_scale = np.where(sd > 0, sd, 1.0)
    T = cmap.terms(Z)
    zj = (Z[:, j] - center[0]) / scale[0]
    S = (Z[:, others] - center[1:]) / scale[1:]
    rest_of_block = _splines(S)
    # the small criterion's few terms: the block's other columns and the other modalities' columns,
    # each with its square
    rest_small, other_small = _squares(S), _squares(Z[:, rest])

    def residuals(c, Fa=rest_of_block, Fb=other):
        given = _spline(zj + T @ c)
        return _residual(Fa, given), _residual(Fb, given)

    def full(c):
        ra, rb = residuals(c)
        return _first_cc(ra, _whiten(rb))

    def small(c):
        ra, rb = residuals(c, rest_small, other_small)
        return float(np.sum(_canonical_correlations(ra, _whiten(rb)) ** 2))

    zero = np.zeros(n_terms)
    cmap.residual_before = full(zero)
    # the full criterion from no correction; kept only where it lowers the criterion
    coef = _nelder_mead(full, n_terms)
    stat = full(coef)
    if not (stat < cmap.residual_before and (zj + T @ coef).std() > 0):
        coef, stat = zero, cmap.residual_before
    cmap.residual_min = stat
    cmap.residual_null, cmap.residual_p_value = _permutation_null(*residuals(coef), stat, rng)
    if try_small and cmap.residual_within(2):
        # one latent can carry what the block shares: the small criterion, kept where it lowers
        # its own criterion and leaves the full statistic within the same bound
        coef_small = _nelder_mead(small, n_terms)
        stat_small = full(coef_small)
        if (small(coef_small) < small(zero) and (zj + T @ coef_small).std() > 0
                and stat_small <= 2 * cmap.residual_null):
            coef, stat = coef_small, stat_small
            cmap.criterion = "small"
    w = zj + T @ coef
    cmap.coef, cmap.residual_after = coef, stat
    if np.any(coef != 0):
        cmap.out = np.array([w.mean(), w.std()])
        cmap.score_after = _first_cc(_spline(w), other_white)
    return cmap


def apply_content_maps(maps: list, Z: np.ndarray) -> np.ndarray:
    """Each map's ``apply`` in turn (content maps here; :mod:`causaltraits.crl.effects` reuses it)."""
    for m in maps:
        Z = m.apply(Z)
    return Z


def block_maps_to_arrays(maps: list, prefix: str, fields: tuple[str, ...], state: str,
                         state_of) -> dict[str, np.ndarray]:
    """npz arrays (no pickle) of per-block maps: ``{prefix}.{i}.index`` (the map's column, then its
    ``others``), each of ``fields`` as float64, and ``{prefix}.{i}.{state}`` = ``state_of(map)``."""
    out = {}
    for i, m in enumerate(maps):
        out[f"{prefix}.{i}.index"] = np.array([m.column, *m.others], dtype=np.int64)
        for k in fields:
            out[f"{prefix}.{i}.{k}"] = np.asarray(getattr(m, k), dtype=np.float64)
        out[f"{prefix}.{i}.{state}"] = np.asarray(state_of(m), dtype=np.float64)
    return out


def block_maps_from_arrays(f, prefix: str, fields: tuple[str, ...], state: str, build) -> list:
    """The maps :func:`block_maps_to_arrays` wrote: ``build(column, others, field arrays, state
    values)`` for each block in order."""
    maps = []
    i = 0
    while f"{prefix}.{i}.index" in f.files:
        idx = f[f"{prefix}.{i}.index"]
        maps.append(build(int(idx[0]), [int(k) for k in idx[1:]],
                          [np.asarray(f[f"{prefix}.{i}.{k}"]) for k in fields],
                          [float(x) for x in f[f"{prefix}.{i}.{state}"]]))
        i += 1
    return maps


_FIELDS = ("center", "scale", "term_center", "term_scale", "coef", "out")


def maps_to_arrays(maps: list[ContentMap]) -> dict[str, np.ndarray]:
    return block_maps_to_arrays(maps, "content", _FIELDS, "scores", lambda m: [
        m.score_before, m.score_after, m.residual_before, m.residual_after, m.residual_null,
        m.residual_p_value, float(m.criterion == "small"), m.residual_min])


def _from_scores(column, others, arrays, scores) -> ContentMap:
    # models saved before session 10 have no criterion (they used the full one, whose minimum is
    # then residual_after), and models saved before session 9 no p-value either
    if len(scores) > 6:
        return ContentMap(column, others, *arrays, *scores[:6], criterion="small" if scores[6] == 1.0 else "full",
                          residual_min=scores[7])
    return ContentMap(column, others, *arrays, *scores[:6], residual_min=scores[3])


def maps_from_arrays(f) -> list[ContentMap]:
    return block_maps_from_arrays(f, "content", _FIELDS, "scores", _from_scores)
