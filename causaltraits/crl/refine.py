"""Refit each modality's latent coordinates after training.

Why. When the latents of one block (the shared latents, or one modality's own) pass through an
invertible map ``r`` and the decoders that read them through ``r^-1``, the model's objective
(the ELBO) changes in two places only: (i) how well the structural-model prior fits the new
latents, and (ii) how well a diagonal Gaussian posterior fits the new coordinates - it cannot
follow a decoder Jacobian whose columns are not orthogonal, and for a nearly deterministic
decoder the ELBO pays the independent-mechanism (IMA) contrast
``1/2 sum_i log |J_i|^2 - 1/2 log det(J^T J)`` of that Jacobian, which is zero exactly when
each latent moves the observation in its own direction. Both are a few nats per row against
thousands for the reconstruction, and mini-batch training settles the coordinates early and
poorly: a modality's latents come out rotated or bent, an effect replaced by its own noise, or
a cause placed after its effect in the prior's fixed order. This step optimises exactly these
two parts of the objective, and nothing else.

What. Per block an invertible map::

    y = A z + c                  (A invertible; log|det A| enters the density)
    y_hi += g_1(y_lo);  y_lo += g_2(y_hi);  ...   (8 additive couplings, unit Jacobian;
                                                    each g_j one layer of 16 tanh units)

(for a block of one latent only the affine part). Its parameters and the prior's are fitted
jointly on the encoded training rows: maximise ``log p_scm(r(z)) + sum log|det A|`` minus
``ima`` times the IMA contrast of the decoders' Jacobian in the new coordinates, ``J R^-1``
(``J`` the decoders' Jacobian at each row, passed in as Gram matrices - the model takes it from
copies of its decoders fine-tuned at the posterior means, ``CRLConfig.refine_decoder_epochs``;
``R = dr/dz``).
``ima = 1`` is the ELBO's own weight; the model's default leans harder on the principle (10),
then settles the coordinates in a last stage at weight 1 (see
:class:`~causaltraits.crl.model.CRLConfig`). L-BFGS on the full batch, a small ridge on the
coupling weights, every order of the latents inside each block of up to three tried (greedily,
block by block). The refined latents are ``r(z)``; :meth:`Reparam.apply` maps new rows.
The maps' forward and backward passes are numba kernels over arrays that hold the rows in their
last axis; the blocks are mapped on up to ``threads`` threads, with the same result for any
number.

What it cannot do. The prior alone cannot tell an effect from its own noise (``z12`` and
``z12 - f(z11)`` fit it equally well; see ``benchmarks/crl_identifiability.py``): only the IMA
term separates them, and only where the true factors act on the observation in orthogonal
directions (on variant digits the true latents' contrast is 0.001-0.017 nats per row, the
effect-noise swap's 0.1-0.6). Where they do not, that choice remains arbitrary.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from scipy.optimize import minimize

from causaltraits.crl import scm as _scm

HIDDEN = 16
LAYERS = 8
RIDGE = 1e-3


@dataclass
class Reparam:
    """The fitted per-block maps (see the module docstring); ``params`` is JSON/npz friendly."""

    blocks: list[tuple[int, int]]      # [start, stop) of each block
    perms: list[list[int]]             # column order applied inside each block before the map
    params: dict[str, np.ndarray]

    def apply(self, z: np.ndarray) -> np.ndarray:
        out = np.array(z, dtype=np.float64, copy=True)
        for bi, (a, b) in enumerate(self.blocks):
            out[:, a:b] = _block_forward(z[:, a:b][:, self.perms[bi]], self.params, bi)[0]
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"reparam.{k}": v for k, v in self.params.items()}
        arrays["reparam.blocks"] = np.asarray(self.blocks, dtype=np.int64).reshape(-1, 2)
        arrays["reparam.perms"] = np.concatenate([np.asarray(p, dtype=np.int64) for p in self.perms]) \
            if self.perms else np.zeros(0, dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> "Reparam | None":
        if "reparam.blocks" not in arrays:
            return None
        blocks = [tuple(map(int, r)) for r in arrays["reparam.blocks"]]
        flat = list(map(int, arrays["reparam.perms"]))
        perms, off = [], 0
        for a, b in blocks:
            perms.append(flat[off:off + b - a])
            off += b - a
        skip = {"reparam.blocks", "reparam.perms"}
        params = {k[len("reparam."):]: np.asarray(arrays[k], dtype=np.float64) for k in arrays
                  if k.startswith("reparam.") and k not in skip}
        return cls(blocks, perms, params)


# ---------------------------------------------------------------------- one block's map
# The map of a block of L >= 2 latents: ``y = A z + c``, then ``LAYERS`` additive couplings that
# alternate between the halves (layer j updates half ``upd`` from half ``oth``):
#     y[upd] += tanh(y[oth] @ U_j + u_j) @ W_j
# Each coupling has unit Jacobian determinant; its Jacobian is I plus the block
# ``d y[upd] / d y[oth] = W_j^T diag(1 - t_j^2) U_j^T`` (per row).

@numba.njit(cache=True, inline="always")
def _ranges(L, j):
    """(u0, u1, o0, o1): coupling ``j`` updates ``y[u0:u1]`` from ``y[o0:o1]``; the halves split at
    ``L // 2``, even layers update the upper half, odd layers the lower."""
    p = L // 2
    if j % 2 == 0:
        return p, L, 0, p
    return 0, p, p, L


