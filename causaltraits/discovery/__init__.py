"""Causal discovery: PC and FCI with tier knowledge, graph I/O and scores against a known truth."""

from __future__ import annotations

from causaltraits.discovery.graph import EDGE_TYPES, Edge, Graph
from causaltraits.discovery.knowledge import Knowledge
from causaltraits.discovery.scores import SCORE_KEYS, score_graphs, shd
from causaltraits.discovery.search import DiscoveryResult, choose_test, discover, run_search

__all__ = ["EDGE_TYPES", "Edge", "Graph", "Knowledge", "SCORE_KEYS", "score_graphs", "shd",
           "DiscoveryResult", "choose_test", "discover", "run_search"]
