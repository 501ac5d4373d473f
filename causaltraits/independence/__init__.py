"""Conditional-independence tests (one interface, :mod:`.base`) and the Level I battery.

Importing this package registers every implementation.
"""

from __future__ import annotations

import importlib

from causaltraits.independence.base import CIResult, CITest, available_tests, get_test_class, make_test, register

# Implementation modules; each registers its tests on import. A module not written yet is skipped
# so that the package stays importable while it grows.
_IMPLEMENTATIONS = ("gaussian", "discrete", "mixed", "kci", "rcit", "hsic", "fast")
for _mod in _IMPLEMENTATIONS:
    try:
        importlib.import_module(f"causaltraits.independence.{_mod}")
    except ModuleNotFoundError as _e:  # pragma: no cover - only while modules are being added
        if _e.name != f"causaltraits.independence.{_mod}":
            raise

__all__ = ["CIResult", "CITest", "available_tests", "get_test_class", "make_test", "register"]
