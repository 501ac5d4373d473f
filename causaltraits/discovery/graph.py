"""The graph type: nodes and typed edges, and its JSON form.

``graph.json`` is ``{"nodes": [...], "edges": [{"source": a, "target": b, "type": T}]}`` with T
one of:

``-->``  source causes target         ``---``  undirected (PC: orientation unknown)
``<->``  bidirected (latent confounder) ``o->`` partially directed (FCI)
``o-o``  nondirected (FCI)

Edges are stored canonically: ``<--`` is written as ``-->`` with the ends swapped, ``<-o`` as
``o->``; symmetric types put the nodes in node order. Readers and writers for GraphML, DOT and
PNG live in :mod:`causaltraits.discovery.io`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

EDGE_TYPES = ("-->", "---", "<->", "o->", "o-o")
_SYMMETRIC = {"---", "<->", "o-o"}
_REVERSED = {"<--": "-->", "<-o": "o->"}

# endpoint marks as in causal-learn: mark AT a node on an edge
TAIL, ARROW, CIRCLE = -1, 1, 2
_MARKS_TO_TYPE = {
    (TAIL, ARROW): "-->",
    (TAIL, TAIL): "---",
    (ARROW, ARROW): "<->",
    (CIRCLE, ARROW): "o->",
    (CIRCLE, CIRCLE): "o-o",
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target, "type": self.type}


@dataclass
class Graph:
    """A mixed graph over named nodes (at most one edge per pair)."""

    nodes: list[str]
    edges: list[Edge] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.nodes = list(self.nodes)
        if len(set(self.nodes)) != len(self.nodes):
            raise ValueError("duplicate node names")
        order = {v: i for i, v in enumerate(self.nodes)}
        canon: dict[frozenset[str], Edge] = {}
        for e in self.edges:
            if isinstance(e, dict):
                e = Edge(e["source"], e["target"], e["type"])
            s, t, ty = e.source, e.target, e.type
            if ty in _REVERSED:
                s, t, ty = t, s, _REVERSED[ty]
            if ty not in EDGE_TYPES:
                raise ValueError(f"unknown edge type {ty!r}; expected one of {', '.join(EDGE_TYPES)}")
            if s not in order or t not in order:
                raise ValueError(f"edge {s} {ty} {t} names a node not in the graph")
            if s == t:
                raise ValueError(f"self loop on {s}")
            if ty in _SYMMETRIC and order[s] > order[t]:
                s, t = t, s
            key = frozenset((s, t))
            if key in canon:
                raise ValueError(f"two edges between {s} and {t}")
            canon[key] = Edge(s, t, ty)
        self.edges = sorted(canon.values(), key=lambda e: (order[e.source], order[e.target]))

    # ------------------------------------------------------------------ queries
    def adjacencies(self) -> set[frozenset[str]]:
        return {frozenset((e.source, e.target)) for e in self.edges}

    def edge(self, a: str, b: str) -> Edge | None:
        for e in self.edges:
            if {e.source, e.target} == {a, b}:
                return e
        return None

    def mark(self, at: str, other: str) -> str | None:
        """Endpoint mark at node ``at`` on the edge to ``other``: 'arrow', 'tail', 'circle' or None."""
        e = self.edge(at, other)
        if e is None:
            return None
        left, _, right = e.type[0], e.type[1], e.type[2]
        ch = left if e.source == at else right
        return {"<": "arrow", ">": "arrow", "-": "tail", "o": "circle"}[ch]

    def directed(self) -> set[tuple[str, str]]:
        return {(e.source, e.target) for e in self.edges if e.type == "-->"}

    def __iter__(self) -> Iterator[Edge]:
        return iter(self.edges)

    def __len__(self) -> int:
        return len(self.edges)

    def restricted(self, nodes: Iterable[str]) -> "Graph":
        keep = [v for v in self.nodes if v in set(nodes)]
        ks = set(keep)
        return Graph(keep, [e for e in self.edges if e.source in ks and e.target in ks])

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {"nodes": list(self.nodes), "edges": [e.to_dict() for e in self.edges]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Graph":
        return cls(list(d["nodes"]), [Edge(e["source"], e["target"], e["type"]) for e in d["edges"]])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def read_json(cls, path: str | Path) -> "Graph":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    # ------------------------------------------------------------------ causal-learn
    @classmethod
    def from_causallearn(cls, G: Any, nodes: list[str] | None = None) -> "Graph":
        """Convert a causal-learn ``GeneralGraph`` (or its endpoint matrix) to a Graph."""
        import numpy as np

        mat = np.asarray(getattr(G, "graph", G))
        if nodes is None:
            nodes = [n.get_name() for n in G.get_nodes()]
        edges = []
        p = mat.shape[0]
        for i in range(p):
            for j in range(i + 1, p):
                a, b = int(mat[i, j]), int(mat[j, i])  # a: mark at i, b: mark at j
                if a == 0 and b == 0:
                    continue
                if (a, b) in _MARKS_TO_TYPE:
                    edges.append(Edge(nodes[i], nodes[j], _MARKS_TO_TYPE[(a, b)]))
                elif (b, a) in _MARKS_TO_TYPE:
                    edges.append(Edge(nodes[j], nodes[i], _MARKS_TO_TYPE[(b, a)]))
                else:
                    raise ValueError(f"unsupported endpoint marks {a}/{b} between {nodes[i]} and {nodes[j]}")
        return cls(list(nodes), edges)
