"""Shared helpers of the CRL tests."""

import pytest


def _central_difference(f, x, idx, h=1e-6):
    """``d f() / d x.flat[idx]`` by central differences (``x`` is changed in place and restored)."""
    old = x.flat[idx]
    x.flat[idx] = old + h
    fp = f()
    x.flat[idx] = old - h
    fm = f()
    x.flat[idx] = old
    return (fp - fm) / (2 * h)


@pytest.fixture
def fd():
    """The central-difference derivative used by every gradient check."""
    return _central_difference
