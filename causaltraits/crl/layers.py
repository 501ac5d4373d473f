"""Dense layers, fused activations and the flat parameter store, forward and backward by hand.

Matrix products go to BLAS through NumPy; what BLAS does not do (adding the bias, applying the
activation, and in the backward pass multiplying by the activation's derivative while summing the
bias gradient) is one numba kernel per direction, so each layer touches its activations twice per
step instead of four or five times.

Activation derivatives are computed from the layer's *output*, so only the output is cached:
ELU (alpha 1): ``a > 0 -> 1`` else ``a + 1``; leaky ReLU: ``a > 0 -> 1`` else slope;
tanh: ``1 - a^2``; linear: 1.
"""

from __future__ import annotations

from typing import Sequence

import numba
import numpy as np

ACTIVATIONS = {"linear": 0, "elu": 1, "leaky": 2, "tanh": 3}
LEAKY_SLOPE = 0.2


@numba.njit(cache=True, nogil=True, fastmath=True)
def bias_act_forward(z, b, kind, slope):
    """In place: ``z[r, j] = act(z[r, j] + b[j])``; returns ``z``."""
    n, m = z.shape
    for r in range(n):
        for j in range(m):
            v = z[r, j] + b[j]
            if kind == 1:
                if v <= 0:
                    v = np.expm1(v)
            elif kind == 2:
                if v < 0:
                    v = v * slope
            elif kind == 3:
                v = np.tanh(v)
            z[r, j] = v
    return z


@numba.njit(cache=True, nogil=True)
def act_backward(da, a, db, kind, slope):
    """In place: ``da *= act'(from output a)``; writes the column sums of the result into ``db``."""
    n, m = da.shape
    for j in range(m):
        db[j] = 0.0
    for r in range(n):
        for j in range(m):
            g = da[r, j]
            if kind == 1:
                if a[r, j] <= 0:
                    g = g * (a[r, j] + 1.0)
            elif kind == 2:
                if a[r, j] < 0:
                    g = g * slope
            elif kind == 3:
                g = g * (1.0 - a[r, j] * a[r, j])
            da[r, j] = g
            db[j] += g
    return da


class ParamStore:
    """All parameters of a model in one flat array (and its gradient), handed out as views.

    One flat buffer means one Adam call per step and one array to save.

    Parameters
    ----------
    dtype : float32 (training) or float64 (gradient checks)
    """

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self._specs: list[tuple[str, tuple[int, ...], str, float]] = []
        self.theta: np.ndarray | None = None
        self.grad: np.ndarray | None = None
        self.views: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.offsets: dict[str, tuple[int, tuple[int, ...]]] = {}

    def declare(self, name: str, shape: Sequence[int], init: str = "zeros", scale: float = 1.0) -> None:
        """Register a parameter; ``init`` is ``zeros``, ``const`` (= scale) or ``normal`` (std = scale)."""
        if self.theta is not None:
            raise RuntimeError("parameters are already allocated")
        if any(s[0] == name for s in self._specs):
            raise ValueError(f"parameter {name} declared twice")
        self._specs.append((name, tuple(int(s) for s in shape), init, float(scale)))

    def allocate(self, rng: np.random.Generator) -> None:
        """Allocate the flat buffers and initialise every parameter (in declaration order)."""
        total = sum(int(np.prod(s)) for _, s, _, _ in self._specs)
        self.theta = np.zeros(total, dtype=self.dtype)
        self.grad = np.zeros(total, dtype=self.dtype)
        off = 0
        for name, shape, init, scale in self._specs:
            size = int(np.prod(shape))
            view = self.theta[off:off + size].reshape(shape)
            if init == "normal":
                view[...] = rng.standard_normal(shape) * scale
            elif init == "const":
                view[...] = scale
            self.views[name] = view
            self.grads[name] = self.grad[off:off + size].reshape(shape)
            self.offsets[name] = (off, shape)
            off += size

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]

    def layout(self) -> list[dict]:
        """Names, shapes and offsets (JSON-able), to check a saved flat vector against."""
        return [{"name": n, "shape": list(s), "offset": self.offsets[n][0]} for n, s, _, _ in self._specs]


class Dense:
    """``a = act(x @ W + b)`` with hand-written backward.

    Parameters live in a :class:`ParamStore` under ``<name>.W`` and ``<name>.b``.
    """

    def __init__(self, store: ParamStore, name: str, n_in: int, n_out: int, activation: str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}")
        self.store, self.name = store, name
        self.n_in, self.n_out = n_in, n_out
        self.kind = ACTIVATIONS[activation]
        # He initialisation for the rectifier-like units, Glorot-like for linear/tanh outputs
        gain = 2.0 if activation in ("elu", "leaky") else 1.0
        store.declare(f"{name}.W", (n_in, n_out), "normal", float(np.sqrt(gain / n_in)))
        store.declare(f"{name}.b", (n_out,), "zeros")
        self._x: np.ndarray | None = None
        self._a: np.ndarray | None = None

    def forward(self, x: np.ndarray, keep: bool = True) -> np.ndarray:
        """Output for rows ``x``; ``keep`` caches what the backward pass needs."""
        W, b = self.store[f"{self.name}.W"], self.store[f"{self.name}.b"]
        a = x @ W
        bias_act_forward(a, b, self.kind, LEAKY_SLOPE)
        if keep:
            self._x, self._a = x, a
        return a

    def backward(self, da: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """Accumulate parameter gradients from ``da`` (d loss / d output; overwritten) and return d loss / d x."""
        W = self.store[f"{self.name}.W"]
        gW, gb = self.store.grads[f"{self.name}.W"], self.store.grads[f"{self.name}.b"]
        db = np.empty_like(gb)
        act_backward(da, self._a, db, self.kind, LEAKY_SLOPE)
        gb += db
        gW += self._x.T @ da
        return da @ W.T if need_dx else None


class MLP:
    """A stack of :class:`Dense` layers: hidden layers with one activation, a chosen output activation."""

    def __init__(self, store: ParamStore, name: str, sizes: Sequence[int], hidden: str = "elu",
                 output: str = "linear"):
        self.layers = [
            Dense(store, f"{name}.{i}", sizes[i], sizes[i + 1], hidden if i < len(sizes) - 2 else output)
            for i in range(len(sizes) - 1)
        ]

    def forward(self, x: np.ndarray, keep: bool = True) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, keep)
        return x

    def backward(self, da: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        for i, layer in enumerate(reversed(self.layers)):
            last = i == len(self.layers) - 1
            da = layer.backward(da, need_dx=need_dx or not last)
        return da
