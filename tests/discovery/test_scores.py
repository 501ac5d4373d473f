"""Scores on hand-made graphs, and against causal-learn's SHD / confusion counts."""

from __future__ import annotations

import numpy as np
import pytest

from causaltraits.discovery.graph import Edge, Graph
from causaltraits.discovery.scores import SCORE_KEYS, score_graphs, shd

NODES = ["a", "b", "c", "d"]


def g(*edges):
    return Graph(NODES, [Edge(s, t, ty) for s, ty, t in edges])


TRUTH = g(("a", "-->", "b"), ("b", "-->", "c"), ("d", "-->", "c"))


def test_identical_graphs_score_perfectly():
    s = score_graphs(TRUTH, TRUTH)
    assert set(SCORE_KEYS) <= set(s)
    assert s["adj_f1"] == s["arrow_f1"] == 1.0 and s["shd"] == 0


def test_hand_computed_scores():
    # estimate: a --- b (right adjacency, no arrow), c --> b (reversed), a --> d (extra); d -- c missing
    est = g(("a", "---", "b"), ("c", "-->", "b"), ("a", "-->", "d"))
    s = score_graphs(est, TRUTH)
    assert s["adj_tp"] == 2 and s["adj_fp"] == 1 and s["adj_fn"] == 1
    assert s["adj_precision"] == pytest.approx(2 / 3) and s["adj_recall"] == pytest.approx(2 / 3)
    assert s["adj_f1"] == pytest.approx(2 / 3)
    # arrowheads: est has b (on b-c) and d (on a-d); truth has b (a-b), c (b-c), c (d-c) -> none shared
    assert s["arrow_tp"] == 0 and s["arrow_fp"] == 2 and s["arrow_fn"] == 3
    assert s["arrow_precision"] == 0 and s["arrow_recall"] == 0 and s["arrow_f1"] == 0
    # SHD: a-b orientation (1) + b-c reversed (1) + a-d extra (1) + d-c missing (1)
    assert s["shd"] == 4


def test_pag_edge_types():
    est = g(("a", "o->", "b"), ("b", "<->", "c"), ("d", "o-o", "c"))
    s = score_graphs(est, TRUTH)
    assert s["adj_f1"] == 1.0
    # arrowheads in est: b (a o-> b), b and c (b <-> c): b on a-b and c on b-c are right, b on b-c wrong
    assert s["arrow_tp"] == 2 and s["arrow_fp"] == 1 and s["arrow_fn"] == 1
    assert s["shd"] == 3  # every edge differs in some mark


def test_empty_graphs():
    e = Graph(NODES)
    assert score_graphs(e, e)["adj_f1"] == 1.0
    s = score_graphs(e, TRUTH)
    assert s["adj_recall"] == 0 and s["adj_f1"] == 0 and s["shd"] == 3


def test_different_nodes_refused():
    with pytest.raises(ValueError, match="different nodes"):
        shd(Graph(["a", "b"]), TRUTH)


def _to_causallearn(graph):
    from causallearn.graph.Edge import Edge as CLEdge
    from causallearn.graph.Endpoint import Endpoint
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode

    nodes = {v: GraphNode(v) for v in graph.nodes}
    gg = GeneralGraph(list(nodes.values()))
    ep = {"arrow": Endpoint.ARROW, "tail": Endpoint.TAIL, "circle": Endpoint.CIRCLE}
    for e in graph.edges:
        gg.add_edge(CLEdge(nodes[e.source], nodes[e.target], ep[graph.mark(e.source, e.target)],
                           ep[graph.mark(e.target, e.source)]))
    return gg


def test_against_causallearn_on_random_graphs():
    from causallearn.graph.AdjacencyConfusion import AdjacencyConfusion
    from causallearn.graph.ArrowConfusion import ArrowConfusion
    from causallearn.graph.SHD import SHD

    rng = np.random.default_rng(0)
    nodes = [f"v{i}" for i in range(7)]
    types = ["-->", "---", "<->", "o->", "o-o"]

    def rand_graph():
        edges = []
        for i in range(7):
            for j in range(i + 1, 7):
                if rng.random() < 0.35:
                    a, b = (nodes[i], nodes[j]) if rng.random() < 0.5 else (nodes[j], nodes[i])
                    edges.append(Edge(a, b, types[rng.integers(5)]))
        return Graph(nodes, edges)

    for _ in range(30):
        t, e = rand_graph(), rand_graph()
        ct, ce = _to_causallearn(t), _to_causallearn(e)
        s = score_graphs(e, t)
        assert s["shd"] == SHD(ct, ce).get_shd()
        adj = AdjacencyConfusion(ct, ce)
        assert (s["adj_tp"], s["adj_fp"], s["adj_fn"]) == (adj.get_adj_tp(), adj.get_adj_fp(), adj.get_adj_fn())
        arr = ArrowConfusion(ct, ce)
        assert (s["arrow_tp"], s["arrow_fp"], s["arrow_fn"]) == (arr.get_arrows_tp(), arr.get_arrows_fp(),
                                                                 arr.get_arrows_fn())
