"""The latent structural model: a proper density over the latents with independent noise.

Additive-noise model in a fixed causal order (the latent order; strictly lower-triangular
parent sets)::

    z_i = b_i + sum_{j < i} (W_ij z_j + V_ij tanh(z_j) + U_ij tanh(z_j)^2) + eps_i,
    eps_i = s_i * u_i,  u_i ~ f_i

(the even basis ``tanh^2`` lets a mechanism be non-monotone, e.g. a quadratic effect of a
parent; with only odd bases such a mechanism cannot be fitted in the true parametrisation and
the model prefers a mixed one)

with f_i the standard logistic density (:func:`scm_logp`) or a learned K-component Gaussian
mixture (:func:`scm_logp_mix`, the default of the model; see the note further down).

The map z -> eps is triangular with unit diagonal, so its Jacobian determinant is 1 and
``log p(z) = sum_i [log f_i(eps_i / s_i) - log s_i]`` is an exact density (no term is dropped).
Shrinking the latents does not lower the model's loss: inside the ELBO every scale change of z
is matched by the posterior entropy and by the learnable noise scales s_i.

The logistic density is used because it is non-Gaussian (heavier tails), smooth, and has a
cheap derivative: ``d/du log f(u) = -tanh(u / 2)``.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _log_logistic(u):
    a = abs(u)
    return -a - 2.0 * np.log1p(np.exp(-a))


@numba.njit(cache=True, nogil=True)
def _mechanism(zr, th, i, W, V, U, b, mask):
    """h_i(parents) for one row: ``zr`` the latents, ``th`` their tanh (computed once per row)."""
    h = b[i]
    for j in range(i):
        if mask[i, j]:
            h += W[i, j] * zr[j] + V[i, j] * th[j] + U[i, j] * th[j] * th[j]
    return h


@numba.njit(cache=True, nogil=True)
def scm_logp(z, W, V, U, b, log_s, mask):
    """Per-row log density of the latents ``z`` (n x D) under the structural model."""
    n, D = z.shape
    out = np.zeros(n, dtype=np.float64)
    th = np.empty(D, dtype=np.float64)
    for r in range(n):
        acc = 0.0
        for j in range(D):
            th[j] = np.tanh(z[r, j])
        for i in range(D):
            h = _mechanism(z[r], th, i, W, V, U, b, mask)
            s = np.exp(log_s[i])
            acc += _log_logistic((z[r, i] - h) / s) - log_s[i]
        out[r] = acc
    return out


@numba.njit(cache=True, nogil=True)
def scm_nll_backward(z, W, V, U, b, log_s, mask, weight, dz, dW, dV, dU, db, dlog_s):
    """Add ``weight * d(-sum_r log p(z_r))`` to the gradient arrays; returns ``-weight * sum_r log p``.

    ``dz`` (n x D) receives the gradient with respect to the latents.
    """
    n, D = z.shape
    total = 0.0
    th = np.empty(D, dtype=np.float64)
    for r in range(n):
        for j in range(D):
            th[j] = np.tanh(z[r, j])
        for i in range(D):
            h = _mechanism(z[r], th, i, W, V, U, b, mask)
            s = np.exp(log_s[i])
            u = (z[r, i] - h) / s
            total += _log_logistic(u) - log_s[i]
            # g = d(-log p)/d eps_i
            t = np.tanh(0.5 * u)
            g = weight * t / s
            dz[r, i] += g
            db[i] -= g
            dlog_s[i] += weight * (1.0 - t * u)
            for j in range(i):
                if mask[i, j]:
                    dW[i, j] -= g * z[r, j]
                    dV[i, j] -= g * th[j]
                    dU[i, j] -= g * th[j] * th[j]
                    dz[r, j] -= g * (W[i, j] + (V[i, j] + 2.0 * U[i, j] * th[j]) * (1.0 - th[j] * th[j]))
    return -weight * total


def strength(W: np.ndarray, V: np.ndarray, log_s: np.ndarray, mask: np.ndarray, z: np.ndarray,
             U: np.ndarray | None = None) -> np.ndarray:
    """Edge strengths ``S[i, j]`` (j -> i): std of the parent's contribution over the noise scale of z_i."""
    D = W.shape[0]
    S = np.zeros((D, D))
    tz = np.tanh(z)
    for i in range(D):
        for j in range(i):
            if mask[i, j]:
                contrib = W[i, j] * z[:, j] + V[i, j] * tz[:, j]
                if U is not None:
                    contrib = contrib + U[i, j] * tz[:, j] ** 2
                S[i, j] = float(np.std(contrib) / np.exp(log_s[i]))
    return S


# ---------------------------------------------------------------------- flexible noise density
# A logistic noise density is super-Gaussian; with sub-Gaussian true noise (uniform, say) it
# prefers mixed latents, as a fixed-sign contrast does in ICA. The mixture density below (K
# Gaussians per latent, learnable weights, means and scales, on the standardised noise
# u = eps / s) can be sub- or super-Gaussian, and is still an exact, normalised density.