def _halves(L: int, j: int) -> tuple[slice, slice]:
    """(updated half, conditioning half) of coupling layer ``j``, as slices (see :func:`_ranges`)."""
    u0, u1, o0, o1 = _ranges(L, j)
    return slice(u0, u1), slice(o0, o1)


def _n_layers(P: dict, bi: int) -> int:
    """How many couplings block ``bi``'s parameters hold (a saved map keeps its own number)."""
    j = 0
    while f"U{bi}.{j}" in P:
        j += 1
    return j


def _stacked(P: dict, bi: int, L: int):
    """Block ``bi``'s coupling weights stacked over layers for the kernels: ``U`` (K x w x H),
    ``u`` (K x H), ``W`` (K x H x w), ``w = L - L // 2`` the wider half; a layer whose halves
    are narrower leaves the padding zero (the kernels never read it)."""
    K, w = _n_layers(P, bi), L - L // 2
    H = P[f"u{bi}.0"].shape[0] if K else 0
    U, u, W = np.zeros((K, w, H)), np.zeros((K, H)), np.zeros((K, H, w))
    for j in range(K):
        Uj, Wj = P[f"U{bi}.{j}"], P[f"W{bi}.{j}"]
        U[j, :Uj.shape[0]] = Uj
        u[j] = P[f"u{bi}.{j}"]
        W[j, :, :Wj.shape[1]] = Wj
    return U, u, W


def _unstack_add(G: dict, bi: int, gU, gu, gW) -> None:
    """Add stacked gradients (the layout of :func:`_stacked`) to the per-layer entries of ``G``."""
    for j in range(gU.shape[0]):
        Uj, Wj = G[f"U{bi}.{j}"], G[f"W{bi}.{j}"]
        Uj += gU[j, :Uj.shape[0]]
        G[f"u{bi}.{j}"] += gu[j]
        Wj += gW[j, :, :Wj.shape[1]]


