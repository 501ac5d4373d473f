"""Background knowledge: temporal tiers and forbidden / required directed edges.

Tiers are ordered lists of node names. A node in a later tier never causes a node in an
earlier tier: for PersonaX data, biography (tier 0) comes first, face and traits (tier 1)
after, so traits never cause biography. Nodes within a tier, and nodes in no tier, are
unconstrained. Tier knowledge constrains orientations only; it never removes an adjacency
(a biography-trait pair is still tested and kept when dependent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence


@dataclass
class Knowledge:
    """What is known before looking at the data.

    Parameters
    ----------
    tiers : ordered tiers of node names (earlier tiers are never caused by later ones)
    forbidden : directed pairs ``(a, b)`` meaning ``a --> b`` is not allowed
    required : directed pairs ``(a, b)`` meaning the edge, if present, is ``a --> b``

    Examples
    --------
    >>> k = Knowledge(tiers=[["age"], ["Openness"]])
    >>> k.forbids("Openness", "age"), k.forbids("age", "Openness")
    (True, False)
    """

    tiers: list[list[str]] = field(default_factory=list)
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    required: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.tiers = [list(t) for t in (self.tiers or [])]
        self.forbidden = {tuple(e) for e in self.forbidden}  # type: ignore[misc]
        self.required = {tuple(e) for e in self.required}  # type: ignore[misc]
        seen: set[str] = set()
        for t in self.tiers:
            for v in t:
                if v in seen:
                    raise ValueError(f"node {v} is in more than one tier")
                seen.add(v)
        for a, b in self.required:
            if self.forbids(a, b):
                raise ValueError(f"edge {a} --> {b} is both required and forbidden")

    @classmethod
    def from_dataset(cls, ds: Any, cols: Sequence[str]) -> "Knowledge":
        """Tier knowledge of a :class:`~causaltraits.data.Dataset` (none for a generic table)."""
        return cls(tiers=ds.tiers(list(cols)) or [])

    def tier_of(self, node: str) -> int | None:
        for k, t in enumerate(self.tiers):
            if node in t:
                return k
        return None

    def forbids(self, a: str, b: str) -> bool:
        """Whether ``a --> b`` (a causes b) is ruled out."""
        if (a, b) in self.forbidden:
            return True
        ta, tb = self.tier_of(a), self.tier_of(b)
        return ta is not None and tb is not None and ta > tb

    def requires(self, a: str, b: str) -> bool:
        """Whether an edge between a and b, if present, must be ``a --> b``."""
        return (a, b) in self.required

    def forbids_adjacency(self, a: str, b: str) -> bool:
        """Whether a and b cannot be adjacent (both directions forbidden)."""
        return self.forbids(a, b) and self.forbids(b, a)

    def is_empty(self) -> bool:
        return not (len(self.tiers) > 1 or self.forbidden or self.required)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tiers": [list(t) for t in self.tiers],
            "forbidden": sorted([list(e) for e in self.forbidden]),
            "required": sorted([list(e) for e in self.required]),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Knowledge":
        return cls(tiers=d.get("tiers", []), forbidden={tuple(e) for e in d.get("forbidden", [])},
                   required={tuple(e) for e in d.get("required", [])})

    def violations(self, graph: Any) -> list[str]:
        """Edges of ``graph`` that contradict the knowledge (a forbidden ``-->``, or a tail at a
        later-tier node pointing into an earlier one)."""
        bad = []
        for e in graph.edges:
            pairs: Iterable[tuple[str, str]]
            if e.type == "-->":
                pairs = [(e.source, e.target)]
            else:
                pairs = []
            for a, b in pairs:
                if self.forbids(a, b):
                    bad.append(f"{a} {e.type} {b}")
            # in a PAG, a later-tier node must carry an arrowhead on an edge to an earlier one
            for a, b in ((e.source, e.target), (e.target, e.source)):
                ta, tb = self.tier_of(a), self.tier_of(b)
                if ta is not None and tb is not None and ta > tb and graph.mark(a, b) != "arrow":
                    bad.append(f"{e.source} {e.type} {e.target}")
        return sorted(set(bad))

    def to_causallearn(self, nodes: Sequence[str]) -> Any:
        """The same knowledge as a causal-learn ``BackgroundKnowledge`` (for cross-checks)."""
        from causallearn.graph.GraphNode import GraphNode
        from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

        bk = BackgroundKnowledge()
        gnodes = {v: GraphNode(v) for v in nodes}
        for k, t in enumerate(self.tiers):
            for v in t:
                if v in gnodes:
                    bk.add_node_to_tier(gnodes[v], k)
        for a, b in self.forbidden:
            bk.add_forbidden_by_node(gnodes[a], gnodes[b])
        for a, b in self.required:
            bk.add_required_by_node(gnodes[a], gnodes[b])
        return bk
