"""Effect restoration: an effect the model has replaced by its own noise, put back by the data's Jacobian.

Why. Inside a modality, ``(cause, effect)`` and ``(cause, effect - g(cause))`` describe the
observations equally well for any function g: both are structural models with independent noises,
and the second (the effect's own noise in the effect's place) is sparser
(``results/benchmarks/crl_identifiability.md``). When the model lands there, PC over its latents
loses the edge cause - effect, since the noise is independent of the cause. Only the way the
observations change with the latents tells the two apart. In the true coordinates each latent moves
the observation in its own direction (variant digits: the scale of modality 2's digit against its
shift), so the Jacobian's columns are nearly orthogonal. In the noise coordinates the cause's column
also carries the effect's direction, ``d x / d cause = J_cause + g'(cause) J_effect``.

The model's own decoders are a poor guide here: they are trained on posterior samples and learn a
blurred map (``crl_experiments.md``, session 6). So the Jacobian is estimated from the data: for
every row, a local linear regression of the modality's measurements on the block's latents over the
row's nearest neighbours in latent space.

What. For each modality block whose content column (:mod:`causaltraits.crl.content`) passes the
one-latent check: its residual correlation at or below the permutation null's level:

1. Per row, two Jacobians from two disjoint halves of the row's ``2 * neighbours`` nearest
   neighbours (alternate ranks). Products of the two are free of the estimation noise's bias
   (the digit instance drawn per row, pixel noise), which would otherwise shrink the fit towards
   zero.
2. ``g_j'(u)`` for each of the block's other columns, a polynomial in the standardised content
   column ``u``, fitted by least squares so that the content column's Jacobian in the new
   coordinates, ``J_u - sum_j g_j'(u) J_j``, is as small as possible: it keeps only what is
   orthogonal to the other columns' directions (the independent-mechanism contrast with the
   content column fixed).
3. The fit is applied only if the other columns' directions explain at least :data:`MIN_GAIN`
   of the content column's squared Jacobian (summed over rows). Then each other column becomes
   ``z_j + scale_j * g_j(u)``, with ``g_j`` the integral of ``g_j'`` (centred on the fitting rows).

Why the two gates.

- The content column must be pure. If it carries part of an effect, its true direction lies
  partly along that effect's column, and step 2 shears the effect to undo it. That mixes the
  cause into the effect (seen on variant-digits modality 1).
- The gain must be large. The true columns are nearly but not exactly orthogonal, and small
  errors in the coordinates tilt them. From the generator's own Jacobian, the swap of an effect
  for its noise costs 0.1-0.6 nats of the contrast, while the true coordinates cost 0.001-0.02.
  On ten fits of seeds 10-14, modality blocks in the right order gave gains of 0.001-0.17, and a
  block with its effect replaced by its noise gave 0.57. The threshold 0.2 (a contrast of 0.11
  nats) lies between.

A shear of an effect by a function of its cause leaves every conditional independence among the
latents in place (the effect is still a function of its cause and its own noise), so the step
cannot add a spurious adjacency to PC. What it can do is put back the one that the noise
coordinates hide.

The restoration needs the measurements, so it runs inside the model's fit
(``CRLConfig.restore_effects``, after the content correction). The summary records, per block, the
gain, whether the content column was pure enough, and whether the map was applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: nearest neighbours per half of a row's neighbourhood (the local regressions use this many rows each)
NEIGHBOURS = 40
#: degree of the polynomial g_j' in the standardised content column
DEGREE = 3
#: share of the content column's squared Jacobian that the other columns' directions must explain
MIN_GAIN = 0.2
#: rows per chunk of the local regressions (bounds memory: chunk x neighbours x measurement width)
CHUNK = 128


def local_jacobians(U: np.ndarray, X: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Per-row Jacobian (n x d x P) of ``X`` (n x P) on ``U`` (n x d): least squares over each row's
    ``neighbours`` (n x k row indices), with an intercept."""
    n, d = U.shape
    out = np.empty((n, d, X.shape[1]))
    eye = 1e-9 * np.eye(d)
    for s in range(0, n, CHUNK):
        idx = neighbours[s:s + CHUNK]
        dU = U[idx]
        dU = dU - dU.mean(1, keepdims=True)
        dX = X[idx].astype(np.float64)
        dX -= dX.mean(1, keepdims=True)
        G = np.einsum("nki,nkj->nij", dU, dU) + eye
        out[s:s + CHUNK] = np.linalg.solve(G, np.einsum("nki,nkp->nip", dU, dX))
    return out