# The kernels below hold a block's rows in the last axis (``Y[j]`` is L x rows, ``T[j]`` H x rows)
# so that their inner loops run over contiguous rows; sums over rows may be reordered (``reassoc``)
# so that they vectorise too. Every call is deterministic on a given machine.
_FAST = {"reassoc", "contract"}


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _coupling_pre(Yj, U, u, j, pre):
    """Pre-activations of coupling ``j``: ``pre[h] = u[j, h] + sum_b U[j, b, h] Yj[oth_b]``."""
    L, n = Yj.shape
    H = pre.shape[0]
    u0, u1, o0, o1 = _ranges(L, j)
    for h in range(H):
        for r in range(n):
            pre[h, r] = u[j, h]
        for b in range(o0, o1):
            w = U[j, b - o0, h]
            for r in range(n):
                pre[h, r] += w * Yj[b, r]


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _coupling_add(Yj, Tj, W, j, Yout):
    """``Yout = Yj`` with ``Tj^T W[j]`` added to the updated half of coupling ``j``."""
    L, n = Yj.shape
    H = Tj.shape[0]
    u0, u1, o0, o1 = _ranges(L, j)
    Yout[:] = Yj
    for a in range(u0, u1):
        for h in range(H):
            w = W[j, h, a - u0]
            for r in range(n):
                Yout[a, r] += w * Tj[h, r]


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _couplings_backward(dout, z, Y, T, U, W, inject, use_inject, gA, gc, gU, gu, gW):
    """Backward sweep of the couplings (see :func:`_block_forward`): ``dout`` (L x rows) is the
    gradient at the output; with ``use_inject``, ``inject[j, a, b]`` (a row vector; only the
    layer's block read) is the gradient with respect to entry (a, b) of layer j's off-diagonal
    Jacobian block ``W_j^T diag(s) U_j^T`` (``s = 1 - t^2``), from the IMA term. Gradients are
    added to ``gA .. gW``; ``z`` is the block's input, L x rows."""
    L, n = dout.shape
    K, _, H = U.shape
    dy = dout.copy()
    dpre = np.empty((H, n))
    DU = np.empty(n)
    for j in range(K - 1, -1, -1):
        u0, u1, o0, o1 = _ranges(L, j)
        for h in range(H):
            for r in range(n):
                dpre[h, r] = 0.0
            for a in range(u0, u1):
                w = W[j, h, a - u0]
                acc = 0.0
                for r in range(n):
                    acc += T[j, h, r] * dy[a, r]
                    dpre[h, r] += dy[a, r] * w
                gW[j, h, a - u0] += acc
            if use_inject:
                # the Jacobian block's entry (a, b) is sum_h W[h, a] s_h U[b, h]
                for a in range(u0, u1):
                    w = W[j, h, a - u0]
                    for r in range(n):
                        DU[r] = 0.0
                    for b in range(o0, o1):
                        ub = U[j, b - o0, h]
                        acc = 0.0
                        for r in range(n):
                            t = T[j, h, r]
                            s = 1.0 - t * t
                            acc += inject[j, a, b, r] * s
                            DU[r] += inject[j, a, b, r] * ub
                        gU[j, b - o0, h] += acc * w
                    acc = 0.0
                    for r in range(n):
                        t = T[j, h, r]
                        s = 1.0 - t * t
                        acc += DU[r] * s
                        dpre[h, r] += DU[r] * w * (-2.0 * t)  # ds/dt = -2t; times s below
                    gW[j, h, a - u0] += acc
            acc = 0.0
            for r in range(n):
                t = T[j, h, r]
                dpre[h, r] *= 1.0 - t * t
                acc += dpre[h, r]
            gu[j, h] += acc
            for b in range(o0, o1):
                acc = 0.0
                for r in range(n):
                    acc += Y[j, b, r] * dpre[h, r]
                gU[j, b - o0, h] += acc
            for b in range(o0, o1):
                w = U[j, b - o0, h]
                for r in range(n):
                    dy[b, r] += dpre[h, r] * w
    for a in range(L):
        acc = 0.0
        for r in range(n):
            acc += dy[a, r]
        gc[a] += acc
        for b in range(L):
            acc = 0.0
            for r in range(n):
                acc += dy[a, r] * z[b, r]
            gA[a, b] += acc


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _jacobian_blocks(T, U, W, L, Jb):
    """``Jb[j, r]``: coupling j's Jacobian minus the identity at row r, zero but for the block
    ``d y[upd] / d y[oth] = W_j^T diag(1 - t^2) U_j^T``."""
    K, H, n = T.shape
    Jb[:] = 0.0
    for j in range(K):
        u0, u1, o0, o1 = _ranges(L, j)
        for r in range(n):
            for a in range(u0, u1):
                for b in range(o0, o1):
                    acc = 0.0
                    for h in range(H):
                        t = T[j, h, r]
                        acc += W[j, h, a - u0] * (1.0 - t * t) * U[j, b - o0, h]
                    Jb[j, r, a, b] = acc


