"""Conditional-independence tests (one interface, :mod:`.base`) and the Level I battery.

Importing this package registers every implementation.
"""

from __future__ import annotations

import importlib

from causaltraits.independence.base import CIResult, CITest, available_tests, get_test_class, make_test, register

# Implementation modules; each registers its tests on import. Adding a test is one new module
# (or class) with @register(name) and its name here.
_IMPLEMENTATIONS = ("gaussian", "discrete", "mixed", "kci", "rcit", "hsic", "fast", "gcm")
for _mod in _IMPLEMENTATIONS:
    importlib.import_module(f"causaltraits.independence.{_mod}")

__all__ = ["CIResult", "CITest", "available_tests", "get_test_class", "make_test", "register"]
