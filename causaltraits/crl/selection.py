"""Label-free choice among trainings from several initialisations: the cross-modal information kept.

Why. On variant digits the initialisation decides whether the encoders keep a cause at all (seed
13: MCC 0.993 from one initialisation, 0.692 from another, where modality 1's cause is lost).
Neither the validation loss nor the refit's objective tells the two apart (see
``results/benchmarks/crl_experiments.md``, sessions 1 and 5). What a lost cause does change is
what one modality's latents know about another's: the causes carry the only information the
modalities share (modality 2 is independent of modality 1 given z11), so an encoder that drops
part of z11 lowers the dependence between the two blocks of latents, while any invertible map
inside a block (a rotation, an effect swapped for its noise: the ambiguities the refit resolves)
leaves it unchanged.

What. For every pair of modalities, the first canonical correlation between a spline basis of
one block of latents and of the other (tensor products of per-coordinate cubic splines, so any
smooth function of the block is close to the span), fitted on training rows and measured on
held-out rows; the score of a fit is the mean over pairs. Higher keeps more shared information.
"""

from __future__ import annotations

import itertools

import numpy as np

#: interior knots of each coordinate's cubic spline
KNOTS = 3
#: blocks with more coordinates than this use additive terms (no tensor products)
TENSOR_MAX = 3
#: relative ridge on the covariance matrices of the canonical correlation
RIDGE = 1e-3


def _coordinate_bases(Z_fit: np.ndarray, Z: np.ndarray, knots: int) -> list[np.ndarray]:
    """Per column of ``Z``: a constant and its cubic-spline terms (:func:`~causaltraits.independence.gcm.cubic_terms`,
    scale and knots from the fitting rows ``Z_fit``, so held-out rows get the same basis)."""
    from causaltraits.independence.gcm import cubic_terms

    return [np.column_stack([np.ones(len(c)), *cubic_terms(c_fit, c, knots)])
            for c_fit, c in zip(np.asarray(Z_fit, float).T, np.asarray(Z, float).T)]


def block_features(Z_fit: np.ndarray, Z: np.ndarray, knots: int = KNOTS, additive: bool = False) -> np.ndarray:
    """Spline features of a block of latents ``Z`` (rows x L), the basis fixed on ``Z_fit``: every
    product of one term per coordinate (tensor product) when ``L <= TENSOR_MAX``, else (or with
    ``additive``) the coordinates' terms side by side; without the constant."""
    bases = _coordinate_bases(Z_fit, Z, knots)
    if additive or len(bases) > TENSOR_MAX:
        return np.column_stack([b[:, 1:] for b in bases])
    feats = bases[0]
    for b in bases[1:]:
        feats = (feats[:, :, None] * b[:, None, :]).reshape(len(feats), -1)
    return feats[:, 1:]


def _whitener(X: np.ndarray, ridge: float) -> np.ndarray:
    C = X.T @ X / len(X)
    C = C + ridge * np.trace(C) / len(C) * np.eye(len(C))
    w, V = np.linalg.eigh(C)
    return V / np.sqrt(np.maximum(w, 1e-300))


def first_canonical_correlation(A_fit: np.ndarray, B_fit: np.ndarray, A: np.ndarray, B: np.ndarray,
                                ridge: float = RIDGE) -> float:
    """The first pair of canonical directions of feature sets ``A_fit`` and ``B_fit`` (rows aligned;
    a small ridge), and the correlation of that pair on the rows ``A``, ``B``."""
    ma, mb = A_fit.mean(0), B_fit.mean(0)
    Wa, Wb = _whitener(A_fit - ma, ridge), _whitener(B_fit - mb, ridge)
    U, _, Vt = np.linalg.svd(((A_fit - ma) @ Wa).T @ ((B_fit - mb) @ Wb) / len(A_fit))
    fa, fb = (A - ma) @ Wa @ U[:, 0], (B - mb) @ Wb @ Vt[0]
    if fa.std() == 0 or fb.std() == 0:
        return 0.0
    return float(abs(np.corrcoef(fa, fb)[0, 1]))


def crossmodal_score(Z_fit: np.ndarray, Z: np.ndarray, blocks: list[tuple[int, int]]) -> float:
    """Mean over pairs of ``blocks`` ([start, stop) column ranges) of the held-out first canonical
    correlation between their spline features: fitted on the rows ``Z_fit``, measured on ``Z``."""
    if len(blocks) < 2:
        raise ValueError("the cross-modal score needs at least two blocks of latents")
    feats = [(block_features(Z_fit[:, a:b], Z_fit[:, a:b]), block_features(Z_fit[:, a:b], Z[:, a:b]))
             for a, b in blocks]
    return float(np.mean([first_canonical_correlation(fi[0], fj[0], fi[1], fj[1])
                          for fi, fj in itertools.combinations(feats, 2)]))