def _block_forward(z: np.ndarray, P: dict, bi: int):
    """``r(z)`` for block ``bi`` (rows x L) and the forward cache ``(z^T, Y, T, U, W)`` for the
    backward pass: ``Y[j]`` (L x rows) the input of coupling j, ``Y[K]`` the output, ``T[j]``
    (H x rows) its activations, ``U``, ``W`` the weights as :func:`_stacked` lays them out."""
    zT = np.ascontiguousarray(np.asarray(z, dtype=np.float64).T)
    L, n = zT.shape
    U, u, W = _stacked(P, bi, L)
    K, H = U.shape[0], U.shape[2]
    Y, T = np.empty((K + 1, L, n)), np.empty((K, H, n))
    np.matmul(P[f"A{bi}"], zT, out=Y[0])
    Y[0] += np.asarray(P[f"c{bi}"])[:, None]
    for j in range(K):
        _coupling_pre(Y[j], U, u, j, T[j])
        np.tanh(T[j], out=T[j])
        _coupling_add(Y[j], T[j], W, j, Y[j + 1])
    return Y[K].T.copy(), (zT, Y, T, U, W)


def _rows_of(cache, idx):
    """The forward cache of :func:`_block_forward` restricted to rows ``idx`` (all when None; a
    slice gives views)."""
    if idx is None:
        return cache
    zT, Y, T, U, W = cache
    return zT[:, idx], Y[:, :, idx], T[:, :, idx], U, W


def _block_backward(dout: np.ndarray, bi: int, cache, G: dict, inject=None) -> None:
    """Backward sweep through block ``bi``'s map: ``dout`` (rows x L) is the gradient at its output.

    ``inject`` (optional, K x rows x L x L) is ``d loss / d (Jacobian of coupling j minus I)``
    from the IMA term; it is turned into gradients of that layer's weights and of its conditioning
    input during the same sweep.
    """
    zT, Y, T, U, W = cache
    L = zT.shape[0]
    gU, gu, gW = np.zeros_like(U), np.zeros((U.shape[0], U.shape[2])), np.zeros_like(W)
    use = inject is not None
    inj = np.ascontiguousarray(inject.transpose(0, 2, 3, 1)) if use else np.zeros((0, L, L, 0))
    _couplings_backward(np.ascontiguousarray(np.asarray(dout, dtype=np.float64).T), zT, Y, T, U, W, inj, use,
                        G[f"A{bi}"], G[f"c{bi}"], gU, gu, gW)
    _unstack_add(G, bi, gU, gu, gW)


def _init_block(L: int, bi: int, rng: np.random.Generator) -> dict:
    """Identity map (zero coupling outputs) with random coupling features."""
    P = {f"A{bi}": np.eye(L), f"c{bi}": np.zeros(L)}
    if L >= 2:
        for j in range(LAYERS):
            upd, oth = _halves(L, j)
            n_oth, n_upd = oth.stop - oth.start, upd.stop - upd.start
            P[f"U{bi}.{j}"] = rng.normal(0.0, 1.0, size=(n_oth, HIDDEN))
            P[f"u{bi}.{j}"] = rng.normal(0.0, 0.5, size=HIDDEN)
            P[f"W{bi}.{j}"] = np.zeros((HIDDEN, n_upd))
    return P


