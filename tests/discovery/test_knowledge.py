"""Tier knowledge: what it forbids, its violations check, and the causal-learn form."""

from __future__ import annotations

import pytest

from causaltraits.discovery.graph import Edge, Graph
from causaltraits.discovery.knowledge import Knowledge

K = Knowledge(tiers=[["age", "league"], ["Openness", "Big_Nose"]])


def test_forbids_later_to_earlier_only():
    assert K.forbids("Openness", "age") and K.forbids("Big_Nose", "league")
    assert not K.forbids("age", "Openness")
    assert not K.forbids("age", "league") and not K.forbids("Openness", "Big_Nose")
    assert not K.forbids("unknown", "age")
    assert not K.forbids_adjacency("Openness", "age")


def test_explicit_edges():
    k = Knowledge(forbidden={("a", "b")}, required={("b", "c")})
    assert k.forbids("a", "b") and not k.forbids("b", "a") and k.requires("b", "c")
    with pytest.raises(ValueError, match="required and forbidden"):
        Knowledge(forbidden={("a", "b")}, required={("a", "b")})
    with pytest.raises(ValueError, match="more than one tier"):
        Knowledge(tiers=[["a"], ["a"]])


def test_violations():
    nodes = ["age", "league", "Openness", "Big_Nose"]
    ok = Graph(nodes, [Edge("age", "Openness", "-->"), Edge("league", "Big_Nose", "<->"),
                       Edge("age", "Big_Nose", "o->"), Edge("Openness", "Big_Nose", "o-o")])
    assert K.violations(ok) == []
    for bad in (Edge("Openness", "age", "-->"), Edge("Openness", "age", "o->"), Edge("age", "Openness", "---"),
                Edge("age", "Openness", "o-o")):
        assert K.violations(Graph(nodes, [bad])), bad


def test_round_trip_and_causallearn():
    assert Knowledge.from_dict(K.to_dict()) == K
    from causallearn.graph.GraphNode import GraphNode

    bk = K.to_causallearn(["age", "league", "Openness", "Big_Nose"])
    assert bk.is_forbidden(GraphNode("Openness"), GraphNode("age"))
    assert not bk.is_forbidden(GraphNode("age"), GraphNode("Openness"))
