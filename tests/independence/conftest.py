"""Shared data for the CI-test tests."""

import numpy as np
import pytest


def _chain_and_collider(n: int, seed: int) -> np.ndarray:
    """Columns: chain x0 -> z2 -> y1 (nonlinear), collider x3 -> c5 <- y4."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = np.tanh(1.5 * x) + 0.3 * rng.normal(size=n)
    y = np.sin(2 * z) + 0.3 * rng.normal(size=n)
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = a + np.tanh(2 * b) + 0.2 * rng.normal(size=n)
    return np.column_stack((x, y, z, a, b, c))


@pytest.fixture
def chain_and_collider():
    """The generator above: ``chain_and_collider(n, seed)`` -> data with known (in)dependences."""
    return _chain_and_collider