# ---------------------------------------------------------------------- independent-mechanism term
@numba.njit(cache=True, nogil=True)
def _ima_rows(Jb, A, Gd, w, inject, gA):
    """Per row: ``R = (I + Jb[K-1]) ... (I + Jb[0]) A``, the contrast part
    ``w/2 sum_i log (R^-T Gd R^-1)_ii`` (returned, summed over rows), its gradient with respect to
    each layer's Jacobian (``inject[j, r]``, full L x L; only the layer's block is used) and, summed
    over rows, with respect to ``A`` (added to ``gA``). Small dense loops: L is a block's width."""
    K, n, L, _ = Jb.shape
    prefix = np.empty((K + 1, L, L))
    GQ = np.empty((L, L))
    dQ = np.empty((L, L))
    tmp = np.empty((L, L))
    back = np.empty((L, L))
    total = 0.0
    for r in range(n):
        prefix[0] = A
        for j in range(K):  # prefix[j+1] = (I + Jb[j, r]) prefix[j]
            for a in range(L):
                for b in range(L):
                    acc = prefix[j, a, b]
                    for k in range(L):
                        acc += Jb[j, r, a, k] * prefix[j, k, b]
                    prefix[j + 1, a, b] = acc
        Q = np.linalg.inv(prefix[K])
        for a in range(L):
            for b in range(L):
                acc = 0.0
                for k in range(L):
                    acc += Gd[r, a, k] * Q[k, b]
                GQ[a, b] = acc
        for i in range(L):
            d = 0.0
            for k in range(L):
                d += Q[k, i] * GQ[k, i]
            total += 0.5 * w * np.log(d)
            for k in range(L):
                dQ[k, i] = w * GQ[k, i] / d
        # back = -Q^T dQ Q^T
        for a in range(L):
            for b in range(L):
                acc = 0.0
                for k in range(L):
                    acc += Q[k, a] * dQ[k, b]
                tmp[a, b] = acc
        for a in range(L):
            for b in range(L):
                acc = 0.0
                for k in range(L):
                    acc += tmp[a, k] * Q[b, k]
                back[a, b] = -acc
        for j in range(K - 1, -1, -1):
            for a in range(L):  # inject = back prefix[j]^T
                for b in range(L):
                    acc = 0.0
                    for k in range(L):
                        acc += back[a, k] * prefix[j, b, k]
                    inject[j, r, a, b] = acc
            for a in range(L):  # back = (I + Jb[j, r])^T back
                for b in range(L):
                    acc = back[a, b]
                    for k in range(L):
                        acc += Jb[j, r, k, a] * back[k, b]
                    tmp[a, b] = acc
            back[:, :] = tmp
        gA += back
    return total


def _block_ima(Gd: np.ndarray, P: dict, bi: int, w: float, G: dict, cache):
    """``w`` times the summed IMA contrast of the decoders in the block's new coordinates.

    ``Gd`` (rows x L x L) is the Gram matrix of the decoders' Jacobian with respect to the
    block's current latents (noise-precision weighted). In new coordinates ``y = r(z)`` the
    Jacobian is ``J R^-1`` with ``R = dr/dz``, and the contrast is
    ``1/2 sum_i log (R^-T Gd R^-1)_ii - 1/2 log det(R^-T Gd R^-1)``; the couplings have unit
    determinant, so the second part is ``log|det A| - 1/2 log det Gd``. Adds the gradient with
    respect to ``A`` to ``G`` and returns ``(value, inject)``, ``inject`` being the gradient with
    respect to each layer's Jacobian block, for :func:`_block_backward`.
    """
    zT, Y, T, U, W = cache
    A = P[f"A{bi}"]
    L, n = zT.shape
    Jb = np.empty((T.shape[0], n, L, L))
    _jacobian_blocks(T, U, W, L, Jb)
    inject = np.empty_like(Jb)
    gA = np.zeros((L, L))
    val = _ima_rows(Jb, np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(Gd), float(w),
                    inject, gA)
    logdet_a = np.linalg.slogdet(A)[1]
    val += w * (n * logdet_a - 0.5 * float(np.sum(np.linalg.slogdet(Gd)[1])))
    G[f"A{bi}"] += w * n * np.linalg.inv(A).T + gA
    return val, inject


# ---------------------------------------------------------------------- joint fit
SCM_KEYS = ("W", "V", "U", "b", "log_s", "a", "mu", "lsd")
LOGISTIC_KEYS = SCM_KEYS[:5]


