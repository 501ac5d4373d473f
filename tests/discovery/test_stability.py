"""Bootstrap edge stability: seeded, reproducible, frequencies that add up."""

from __future__ import annotations

import numpy as np
import pytest

from causaltraits.discovery.stability import ORIENTED, bootstrap_edges, edge_frequencies, resample_rows
from causaltraits.errors import CausalTraitsError


def test_edge_frequencies_count_orientations():
    graphs = [[("a", "b", "-->")], [("b", "a", "-->")], [("a", "b", "o-o"), ("b", "c", "<->")], []]
    f = edge_frequencies(graphs, ["a", "b", "c"]).set_index(["x", "y"])
    assert f.loc[("a", "b"), "-->"] == 0.25 and f.loc[("a", "b"), "<--"] == 0.25
    assert f.loc[("a", "b"), "o-o"] == 0.25 and f.loc[("a", "b"), "adjacent"] == 0.75
    assert f.loc[("b", "c"), "<->"] == 0.25 and f.loc[("a", "c"), "none"] == 1.0
    assert f.loc[("a", "c"), "most_frequent"] == "none"
    total = f[[*ORIENTED, "none"]].sum(axis=1)
    assert np.allclose(total, 1.0)


def test_resamples_are_seeded_and_independent_of_count():
    assert np.array_equal(resample_rows(100, 3, 7), resample_rows(100, 3, 7))
    assert not np.array_equal(resample_rows(100, 3, 7), resample_rows(100, 3, 8))


def test_bootstrap_on_tiered_data(tiered):
    ds = tiered(n=600)
    f1 = bootstrap_edges(ds, 4, algorithm="pc", test="fisherz", seed=2)
    f2 = bootstrap_edges(ds, 4, algorithm="pc", test="fisherz", seed=2)
    assert f1.equals(f2)
    strong = f1.set_index(["x", "y"])
    assert strong.loc[("Height", "Extraversion"), "-->"] == 1.0  # knowledge + a strong effect
    assert strong.loc[("Height", "Extraversion"), "<--"] == 0.0
    with pytest.raises(CausalTraitsError):
        bootstrap_edges(ds, 0)
