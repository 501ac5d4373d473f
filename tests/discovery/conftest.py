"""Shared helpers for the discovery tests: a d-separation oracle, random DAGs, small datasets."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from causaltraits.data.dataset import Dataset, Roles
from causaltraits.discovery.graph import Edge, Graph
from causaltraits.independence.base import CIResult

_dsep = getattr(nx, "is_d_separator", None) or getattr(nx, "d_separated")


class Oracle:
    """A CI 'test' answering from d-separation in a known DAG (p = 1 independent, 0 dependent)."""

    name = "dsep"

    def __init__(self, dag: nx.DiGraph, observed: list[int]):
        self.dag = dag
        self.obs = observed

    def test(self, x, y, z=()):
        ind = _dsep(self.dag, {self.obs[x]}, {self.obs[y]}, {self.obs[c] for c in z})
        return CIResult("dsep", min(x, y), max(x, y), tuple(sorted(z)), 0.0, 1.0 if ind else 0.0, 100)

    def __call__(self, x, y, z=()):
        return self.test(x, y, z).pvalue


def random_dag(seed: int, p: int, latents: int = 0, density: float = 0.3):
    rng = np.random.default_rng(seed)
    total = p + latents
    a = np.triu(rng.random((total, total)) < density, 1)
    dag = nx.DiGraph()
    dag.add_nodes_from(range(total))
    dag.add_edges_from(zip(*np.nonzero(a)))
    observed = sorted(rng.permutation(total)[:p].tolist())
    return dag, observed


def linear_data(dag: nx.DiGraph, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = dag.number_of_nodes()
    x = np.zeros((n, p))
    for j in nx.topological_sort(dag):
        for i in dag.predecessors(j):
            x[:, j] += rng.choice([-1, 1]) * rng.uniform(0.5, 1.0) * x[:, i]
        x[:, j] += rng.normal(size=n)
    return x


@pytest.fixture
def oracle():
    return Oracle


@pytest.fixture
def dag_tools():
    return {"random_dag": random_dag, "linear_data": linear_data}


def tiered_dataset(n: int = 1500, seed: int = 0) -> Dataset:
    """Biography (Height, Age, League) before traits; truth:
    League -> Height -> Extraversion <- Age, Extraversion -> Openness, League -> Openness."""
    rng = np.random.default_rng(seed)
    league = rng.integers(0, 3, n)
    height = np.array([0.0, 1.0, -1.0])[league] + rng.normal(size=n)
    age = rng.normal(size=n)
    extra = 0.7 * height - 0.7 * age + rng.normal(size=n)
    openness = 0.7 * extra + np.array([0.0, -1.0, 1.0])[league] + rng.normal(size=n)
    frame = pd.DataFrame({"Height": height, "Age": age, "League": league.astype(float),
                          "Openness": openness, "Extraversion": extra})
    roles = Roles(traits=["Openness", "Extraversion"], bio_continuous=["Height", "Age"], bio_categorical=["League"])
    truth = Graph(list(frame.columns), [Edge("League", "Height", "-->"), Edge("Height", "Extraversion", "-->"),
                                        Edge("Age", "Extraversion", "-->"), Edge("Extraversion", "Openness", "-->"),
                                        Edge("League", "Openness", "-->")])
    return Dataset(name="tiered", frame=frame, roles=roles, codes={"League": ["A", "B", "C"]},
                   source="generated:0", truth=truth)


@pytest.fixture
def tiered():
    return tiered_dataset
