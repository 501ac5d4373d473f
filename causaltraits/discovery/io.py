"""Readers and writers for :class:`~causaltraits.discovery.graph.Graph`: JSON, GraphML, DOT, PNG.

- JSON is the graph's own form (``graph.json``, see :mod:`causaltraits.discovery.graph`).
- GraphML (networkx): a directed graph with one edge per adjacency, ``source -> target`` as in
  the JSON, the edge type in the attribute ``type`` and the endpoint marks in ``mark_source`` /
  ``mark_target`` (``arrow``, ``tail``, ``circle``), so tools that ignore ``type`` still see them.
- DOT: plain text for Graphviz; every edge is ``dir=both`` with ``arrowtail`` (mark at source)
  and ``arrowhead`` (mark at target) among ``normal``, ``none``, ``odot``. Tiers become
  ``rank=same`` groups.
- PNG: matplotlib only (no Graphviz binary). Tier layout: biography in the left column, face and
  traits to the right; circles, arrowheads and tails drawn at each end; a legend of edge types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from causaltraits.discovery.graph import EDGE_TYPES, Edge, Graph
from causaltraits.runs import atomic_path, write_text

_MARK_OF_CHAR = {"<": "arrow", ">": "arrow", "-": "tail", "o": "circle"}
_DOT_ARROW = {"arrow": "normal", "tail": "none", "circle": "odot"}
_TYPE_OF_MARKS = {("tail", "arrow"): "-->", ("tail", "tail"): "---", ("arrow", "arrow"): "<->",
                  ("circle", "arrow"): "o->", ("circle", "circle"): "o-o"}
EDGE_COLOURS = {"-->": "#1f4e9c", "---": "#555555", "<->": "#b2182b", "o->": "#e08214", "o-o": "#7b3294"}
EDGE_MEANING = {"-->": "causes", "---": "undirected", "<->": "latent confounder",
                "o->": "partially directed", "o-o": "nondirected"}


def _marks(e: Edge) -> tuple[str, str]:
    return _MARK_OF_CHAR[e.type[0]], _MARK_OF_CHAR[e.type[2]]


# ---------------------------------------------------------------------- JSON
def write_json(graph: Graph, path: str | Path) -> Path:
    """Write ``graph.json`` (atomically)."""
    path = Path(path)
    write_text(path, graph.to_json())
    return path


def read_json(path: str | Path) -> Graph:
    return Graph.read_json(path)


# ---------------------------------------------------------------------- GraphML
def to_networkx(graph: Graph, tiers: Sequence[Sequence[str]] | None = None) -> Any:
    """A networkx DiGraph with the edge type and endpoint marks as edge attributes."""
    import networkx as nx

    g = nx.DiGraph()
    tier_of = {v: k for k, t in enumerate(tiers or []) for v in t}
    for k, v in enumerate(graph.nodes):
        attrs: dict[str, Any] = {"order": k}
        if v in tier_of:
            attrs["tier"] = tier_of[v]
        g.add_node(v, **attrs)
    for e in graph.edges:
        ms, mt = _marks(e)
        g.add_edge(e.source, e.target, type=e.type, mark_source=ms, mark_target=mt)
    return g


def from_networkx(g: Any) -> Graph:
    nodes = sorted(g.nodes, key=lambda v: (g.nodes[v].get("order", 0), str(v)))
    edges = []
    for s, t, d in g.edges(data=True):
        ty = d.get("type")
        if ty is None:
            ty = _TYPE_OF_MARKS.get((d.get("mark_source", "tail"), d.get("mark_target", "arrow")), "-->")
        edges.append(Edge(str(s), str(t), ty))
    return Graph([str(v) for v in nodes], edges)


def write_graphml(graph: Graph, path: str | Path, tiers: Sequence[Sequence[str]] | None = None) -> Path:
    import networkx as nx

    path = Path(path)
    with atomic_path(path) as tmp:
        nx.write_graphml(to_networkx(graph, tiers), str(tmp))
    return path


def read_graphml(path: str | Path) -> Graph:
    import networkx as nx

    return from_networkx(nx.read_graphml(str(path)))


# ---------------------------------------------------------------------- DOT
def _q(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph, tiers: Sequence[Sequence[str]] | None = None, name: str = "causaltraits") -> str:
    """DOT text for the graph (see module docstring)."""
    lines = [f"digraph {_q(name)} {{", "  rankdir=LR;", '  node [shape=box, style="rounded", fontname="Helvetica"];',
             '  edge [dir=both, fontname="Helvetica"];']
    for k, tier in enumerate(tiers or []):
        members = [v for v in tier if v in graph.nodes]
        if members:
            lines.append(f"  {{ rank=same; {'; '.join(_q(v) for v in members)}; }}  // tier {k}")
    for v in graph.nodes:
        lines.append(f"  {_q(v)};")
    for e in graph.edges:
        ms, mt = _marks(e)
        lines.append(
            f"  {_q(e.source)} -> {_q(e.target)} [arrowtail={_DOT_ARROW[ms]}, arrowhead={_DOT_ARROW[mt]}, "
            f'color="{EDGE_COLOURS[e.type]}", tooltip={_q(e.source + " " + e.type + " " + e.target)}];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(graph: Graph, path: str | Path, tiers: Sequence[Sequence[str]] | None = None) -> Path:
    path = Path(path)
    write_text(path, to_dot(graph, tiers))
    return path


def read_dot(path: str | Path) -> Graph:
    """Read a DOT file written by :func:`write_dot` (not a general DOT parser)."""
    import re

    text = Path(path).read_text(encoding="utf-8")
    name = r'"((?:[^"\\]|\\.)*)"'
    unq = lambda s: s.replace('\\"', '"').replace("\\\\", "\\")  # noqa: E731
    nodes = [unq(m.group(1)) for m in re.finditer(r"^\s*" + name + r";\s*$", text, re.M)]
    inv = {v: k for k, v in _DOT_ARROW.items()}
    edges = []
    for m in re.finditer(r"^\s*" + name + r" -> " + name + r" \[arrowtail=(\w+), arrowhead=(\w+)", text, re.M):
        ty = _TYPE_OF_MARKS[(inv[m.group(3)], inv[m.group(4)])]
        edges.append(Edge(unq(m.group(1)), unq(m.group(2)), ty))
    return Graph(nodes, edges)


# ---------------------------------------------------------------------- PNG
def tier_layout(graph: Graph, tiers: Sequence[Sequence[str]] | None = None) -> dict[str, tuple[float, float]]:
    """Node positions: one column per tier (earliest left); a circle when there are no tiers.

    Edges within a column are drawn as arcs bulging outwards (see :func:`draw_png`), so they do
    not run through the other nodes of the column."""
    nodes = list(graph.nodes)
    tiers = [[v for v in t if v in nodes] for t in (tiers or [])]
    tiers = [t for t in tiers if t]
    placed = {v for t in tiers for v in t}
    rest = [v for v in nodes if v not in placed]
    if not tiers:
        n = len(nodes)
        ang = np.pi / 2 - 2 * np.pi * np.arange(n) / max(n, 1)
        return {v: (float(np.cos(a)), float(np.sin(a))) for v, a in zip(nodes, ang)}
    if rest:
        tiers = [*tiers, rest]
    pos = {}
    ncol = len(tiers)
    for k, t in enumerate(tiers):
        x0 = 0.0 if ncol == 1 else -1.0 + 2.0 * k / (ncol - 1)
        m = len(t)
        for r, v in enumerate(t):
            y = 0.0 if m == 1 else 1.0 - 2.0 * r / (m - 1)
            pos[v] = (x0, y)
    return pos


def _bezier(p0: np.ndarray, p1: np.ndarray, bend: float, n: int = 80, side: float = 0.0,
            offset: float = 0.0) -> np.ndarray:
    """A quadratic curve from p0 to p1 whose control point is ``bend`` x length + ``offset`` off
    the chord (towards +x when ``side`` > 0, -x when < 0, else left of the direction of travel)."""
    mid = (p0 + p1) / 2
    d = p1 - p0
    length = float(np.hypot(*d)) or 1.0
    normal = np.array([-d[1], d[0]]) / length
    if side and normal[0] * side < 0:
        normal = -normal
    ctrl = mid + (bend * length + offset) * normal
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t**2 * p1


def draw_png(graph: Graph, path: str | Path, tiers: Sequence[Sequence[str]] | None = None, title: str | None = None,
             tier_names: Sequence[str] | None = None, dpi: int = 150) -> Path:
    """Draw the graph with matplotlib (headless) and save a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse, FancyBboxPatch, Polygon

    pos = tier_layout(graph, tiers)
    n = len(graph.nodes)
    height = max(5.0, 0.55 * max([len(t) for t in (tiers or [])] + [n if not tiers else 1]))
    fig, ax = plt.subplots(figsize=(11, height))
    ax.set_aspect("auto")
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    ncol = len({round(x, 6) for x in xs})
    ax.set_xlim(min(xs) - (1.0 if ncol > 1 else 0.55), max(xs) + (1.0 if ncol > 1 else 0.55))
    ax.set_ylim(min(ys) - 0.18, max(ys) + 0.18)
    ax.axis("off")
    # box half-sizes in data units, from the figure size, for clipping edges at the node boxes
    xr = ax.get_xlim()[1] - ax.get_xlim()[0]
    yr = ax.get_ylim()[1] - ax.get_ylim()[0]
    fig_w, fig_h = fig.get_size_inches()
    # measure the rendered labels so boxes fit them and edges stop at the box borders
    labels = {v: ax.text(pos[v][0], pos[v][1], v, ha="center", va="center", fontsize=9, zorder=6)
              for v in graph.nodes}
    renderer = fig.canvas.get_renderer()
    to_data = ax.transData.inverted()
    pad_x = xr / (fig_w * 72) * 5.0  # 5 pt each side
    half_h = yr / (fig_h * 72) * 9.0
    half = {}
    for v, t in labels.items():
        bb = t.get_window_extent(renderer)
        (x0, _), (x1, _) = to_data.transform([(bb.x0, bb.y0), (bb.x1, bb.y1)])
        half[v] = (abs(x1 - x0) / 2 + pad_x, half_h)

    def inside(pt: np.ndarray, v: str) -> bool:
        cx, cy = pos[v]
        hw, hh = half[v]
        return abs(pt[0] - cx) <= hw * 1.08 and abs(pt[1] - cy) <= hh * 1.25

    def draw_mark(tip: np.ndarray, prev: np.ndarray, mark: str, colour: str) -> None:
        d = tip - prev
        # scale direction to screen-ish units so marks look the same in x and y
        sx, sy = xr / fig_w, yr / fig_h
        u = np.array([d[0] / sx, d[1] / sy])
        norm = np.hypot(*u) or 1.0
        u = u / norm
        size = 0.13  # inches
        if mark == "arrow":
            back = tip - np.array([u[0] * sx, u[1] * sy]) * size
            perp = np.array([-u[1] * sx, u[0] * sy]) * size * 0.42
            ax.add_patch(Polygon([tip, back + perp, back - perp], closed=True, color=colour, zorder=4))
        elif mark == "circle":
            r = size * 0.38
            centre = tip - np.array([u[0] * sx, u[1] * sy]) * r
            ax.add_patch(Ellipse(centre, 2 * r * sx, 2 * r * sy, facecolor="white",
                                                    edgecolor=colour, linewidth=1.4, zorder=4))

    tier_of = {v: k for k, t in enumerate(tiers or []) for v in t}
    for e in graph.edges:
        p0, p1 = np.array(pos[e.source], float), np.array(pos[e.target], float)
        same_col = bool(tiers) and abs(p0[0] - p1[0]) < 1e-9
        if same_col:  # arc outwards: left of the leftmost column, right of the others
            col_half = max(half[v][0] for v in graph.nodes if abs(pos[v][0] - p0[0]) < 1e-9)
            curve = _bezier(p0, p1, 0.12, side=-1.0 if p0[0] <= min(xs) + 1e-9 else 1.0,
                            offset=2 * col_half + 0.1)
        else:
            curve = _bezier(p0, p1, 0.04)
        keep = np.array([not inside(pt, e.source) and not inside(pt, e.target) for pt in curve])
        if keep.sum() < 2:
            continue
        idx = np.flatnonzero(keep)
        seg = curve[idx[0]: idx[-1] + 1]
        colour = EDGE_COLOURS[e.type]
        ax.plot(seg[:, 0], seg[:, 1], color=colour, linewidth=1.5, zorder=2,
                linestyle="--" if e.type == "<->" else "-")
        ms, mt = _marks(e)
        draw_mark(seg[0], seg[min(3, len(seg) - 1)], ms, colour)
        draw_mark(seg[-1], seg[max(-4, -len(seg))], mt, colour)
    for v, (x, y) in pos.items():
        hw, hh = half[v]
        tier = tier_of.get(v)
        face = "#e8f0fb" if tier == 0 else ("#fdf0e0" if tier is not None else "#f2f2f2")
        ax.add_patch(FancyBboxPatch((x - hw, y - hh), 2 * hw, 2 * hh, boxstyle="round,pad=0.0,rounding_size=0.01",
                                    facecolor=face, edgecolor="#333333", linewidth=0.8, zorder=5))
    if tiers:
        names = list(tier_names) if tier_names else (["biography", "face and traits"] if len(tiers) == 2 else
                                                     [f"tier {k}" for k in range(len(tiers))])
        cols = {}
        for v, k in tier_of.items():
            if v in pos:
                cols.setdefault(k, []).append(pos[v][0])
        for k, xs_k in sorted(cols.items()):
            if k < len(names):
                ax.text(float(np.mean(xs_k)), max(ys) + 0.12, names[k], ha="center", va="bottom",
                        fontsize=10, fontweight="bold", color="#333333")
    present = [t for t in EDGE_TYPES if any(e.type == t for e in graph.edges)] or list(EDGE_TYPES)
    handles = [Line2D([0], [0], color=EDGE_COLOURS[t], lw=2, linestyle="--" if t == "<->" else "-",
                      label=f"{t}  {EDGE_MEANING[t]}") for t in present]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.08), ncol=len(handles),
              frameon=False, fontsize=9, prop={"family": "monospace", "size": 9})
    if title:
        ax.set_title(title, fontsize=11)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(fig)
    return path