class _Problem:
    """Negative log-likelihood of the reparametrised latents and its gradient, over a flat vector.

    With no blocks it is the structural-model prior's own negative log-likelihood (what
    ``benchmarks/crl_identifiability.py`` fits).
    """

    def __init__(self, z, blocks, perms, mask, ridge: float = RIDGE, grams=None, ima: float = 0.0,
                 ima_idx: np.ndarray | None = None, pool=None):
        self.z, self.blocks, self.perms, self.mask, self.ridge = z, blocks, perms, mask, ridge
        self.ima = ima
        # blocks are mapped and differentiated independently: with an executor, concurrently (the
        # kernels release the GIL); each block writes only its own gradients and the values are
        # summed in block order, so the result does not depend on the number of threads
        self.pool = pool
        # the IMA term is averaged over the rows ``ima_idx`` (all rows when None); decoder Gram
        # matrices per block in the block's permuted column order. The rows are held with the IMA
        # rows first (the objective is a sum over rows), so that their forward cache is a view.
        self.ima_rows = None
        if ima_idx is not None:
            ima_idx = np.asarray(ima_idx)
            if len(np.unique(ima_idx)) != len(ima_idx):
                raise ValueError("ima_idx must list distinct rows")
            rest = np.setdiff1d(np.arange(len(z)), ima_idx)
            self.z = np.concatenate([z[ima_idx], z[rest]])
            self.ima_rows = slice(0, len(ima_idx))
        idx = slice(None) if ima_idx is None else ima_idx
        self.grams = None if grams is None or ima <= 0 else [
            None if g is None else g[idx][:, perm][:, :, perm] for g, perm in zip(grams, perms)]

    def pack(self, P: dict) -> np.ndarray:
        self.keys = sorted(P)
        self.shapes = {k: P[k].shape for k in self.keys}
        return np.concatenate([P[k].ravel() for k in self.keys])

    def unpack(self, theta: np.ndarray) -> dict:
        P, off = {}, 0
        for k in self.keys:
            n = int(np.prod(self.shapes[k]))
            P[k] = theta[off:off + n].reshape(self.shapes[k])
            off += n
        return P

    def _each_block(self, fn) -> list:
        idx = range(len(self.blocks))
        return list(self.pool.map(fn, idx)) if self.pool is not None and len(idx) > 1 else [fn(i) for i in idx]

    def transform(self, P: dict, z: np.ndarray | None = None):
        z = self.z if z is None else z
        out = np.array(z, copy=True)  # latents outside every block pass unchanged
        done = self._each_block(lambda bi: _block_forward(
            z[:, self.blocks[bi][0]:self.blocks[bi][1]][:, self.perms[bi]], P, bi))
        for (a, b), (y, _) in zip(self.blocks, done):
            out[:, a:b] = y
        return out, [cache for _, cache in done]

    def scm_args(self, P: dict):
        m = self.mask
        mix = (P["scm.a"], P["scm.mu"], P["scm.lsd"]) if "scm.a" in P else ()
        return (P["scm.W"] * m, P["scm.V"] * m, P["scm.U"] * m, P["scm.b"], P["scm.log_s"], m) + mix

    def _block_share(self, P: dict, G: dict, dy: np.ndarray, cache, bi: int) -> float | None:
        """Block ``bi``'s terms of the objective (log-determinant, IMA contrast, ridge); adds their
        gradients and the prior's (``dy``) backpropagated through the map to ``G``'s entries of
        the block. None if ``A`` is singular."""
        lo, hi = self.blocks[bi]
        A = P[f"A{bi}"]
        sign, logdet = np.linalg.slogdet(A)
        if sign == 0 or not np.isfinite(logdet):
            return None
        val = -logdet
        _block_backward(dy[:, lo:hi], bi, cache, G)
        if self.grams is not None and self.grams[bi] is not None:
            rows = _rows_of(cache, self.ima_rows)  # the IMA rows: the first rows just mapped
            v_ima, inject = _block_ima(self.grams[bi], P, bi, self.ima / rows[0].shape[1], G, rows)
            val += v_ima
            _block_backward(np.zeros_like(rows[0].T), bi, rows, G, inject)
        G[f"A{bi}"] -= np.linalg.inv(A).T
        for j in range(_n_layers(P, bi)):
            key = f"W{bi}.{j}"
            val += 0.5 * self.ridge * float(np.sum(P[key] ** 2))
            G[key] += self.ridge * P[key]
        return val

    def __call__(self, theta: np.ndarray):
        P = self.unpack(theta)
        n = self.z.shape[0]
        y, caches = self.transform(P)
        G = {k: np.zeros_like(v) for k, v in P.items()}
        dy = np.zeros_like(y)
        args = self.scm_args(P)
        grads = [G[k] for k in ("scm.W", "scm.V", "scm.U", "scm.b", "scm.log_s")]
        try:
            if len(args) > 6:
                val = _scm.scm_nll_backward_mix(y, *args, 1.0 / n, dy, *grads, G["scm.a"], G["scm.mu"], G["scm.lsd"])
            else:
                val = _scm.scm_nll_backward(y, *args, 1.0 / n, dy, *grads)
        except ZeroDivisionError:
            # a trial point where a noise scale underflows to 0 (a mixture component collapsing on a
            # few rows): no density there; L-BFGS backs off as from a singular map
            return np.inf, np.zeros_like(theta)
        for k in ("scm.W", "scm.V", "scm.U"):
            G[k] *= self.mask
        shares = self._each_block(lambda bi: self._block_share(P, G, dy, caches[bi], bi))
        if any(v is None for v in shares):  # a map not invertible: no density (L-BFGS backs off)
            return np.inf, np.zeros_like(theta)
        for v in shares:
            val += v
        return float(val), np.concatenate([G[k].ravel() for k in self.keys])