def crossfit_jacobians(U: np.ndarray, X: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Two per-row Jacobian estimates from disjoint halves (alternate ranks) of each row's ``2 k``
    nearest neighbours in ``U``: their products are free of the bias that the noise in one
    estimate adds to its squared norm."""
    from scipy.spatial import cKDTree

    kk = min(2 * k, len(U))
    _, nb = cKDTree(U).query(U, k=kk)
    return local_jacobians(U, X, nb[:, 0::2]), local_jacobians(U, X, nb[:, 1::2])


def _powers(u: np.ndarray, degree: int) -> np.ndarray:
    return np.column_stack([u ** p for p in range(degree + 1)])


def _integrals(u: np.ndarray, degree: int) -> np.ndarray:
    """Antiderivatives of ``_powers``: ``u^(p+1) / (p+1)``."""
    return np.column_stack([u ** (p + 1) / (p + 1) for p in range(degree + 1)])


@dataclass
class EffectMap:
    """The restoration of one block's other columns: ``z_j + scale_j * (g_j(u) - offset_j)``, with
    ``u`` the standardised content column (clipped to the fitting rows' range) and
    ``g_j' = powers(u) @ coef[j]``."""

    column: int
    others: list[int]
    #: centre and scale of the block's columns on the fitting rows: the content column first
    center: np.ndarray
    scale: np.ndarray
    #: range of u on the fitting rows (u is clipped to it, so g is constant beyond)
    u_range: np.ndarray
    #: coefficients of g_j' (one row per other column), and g_j's mean on the fitting rows
    coef: np.ndarray
    offset: np.ndarray
    #: share of the content column's squared Jacobian explained by the other columns' directions
    gain: float = float("nan")
    #: the content column passed the one-latent check (at or below its permutation null's level)
    content_pure: bool = False
    applied: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def degree(self) -> int:
        return self.coef.shape[1] - 1

    def shifts(self, Z: np.ndarray) -> np.ndarray:
        u = np.clip((Z[:, self.column] - self.center[0]) / self.scale[0], *self.u_range)
        return (_integrals(u, self.degree) @ self.coef.T - self.offset) * self.scale[1:]

    def apply(self, Z: np.ndarray) -> np.ndarray:
        Z = np.array(Z, dtype=np.float64, copy=True)
        if self.applied:
            Z[:, self.others] += self.shifts(Z)
        return Z

    def summary(self, names: list[str] | None = None) -> dict:
        name = (lambda j: names[j]) if names is not None else (lambda j: j)
        return {"content_column": name(self.column), "columns": [name(j) for j in self.others],
                "gain": round(self.gain, 6), "content_pure": bool(self.content_pure),
                "applied": bool(self.applied), "min_gain": MIN_GAIN,
                **({"notes": self.notes} if self.notes else {})}


def fit_effect_map(Z: np.ndarray, X: np.ndarray, column: int, others: list[int], content_pure: bool,
                   neighbours: int = NEIGHBOURS, degree: int = DEGREE) -> EffectMap:
    """Fit the restoration of ``others`` by the data Jacobian of ``X`` (the block's measurements side
    by side, rows as ``Z``); applied only if ``content_pure`` and the gain reaches :data:`MIN_GAIN`."""
    Z = np.asarray(Z, dtype=np.float64)
    cols = [column, *others]
    center, scale = Z[:, cols].mean(0), Z[:, cols].std(0)
    scale = np.where(scale > 0, scale, 1.0)
    U = (Z[:, cols] - center) / scale
    u = U[:, 0]
    r, q = len(others), degree + 1
    emap = EffectMap(column, list(others), center, scale, np.array([u.min(), u.max()]), np.zeros((r, q)),
                     np.zeros(r), content_pure=bool(content_pure))
    if len(Z) < 4 * neighbours:
        # too few rows for two halves of ``neighbours`` each: nothing is estimated or applied
        emap.gain = 0.0
        emap.notes.append(f"too few rows ({len(Z)}) for {neighbours} neighbours per half")
        return emap
    J1, J2 = crossfit_jacobians(U, X, neighbours)
    A1, A2, B1, B2 = J1[:, 0], J2[:, 0], J1[:, 1:], J2[:, 1:]
    # symmetric cross products: E<B_j, B_k>, E<B_j, A>, E|A|^2 without the noise's own bias
    BB = 0.5 * (np.einsum("njp,nkp->njk", B1, B2) + np.einsum("njp,nkp->njk", B2, B1))
    BA = 0.5 * (np.einsum("njp,np->nj", B1, A2) + np.einsum("njp,np->nj", B2, A1))
    AA = np.einsum("np,np->n", A1, A2)
    P = _powers(u, degree)
    # minimise sum_i |A_i - sum_j g_j'(u_i) B_ij|^2 over coef (r x q): normal equations
    M = np.einsum("njk,na,nb->jakb", BB, P, P).reshape(r * q, r * q)
    v = np.einsum("nj,na->ja", BA, P).reshape(r * q)
    M += 1e-10 * np.trace(M) / len(M) * np.eye(len(M))
    coef = np.linalg.solve(M, v).reshape(r, q)
    gp = P @ coef.T
    left = AA - 2 * np.einsum("nj,nj->n", gp, BA) + np.einsum("nj,njk,nk->n", gp, BB, gp)
    emap.gain = float(1.0 - left.sum() / AA.sum()) if AA.sum() > 0 else 0.0
    emap.coef = coef
    emap.offset = (_integrals(u, degree) @ coef.T).mean(0)
    emap.applied = bool(content_pure and emap.gain >= MIN_GAIN)
    return emap


def fit_effect_maps(Z: np.ndarray, blocks: list[tuple[int, int]], measurements: list[np.ndarray],
                    content_maps: list) -> list[EffectMap]:
    """One :class:`EffectMap` per content map (:class:`~causaltraits.crl.content.ContentMap`),
    fitted on the rows ``Z`` (already corrected); ``measurements[b]`` holds block ``b``'s
    measurements side by side for the same rows."""
    out = []
    for cmap in content_maps:
        b = next(i for i, (a, e) in enumerate(blocks) if a <= cmap.column < e)
        out.append(fit_effect_map(Z, measurements[b], cmap.column, cmap.others, cmap.residual_within(1)))
    return out


def apply_effect_maps(maps: list[EffectMap], Z: np.ndarray) -> np.ndarray:
    from causaltraits.crl.content import apply_content_maps

    return apply_content_maps(maps, Z)  # each map's ``apply`` in turn, whatever its kind


_FIELDS = ("center", "scale", "u_range", "coef", "offset")


def maps_to_arrays(maps: list[EffectMap]) -> dict[str, np.ndarray]:
    from causaltraits.crl.content import block_maps_to_arrays

    return block_maps_to_arrays(maps, "effect", _FIELDS, "state",
                                lambda m: [m.gain, float(m.content_pure), float(m.applied)])


def maps_from_arrays(f) -> list[EffectMap]:
    from causaltraits.crl.content import block_maps_from_arrays

    def build(column, others, arrays, state):
        gain, pure, applied = state
        return EffectMap(column, others, *arrays, gain=gain, content_pure=bool(pure), applied=bool(applied))

    return block_maps_from_arrays(f, "effect", _FIELDS, "state", build)