@numba.njit(cache=True, nogil=True)
def _mix_consts(a, lsd):
    """Per latent and component, what does not depend on the row: ``base = log weight - log sd``,
    the sd, the variance and the weight (``a`` are the weights' logits)."""
    D, K = a.shape
    base, sd, var, wk = np.empty((D, K)), np.empty((D, K)), np.empty((D, K)), np.empty((D, K))
    for i in range(D):
        amax = a[i, 0]
        for k in range(1, K):
            if a[i, k] > amax:
                amax = a[i, k]
        acc = 0.0
        for k in range(K):
            acc += np.exp(a[i, k] - amax)
        lse = amax + np.log(acc)
        for k in range(K):
            base[i, k] = a[i, k] - lse - lsd[i, k]
            sd[i, k] = np.exp(lsd[i, k])
            var[i, k] = np.exp(2.0 * lsd[i, k])
            wk[i, k] = np.exp(a[i, k] - lse)
    return base, sd, var, wk


@numba.njit(cache=True, nogil=True)
def _mix_logpdf(u, base, mu, sd, terms):
    """log f(u) of one latent's mixture (constants from :func:`_mix_consts`); ``terms[k]`` is left
    holding each component's log weight times density, for the responsibilities."""
    K = base.shape[0]
    for k in range(K):
        d = (u - mu[k]) / sd[k]
        terms[k] = base[k] - 0.5 * d * d - 0.9189385332046727
    tmax = terms[0]
    for k in range(1, K):
        if terms[k] > tmax:
            tmax = terms[k]
    s = 0.0
    for k in range(K):
        s += np.exp(terms[k] - tmax)
    return tmax + np.log(s)


def mixture_init(D: int, K: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial mixture parameters: equal weights, means spread over [-1, 1], scale 0.6."""
    means = np.linspace(-1.0, 1.0, K) if K > 1 else np.zeros(1)
    return np.zeros((D, K)), np.tile(means, (D, 1)), np.full((D, K), np.log(0.6))


def edgeless_prior(D: int, K: int = 3) -> dict[str, np.ndarray]:
    """Structural-model parameters with no edges, zero means, unit scales and the initial mixture
    noise (:func:`mixture_init`): the untrained prior the refit starts from in tests and benchmarks."""
    a0, mu0, lsd0 = mixture_init(D, K)
    return {"W": np.zeros((D, D)), "V": np.zeros((D, D)), "U": np.zeros((D, D)), "b": np.zeros(D),
            "log_s": np.zeros(D), "a": a0, "mu": mu0, "lsd": lsd0}


@numba.njit(cache=True, nogil=True)
def scm_logp_mix(z, W, V, U, b, log_s, mask, a, mu, lsd):
    """Per-row log density of ``z`` under the structural model with mixture noise."""
    n, D = z.shape
    out = np.zeros(n, dtype=np.float64)
    th = np.empty(D, dtype=np.float64)
    base, sd, _, _ = _mix_consts(a, lsd)
    terms = np.empty(a.shape[1])
    for r in range(n):
        acc = 0.0
        for j in range(D):
            th[j] = np.tanh(z[r, j])
        for i in range(D):
            h = _mechanism(z[r], th, i, W, V, U, b, mask)
            u = (z[r, i] - h) / np.exp(log_s[i])
            acc += _mix_logpdf(u, base[i], mu[i], sd[i], terms) - log_s[i]
        out[r] = acc
    return out


@numba.njit(cache=True, nogil=True)
def scm_nll_backward_mix(z, W, V, U, b, log_s, mask, a, mu, lsd, weight, dz, dW, dV, dU, db, dlog_s, da, dmu, dlsd):
    """As :func:`scm_nll_backward` with mixture noise; also fills the mixture-parameter gradients."""
    n, D = z.shape
    K = a.shape[1]
    total = 0.0
    th = np.empty(D, dtype=np.float64)
    base, sd, var, wk = _mix_consts(a, lsd)
    terms = np.empty(K)
    scale = np.exp(log_s)
    for r in range(n):
        for j in range(D):
            th[j] = np.tanh(z[r, j])
        for i in range(D):
            h = _mechanism(z[r], th, i, W, V, U, b, mask)
            s = scale[i]
            u = (z[r, i] - h) / s
            lf = _mix_logpdf(u, base[i], mu[i], sd[i], terms)
            total += lf - log_s[i]
            q = 0.0  # d log f / du
            for k in range(K):
                resp = np.exp(terms[k] - lf)
                d = u - mu[i, k]
                q -= resp * d / var[i, k]
                dmu[i, k] -= weight * resp * d / var[i, k]
                dlsd[i, k] -= weight * resp * (d * d / var[i, k] - 1.0)
                da[i, k] -= weight * (resp - wk[i, k])
            g = -weight * q / s  # d(-weight log p)/d eps_i
            dz[r, i] += g
            db[i] -= g
            dlog_s[i] += weight * (q * u + 1.0)
            for j in range(i):
                if mask[i, j]:
                    dW[i, j] -= g * z[r, j]
                    dV[i, j] -= g * th[j]
                    dU[i, j] -= g * th[j] * th[j]
                    dz[r, j] -= g * (W[i, j] + (V[i, j] + 2.0 * U[i, j] * th[j]) * (1.0 - th[j] * th[j]))
    return -weight * total