def refine(z: np.ndarray, blocks: list[tuple[int, int]], scm_params: dict, mask: np.ndarray,
           rng: np.random.Generator, z_val: np.ndarray | None = None, max_iter: int = 1500,
           screen_iter: int = 300, ima_rows: int = 1000, grams: list[np.ndarray | None] | None = None,
           ima: float = 1.0, val_grams: list[np.ndarray | None] | None = None,
           progress: bool = False, ima_final: float | None = None,
           threads: int = 1) -> tuple[Reparam | None, dict, dict]:
    """Fit the per-block maps and the prior jointly on latents ``z`` (rows x D).

    ``grams`` (optional, one per block, rows x L x L): Gram matrices of the decoders' Jacobian with
    respect to the block's latents at the rows of ``z``; with them the objective adds ``ima``
    times the independent-mechanism contrast (see :func:`_block_ima`), averaged over ``ima_rows``
    rows drawn with ``rng``.

    ``scm_params`` holds the trained prior (keys ``W V U b log_s`` and, for mixture noise,
    ``a mu lsd``): the prior alone is first fitted to ``z`` from it (``screen_iter`` iterations;
    the baseline of the validation check below), then maps and prior together. The order of the
    latents inside each block of two or three is chosen greedily, block by block, by the objective
    after ``screen_iter`` L-BFGS iterations; the chosen orders are then fitted for up to
    ``max_iter`` more. With ``ima_final`` (a weight) and ``grams``, a last stage of up to
    ``max_iter`` iterations continues from there with the IMA term at that weight: the heavier
    ``ima`` chooses the basin (an effect or its own noise), the last stage settles the coordinates
    inside it with the balance ``ima_final`` sets (1 = the ELBO's own). Returns the map, the
    refitted prior parameters and a summary (mean log-likelihood per row before and after, on ``z``
    and on ``z_val``, the final objective, the orders chosen and the two weights).

    With validation rows ``z_val`` (and their ``val_grams`` when ``grams`` are given) the refit is
    kept only if the maps fitted at weight ``ima`` lower that objective on them; otherwise the map
    is ``None``, the prior is returned unchanged and no last stage runs (``summary["accepted"]``
    says which). The last stage is kept only if it lowers its own objective (weight ``ima_final``)
    on the validation rows (``summary["final_kept"]``, with ``val_objective_final_before`` /
    ``_after``); otherwise the first stage's maps are returned. ``progress`` shows a bar of the
    L-BFGS iterations. ``threads`` > 1 maps the blocks concurrently; the result is the same.
    """
    z = np.asarray(z, dtype=np.float64)
    perms = [list(range(b - a)) for a, b in blocks]
    keys = SCM_KEYS if "a" in scm_params else LOGISTIC_KEYS
    # the baseline: the prior alone fitted to the latents as they are (identity maps), so that the
    # maps are judged against the best prior in the trained coordinates, not against a prior that
    # was never fitted here (e.g. a noise density other than the one trained with)
    prior_only = _Problem(z, [], [], mask)
    theta = prior_only.pack({f"scm.{k}": np.array(scm_params[k], dtype=np.float64) for k in keys})
    theta = minimize(prior_only, theta, jac=True, method="L-BFGS-B", options={"maxiter": screen_iter}).x
    P0 = {k: v.copy() for k, v in prior_only.unpack(theta).items()}
    for bi, (a, b) in enumerate(blocks):
        P0.update(_init_block(b - a, bi, rng))
    ima_idx = np.sort(rng.choice(len(z), size=min(len(z), ima_rows), replace=False))

    n_screens = 1 + sum(len(list(itertools.permutations(range(b - a)))) - 1 for a, b in blocks if 2 <= b - a <= 3)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        stages = 2 if ima_final is not None and grams is not None else 1
        bar = tqdm(total=n_screens * screen_iter + stages * max_iter, desc="crl refit", unit="it", leave=False)

    def fit(perms_now, start, iters, w=ima):
        prob = _Problem(z, blocks, perms_now, mask, grams=grams, ima=w, ima_idx=ima_idx, pool=pool)
        theta0 = prob.pack(start)
        res = minimize(prob, theta0, jac=True, method="L-BFGS-B", options={"maxiter": iters},
                       callback=None if bar is None else (lambda *_: bar.update(1)))
        return float(res.fun), prob.unpack(res.x.copy()), prob

    def loglik(rows, perms_now, P, rows_grams=None, w=ima):
        prob = _Problem(np.asarray(rows, dtype=np.float64), blocks, perms_now, mask, ridge=0.0,
                        grams=rows_grams, ima=w, pool=pool)
        return -prob(prob.pack(P))[0]

    final = ima_final is not None and grams is not None
    has_val = z_val is not None and len(z_val) > 0
    vg = val_grams if grams is not None else None
    pool = ThreadPoolExecutor(max_workers=min(threads, len(blocks))) if threads > 1 and len(blocks) > 1 else None
    try:
        summary: dict = {"loglik_before": loglik(z, perms, P0), "ima": ima, "ima_final": ima_final if final else None}
        best_val, best_P, best_prob = fit(perms, P0, screen_iter)
        for bi, (a, b) in enumerate(blocks):
            if not 2 <= b - a <= 3:
                continue
            for order in itertools.permutations(range(b - a)):
                if list(order) == best_prob.perms[bi]:
                    continue
                trial = [list(p) for p in best_prob.perms]
                trial[bi] = list(order)
                val, P, prob = fit(trial, P0, screen_iter)
                if val < best_val - 1e-9:
                    best_val, best_P, best_prob = val, P, prob
        best_val, best_P, best_prob = fit(best_prob.perms, best_P, max_iter)
        order = best_prob.perms
        summary.update(orders=order, accepted=True)
        if has_val:
            # keep the maps only if they lower the objective that chose them on the validation rows
            summary["val_loglik_before"] = loglik(z_val, perms, P0)
            summary["val_objective_before"] = -loglik(z_val, perms, P0, vg)
            summary["val_objective_after"] = -loglik(z_val, order, best_P, vg)
            summary["accepted"] = summary["val_objective_after"] < summary["val_objective_before"]
        if final and summary["accepted"]:
            # inside the accepted basin, settle the coordinates at the last stage's weight; kept only
            # if that lowers the last stage's own objective on the validation rows too
            stage_val, stage_P = best_val, best_P
            best_val, best_P, best_prob = fit(order, best_P, max_iter, ima_final)
            summary["final_kept"] = True
            if has_val:
                summary["val_objective_final_before"] = -loglik(z_val, order, stage_P, vg, ima_final)
                summary["val_objective_final_after"] = -loglik(z_val, order, best_P, vg, ima_final)
                if not summary["val_objective_final_after"] < summary["val_objective_final_before"]:
                    summary["final_kept"] = False
                    best_val, best_P = stage_val, stage_P
        summary.update(loglik_after=loglik(z, order, best_P), objective_after=best_val)
        if has_val:
            summary["val_loglik_after"] = loglik(z_val, order, best_P)
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.shutdown()
    if not summary["accepted"]:
        return None, {k: np.array(scm_params[k], dtype=np.float64) for k in keys}, summary
    rep = Reparam(blocks, order, {k: v for k, v in best_P.items() if not k.startswith("scm.")})
    return rep, {k: best_P[f"scm.{k}"] for k in keys}, summary
