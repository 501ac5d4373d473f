"""Adam over one flat parameter vector (one numba loop per step)."""

from __future__ import annotations

import numba
import numpy as np


# fastmath lets the loop vectorise (sqrt and division); it is still deterministic run to run
@numba.njit(cache=True, nogil=True, fastmath=True)
def adam_update(theta, grad, m, v, lr, beta1, beta2, eps, t):
    """One Adam step in place (Kingma & Ba, bias-corrected), ``t`` counts from 1."""
    c1 = 1.0 - beta1 ** t
    c2 = 1.0 - beta2 ** t
    step = lr * np.sqrt(c2) / c1
    for i in range(theta.shape[0]):
        g = grad[i]
        mi = beta1 * m[i] + (1.0 - beta1) * g
        vi = beta2 * v[i] + (1.0 - beta2) * g * g
        m[i] = mi
        v[i] = vi
        theta[i] -= step * mi / (np.sqrt(vi) + eps)


class Adam:
    """Adam for a :class:`~causaltraits.crl.layers.ParamStore`'s flat buffer.

    Parameters
    ----------
    size, dtype : of the flat parameter vector
    lr, beta1, beta2, eps : the usual Adam constants
    """

    def __init__(self, size: int, dtype=np.float32, lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8):
        self.m = np.zeros(size, dtype=dtype)
        self.v = np.zeros(size, dtype=dtype)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """Update ``theta`` in place from ``grad``."""
        self.t += 1
        adam_update(theta, grad, self.m, self.v, self.lr, self.beta1, self.beta2, self.eps, self.t)
