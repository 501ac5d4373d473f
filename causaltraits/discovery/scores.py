"""Comparing an estimated graph with the true one: adjacency and arrowhead precision/recall/F1, SHD.

Definitions (both graphs over the same nodes; any of the five edge types):

- adjacency: a pair is a true positive when it is adjacent in both graphs. precision = TP /
  (adjacencies in the estimate), recall = TP / (adjacencies in the truth).
- arrowhead: an arrowhead is an (edge, node) with an arrow mark at that node (``a --> b`` has one
  at b, ``a <-> b`` two, ``a o-> b`` one, ``---`` and ``o-o`` none). A true positive is an
  arrowhead of the estimate at a node where the truth has an arrowhead on the same pair.
- SHD for mixed graphs: one point per unordered pair that is adjacent in one graph and not the
  other, plus one point per pair adjacent in both whose edge differs (type or direction; a
  reversed ``-->`` counts once). This is the usual SHD for patterns (Tsamardinos et al. 2006)
  extended to the PAG edge types; each pair contributes at most 1.

A ratio whose denominator is zero is 1.0 when the numerator's reference is also empty (no
adjacencies claimed and none true), otherwise 0.0; F1 is 0.0 when precision + recall is 0.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from causaltraits.discovery.graph import Graph

SCORE_KEYS = ("adj_precision", "adj_recall", "adj_f1", "arrow_precision", "arrow_recall", "arrow_f1", "shd")


def _ratio(num: int, den: int, other: int) -> float:
    if den:
        return num / den
    return 1.0 if other == 0 else 0.0


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _arrowheads(g: Graph) -> set[tuple[frozenset[str], str]]:
    out = set()
    for e in g.edges:
        pair = frozenset((e.source, e.target))
        if e.type[0] == "<":
            out.add((pair, e.source))
        if e.type[2] == ">":
            out.add((pair, e.target))
    return out


def _check_nodes(est: Graph, truth: Graph) -> None:
    if set(est.nodes) != set(truth.nodes):
        only_e = sorted(set(est.nodes) - set(truth.nodes))
        only_t = sorted(set(truth.nodes) - set(est.nodes))
        raise ValueError(f"graphs have different nodes (estimate only: {only_e}; truth only: {only_t})")


def adjacency_scores(est: Graph, truth: Graph) -> dict[str, float]:
    _check_nodes(est, truth)
    a_e, a_t = est.adjacencies(), truth.adjacencies()
    tp = len(a_e & a_t)
    p = _ratio(tp, len(a_e), len(a_t))
    r = _ratio(tp, len(a_t), len(a_e))
    return {"adj_precision": p, "adj_recall": r, "adj_f1": _f1(p, r), "adj_tp": tp,
            "adj_fp": len(a_e - a_t), "adj_fn": len(a_t - a_e)}


def arrowhead_scores(est: Graph, truth: Graph) -> dict[str, float]:
    _check_nodes(est, truth)
    h_e, h_t = _arrowheads(est), _arrowheads(truth)
    tp = len(h_e & h_t)
    p = _ratio(tp, len(h_e), len(h_t))
    r = _ratio(tp, len(h_t), len(h_e))
    return {"arrow_precision": p, "arrow_recall": r, "arrow_f1": _f1(p, r), "arrow_tp": tp,
            "arrow_fp": len(h_e - h_t), "arrow_fn": len(h_t - h_e)}


def _edge_key(g: Graph, a: str, b: str) -> tuple[str | None, str | None] | None:
    e = g.edge(a, b)
    if e is None:
        return None
    return (g.mark(a, b), g.mark(b, a))


def shd(est: Graph, truth: Graph) -> int:
    """Structural Hamming distance between two mixed graphs (see module docstring)."""
    _check_nodes(est, truth)
    d = 0
    for a, b in combinations(sorted(truth.nodes), 2):
        ke, kt = _edge_key(est, a, b), _edge_key(truth, a, b)
        if (ke is None) != (kt is None):
            d += 1
        elif ke is not None and ke != kt:
            d += 1
    return d


def score_graphs(est: Graph, truth: Graph) -> dict[str, Any]:
    """All scores, as written to ``scores.json`` (keys :data:`SCORE_KEYS`, plus the raw counts)."""
    out: dict[str, Any] = {}
    out.update(adjacency_scores(est, truth))
    out.update(arrowhead_scores(est, truth))
    out["shd"] = shd(est, truth)
    return out
