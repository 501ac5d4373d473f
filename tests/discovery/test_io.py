"""Graph files: written, read back, and valid; the PNG is drawn without Graphviz."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from causaltraits.discovery import io as gio
from causaltraits.discovery.graph import EDGE_TYPES, Edge, Graph

TIERS = [["League", "Birth year", 'odd "name"'], ["Openness", "Extraversion", "Big_Nose"]]


@pytest.fixture
def graph():
    nodes = [*TIERS[0], *TIERS[1]]
    return Graph(nodes, [
        Edge("League", "Openness", "-->"),
        Edge("Birth year", "League", "---"),
        Edge("Openness", "Extraversion", "<->"),
        Edge('odd "name"', "Extraversion", "o->"),
        Edge("Big_Nose", "Openness", "o-o"),
        Edge("Extraversion", "Big_Nose", "-->"),
    ])


def test_json_round_trip(graph, tmp_path):
    gio.write_json(graph, tmp_path / "g.json")
    assert gio.read_json(tmp_path / "g.json").to_dict() == graph.to_dict()


def test_graphml_round_trip_and_attributes(graph, tmp_path):
    gio.write_graphml(graph, tmp_path / "g.graphml", tiers=TIERS)
    back = gio.read_graphml(tmp_path / "g.graphml")
    assert back.to_dict() == graph.to_dict()
    raw = nx.read_graphml(tmp_path / "g.graphml")
    assert raw.edges["Openness", "Extraversion"]["type"] == "<->"
    assert raw.edges['odd "name"', "Extraversion"]["mark_source"] == "circle"
    assert raw.edges['odd "name"', "Extraversion"]["mark_target"] == "arrow"
    assert raw.nodes["Openness"]["tier"] == 1


def test_dot_is_valid_and_round_trips(graph, tmp_path):
    gio.write_dot(graph, tmp_path / "g.dot", tiers=TIERS)
    text = (tmp_path / "g.dot").read_text()
    assert text.startswith('digraph "causaltraits" {') and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    assert '"Openness" -> "Extraversion" [arrowtail=normal, arrowhead=normal' in text
    assert '"odd \\"name\\"" -> "Extraversion" [arrowtail=odot, arrowhead=normal' in text
    assert '"Openness" -> "Big_Nose" [arrowtail=odot, arrowhead=odot' in text  # symmetric: node order
    assert '"League" -> "Birth year" [arrowtail=none, arrowhead=none' in text
    assert "rank=same" in text
    assert gio.read_dot(tmp_path / "g.dot").to_dict() == graph.to_dict()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dot_parses_with_pydot_if_installed(graph, tmp_path):
    pydot = pytest.importorskip("pydot")
    gio.write_dot(graph, tmp_path / "g.dot", tiers=TIERS)
    (parsed,) = pydot.graph_from_dot_file(str(tmp_path / "g.dot"))
    assert len(parsed.get_edges()) == len(graph.edges)


@pytest.mark.parametrize("tiers", [TIERS, None])
def test_png_is_drawn(graph, tmp_path, tiers):
    from matplotlib import image

    gio.draw_png(graph, tmp_path / "g.png", tiers=tiers, title="all five edge types")
    data = (tmp_path / "g.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = image.imread(tmp_path / "g.png")
    assert img.shape[0] > 300 and img.shape[1] > 600
    # edge colours of every type appear in the picture (marks and lines drawn)
    rgb = (img[..., :3] * 255).round().astype(int)
    for t in EDGE_TYPES:
        hexc = gio.EDGE_COLOURS[t].lstrip("#")
        want = np.array([int(hexc[i:i + 2], 16) for i in (0, 2, 4)])
        assert (np.abs(rgb - want).sum(axis=-1) < 40).sum() > 50, t


def test_tier_layout_puts_biography_left(graph):
    pos = gio.tier_layout(graph, TIERS)
    assert max(pos[v][0] for v in TIERS[0]) < min(pos[v][0] for v in TIERS[1])
    assert len({pos[v] for v in graph.nodes}) == len(graph.nodes)
