"""The one conditional-independence test interface, used by the battery and by discovery.

A test is a class registered under a short name. It is built once on a data matrix (n x p,
float64, NaN for missing) with the kind of each column, then called with column indices:

>>> t = make_test("fisherz", data, kinds=["continuous"] * data.shape[1])
>>> r = t.test(0, 1, (2,))          # CIResult(statistic, pvalue, n, ...)
>>> p = t(0, 1, (2,))               # just the p-value

Rules every implementation follows:

- test-wise deletion: a test uses the rows complete in its own x, y and z, and reports n;
- symmetric: ``test(x, y, z)`` and ``test(y, x, z)`` give the same result (x, y are ordered
  before computing, so seeded random features do not depend on the call order);
- deterministic given the seed passed at construction; randomness is derived from that seed
  and the variables tested, never from call order;
- ``params`` holds every setting that changes a p-value (it keys the result cache).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from causaltraits.errors import ParameterError

_REGISTRY: dict[str, type["CITest"]] = {}


@dataclass(frozen=True)
class CIResult:
    """One CI test: ``x _||_ y | z`` with its statistic, p-value and the rows it used."""

    test: str
    x: int
    y: int
    z: tuple[int, ...]
    statistic: float
    pvalue: float
    n: int
    dof: float | None = None


def register(name: str) -> Callable[[type["CITest"]], type["CITest"]]:
    """Class decorator: make a test available under ``name``."""

    def deco(cls: type[CITest]) -> type[CITest]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available_tests() -> list[str]:
    import causaltraits.independence  # noqa: F401  (registers the implementations)

    return sorted(_REGISTRY)


def get_test_class(name: str) -> type["CITest"]:
    import causaltraits.independence  # noqa: F401

    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(
            f"unknown CI test '{name}'; expected one of {', '.join(sorted(_REGISTRY))}"
        ) from None


def make_test(name: str, data: np.ndarray, kinds: Sequence[str] | None = None, **params: Any) -> "CITest":
    return get_test_class(name)(data, kinds=kinds, **params)


class CITest(abc.ABC):
    """Base class. Subclasses implement :meth:`_compute` on complete rows."""

    name: ClassVar[str] = "base"
    #: whether the test accepts a non-empty conditioning set
    conditional: ClassVar[bool] = True
    #: kinds of variable the test is valid for (None: all); a test on another kind is refused, and
    #: the battery marks such a pair not applicable
    accepts: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, data: np.ndarray, kinds: Sequence[str] | None = None, seed: int = 0, **params: Any):
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2:
            raise ValueError("data must be a 2-d array (rows x variables)")
        self.data = data
        self.kinds = list(kinds) if kinds is not None else ["continuous"] * data.shape[1]
        if len(self.kinds) != data.shape[1]:
            raise ValueError("kinds must give one kind per column")
        self.seed = int(seed)
        self.params: dict[str, Any] = {"seed": self.seed, **params}
        self._observed = ~np.isnan(data)
        self._all_observed = bool(self._observed.all())
        self._incomplete = ~self._observed.all(axis=0)
        self._rows_cache: dict[frozenset[int], np.ndarray | None] = {}

    # -------------------------------------------------------------- helpers
    def rows(self, cols: Sequence[int]) -> np.ndarray | None:
        """Indices of rows complete in ``cols`` (None when every row is complete)."""
        # keyed by the incomplete columns only: the complete ones do not change the rows, and a
        # key per column set kept one index array per distinct test (GBs over a FCI run)
        key = frozenset(int(c) for c in cols if self._incomplete[int(c)])
        if key not in self._rows_cache:
            if self._all_observed:
                self._rows_cache[key] = None
            else:
                ok = self._observed[:, sorted(key)].all(axis=1)
                self._rows_cache[key] = None if ok.all() else np.flatnonzero(ok)
        return self._rows_cache[key]

    def columns(self, cols: Sequence[int], rows: np.ndarray | None) -> np.ndarray:
        sub = self.data[:, list(cols)]
        return sub if rows is None else sub[rows]

    def rng(self, x: int, y: int, z: Sequence[int]) -> np.random.Generator:
        """A generator seeded by the test's seed and the variables tested (order-free in x, y)."""
        a, b = sorted((int(x), int(y)))
        return np.random.default_rng([self.seed, a, b, *sorted(int(c) for c in z)])

    # -------------------------------------------------------------- interface
    def test(self, x: int, y: int, z: Sequence[int] = ()) -> CIResult:
        x, y = int(x), int(y)
        if x == y:
            raise ValueError("x and y must differ")
        x, y = min(x, y), max(x, y)
        z = tuple(sorted(int(c) for c in z))
        if x in z or y in z:
            raise ValueError("x and y must not be in the conditioning set")
        if z and not self.conditional:
            raise ValueError(f"{self.name} is an unconditional test")
        if self.accepts is not None:
            bad = [c for c in (x, y, *z) if self.kinds[c] not in self.accepts]
            if bad:
                raise ParameterError(f"{self.name} needs {'/'.join(self.accepts)} columns, but column {bad[0]} is "
                                     f"{self.kinds[bad[0]]}")
        rows = self.rows((x, y, *z))
        n = self.data.shape[0] if rows is None else len(rows)
        if n < 3:
            return CIResult(self.name, x, y, z, float("nan"), float("nan"), n)
        stat, p, dof = self._compute(x, y, z, rows)
        return CIResult(self.name, x, y, z, float(stat), float(p), n, dof)

    def __call__(self, x: int, y: int, z: Sequence[int] = ()) -> float:
        return self.test(x, y, z).pvalue

    @abc.abstractmethod
    def _compute(self, x: int, y: int, z: tuple[int, ...], rows: np.ndarray | None) -> tuple[float, float, float | None]:
        """Return (statistic, p-value, degrees of freedom or None) on the complete rows."""
