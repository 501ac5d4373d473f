"""Report pages and figures drawn with matplotlib: page frames, paginated tables and text, the data
profile's charts (missing values, trait distributions, LLM agreement) and a graph drawing.

Every function returns :class:`matplotlib.figure.Figure` objects that are not attached to pyplot
(nothing global is touched; the caller saves and forgets them). Pages are A4 portrait
(8.27 x 11.69 in) unless ``landscape``; text sizes are at least 7 pt at that size so a printed
page stays readable, and every chart has a title, labelled axes and a legend where colours carry
meaning.

Text is kept to the cp1252 character set (see :func:`clean_text`) because the PDF uses the
standard PDF fonts (Helvetica, Courier), which keeps the text extractable and the file small.
"""

from __future__ import annotations

import math
import textwrap
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

A4_PORTRAIT = (8.27, 11.69)
A4_LANDSCAPE = (11.69, 8.27)
#: margins in inches: left/right, top (title band) and bottom (footer band)
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 0.6, 1.0, 0.7
TITLE_SIZE = 14
BODY_SIZE = 9
TABLE_SIZE = 7.5
#: width of one Courier character in ems (Courier is monospaced: exact)
COURIER_EM = 0.6
#: average width of a Helvetica character in ems, rounded up, for wrapping prose
HELVETICA_EM = 0.56

RATER_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
EDGE_COLOURS = {"-->": "#1f4e79", "---": "#555555", "<->": "#b03a2e", "o->": "#7d3c98", "o-o": "#1e8449"}
EDGE_MEANING = {"-->": "directed (cause -> effect)", "---": "undirected (orientation unknown)",
                "<->": "bidirected (latent confounder)", "o->": "partially directed",
                "o-o": "nondirected"}

_REPLACEMENTS = {"\u2212": "-", "\u2192": "->", "\u2190": "<-", "\u2194": "<->", "\u2264": "<=",
                 "\u2265": ">=", "\u03b1": "alpha", "\u03ba": "kappa", "\u00d7": "x", "\u2248": "~"}


def clean_text(s: Any) -> str:
    """``str(s)`` restricted to characters the standard PDF fonts can show (cp1252)."""
    s = str(s)
    for a, b in _REPLACEMENTS.items():
        s = s.replace(a, b)
    try:
        s.encode("cp1252")
        return s
    except UnicodeEncodeError:
        out = []
        for ch in s:
            try:
                ch.encode("cp1252")
                out.append(ch)
            except UnicodeEncodeError:
                base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
                out.append(base or "?")
        return "".join(out)


# ---------------------------------------------------------------------- page frames
def _title_band(fig: "Figure", title: str, subtitle: str | None) -> None:
    """The title, optional subtitle and rule at the top of a page-sized figure."""
    w, h = fig.get_size_inches()
    fig.text(MARGIN_X / w, 1 - 0.45 / h, clean_text(title), fontsize=TITLE_SIZE, fontweight="bold",
             ha="left", va="baseline")
    if subtitle:
        fig.text(MARGIN_X / w, 1 - 0.7 / h, clean_text(subtitle), fontsize=BODY_SIZE, color="#444444",
                 ha="left", va="baseline")
    fig.add_artist(_hline(fig, 1 - 0.8 / h))


def page(title: str, subtitle: str | None = None, landscape: bool = False) -> "Figure":
    """A blank page with its title (and an optional one-line subtitle) in the top band."""
    from matplotlib.figure import Figure

    size = A4_LANDSCAPE if landscape else A4_PORTRAIT
    fig = Figure(figsize=size)
    _title_band(fig, title, subtitle)
    return fig


def _hline(fig: "Figure", y: float):
    from matplotlib.lines import Line2D

    w = fig.get_figwidth()
    return Line2D([MARGIN_X / w, 1 - MARGIN_X / w], [y, y], transform=fig.transFigure, color="#999999",
                  linewidth=0.6)


def body_rect(fig: "Figure", top_extra: float = 0.0, bottom_extra: float = 0.0) -> tuple[float, float, float, float]:
    """The page body (left, bottom, width, height) in figure fractions, below the title band."""
    w, h = fig.get_figwidth(), fig.get_figheight()
    left = MARGIN_X / w
    bottom = (MARGIN_BOTTOM + bottom_extra) / h
    top = 1 - (MARGIN_TOP + top_extra) / h
    return left, bottom, 1 - 2 * left, top - bottom


def footer(fig: "Figure", left: str, right: str) -> None:
    """Footer line: ``left`` (report and dataset) and ``right`` (page number)."""
    w, h = fig.get_figwidth(), fig.get_figheight()
    fig.text(MARGIN_X / w, 0.35 / h, clean_text(left), fontsize=7, color="#666666", ha="left")
    fig.text(1 - MARGIN_X / w, 0.35 / h, clean_text(right), fontsize=7, color="#666666", ha="right")


def body_chars(fig: "Figure", fontsize: float, em: float = HELVETICA_EM) -> int:
    """How many characters of the given size fit across the page body."""
    w = fig.get_figwidth() - 2 * MARGIN_X
    return int(w * 72 / (fontsize * em))


# ---------------------------------------------------------------------- text pages
def text_pages(title: str, blocks: Sequence[tuple[str, str]], subtitle: str | None = None,
               fontsize: float = BODY_SIZE) -> list["Figure"]:
    """Pages of wrapped prose. ``blocks`` are ``(kind, text)`` with kind ``h`` (heading), ``p``
    (paragraph), ``l`` (line, no space after), ``i`` (indented line), ``b`` (bullet) or ``m``
    (monospaced line, wrapped only at the page edge)."""
    probe = page(title)
    width = body_chars(probe, fontsize)
    mono_width = body_chars(probe, fontsize - 1, COURIER_EM)
    line_h = fontsize * 1.45 / 72  # inches
    _, _, _, body_h = body_rect(probe)
    per_page = int(body_h * probe.get_figheight() / line_h)

    lines: list[tuple[str, str]] = []  # (style, text)
    for kind, text in blocks:
        text = clean_text(text)
        if kind == "h":
            if lines:
                lines.append(("p", ""))
            lines.append(("h", text))
        elif kind == "b":
            wrapped = textwrap.wrap(text, width - 3) or [""]
            lines.append(("p", "-  " + wrapped[0]))
            lines += [("p", "   " + x) for x in wrapped[1:]]
        elif kind in ("l", "i"):
            pad = "   " if kind == "i" else ""
            lines += [("p", pad + x) for x in (textwrap.wrap(text, width - len(pad)) or [""])]
        elif kind == "m":
            for raw in text.splitlines() or [""]:
                for x in textwrap.wrap(raw, mono_width, drop_whitespace=False) or [""]:
                    lines.append(("m", x))
        else:
            lines += [("p", x) for x in (textwrap.wrap(text, width) or [""])]
            lines.append(("p", ""))
    chunks = [lines[i:i + per_page] for i in range(0, max(len(lines), 1), per_page)] or [[]]
    figs = []
    for k, chunk in enumerate(chunks):
        t = title if k == 0 else f"{title} (continued)"
        fig = page(t, subtitle if k == 0 else None)
        left, bottom, _, height = body_rect(fig)
        y = bottom + height
        step = line_h / fig.get_figheight()
        for style, text in chunk:
            y -= step
            if style == "h":
                fig.text(left, y, text, fontsize=fontsize + 2, fontweight="bold", ha="left", va="baseline")
            elif style == "m":
                fig.text(left, y, text, fontsize=fontsize - 1, family="monospace", ha="left", va="baseline")
            else:
                fig.text(left, y, text, fontsize=fontsize, ha="left", va="baseline")
        figs.append(fig)
    return figs


# ---------------------------------------------------------------------- tables
def format_cell(v: Any) -> str:
    """A table cell as text: floats to 3 significant digits, small p-values in e-notation."""
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if math.isnan(x):
            return ""
        if x == 0:
            return "0"
        if x.is_integer() and abs(x) < 1e9:
            return str(int(x))
        if abs(x) < 1e-3 or abs(x) >= 1e6:
            return f"{x:.2e}"
        if abs(x) >= 100:
            return f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"
        return f"{x:.3g}"
    return clean_text(v)


def _is_numeric_column(values: Sequence[Any]) -> bool:
    seen = False
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            return False
        seen = True
    return seen


def _column_widths(natural: list[int], available: int, minimum: int = 6) -> list[int]:
    widths = list(natural)
    while sum(widths) > available:
        i = int(np.argmax(widths))
        if widths[i] <= minimum:
            break
        widths[i] -= 1
    return widths


def table_pages(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                subtitle: str | None = None, note: str | None = None, landscape: bool = False,
                fontsize: float = TABLE_SIZE, max_col_chars: int = 60) -> list["Figure"]:
    """A table over as many pages as it needs, header repeated, long cells wrapped.

    Text is Courier (monospaced), so column widths in characters are exact and cells never
    overlap; numeric columns are right-aligned. ``note`` is printed under the table on its last
    page.
    """
    columns = [clean_text(c) for c in columns]
    raw_cols = list(zip(*rows)) if rows else [() for _ in columns]
    numeric = [_is_numeric_column(col) for col in raw_cols]
    cells = [[format_cell(v) for v in r] for r in rows]
    probe = page(title, landscape=landscape)
    gap = 2
    available = body_chars(probe, fontsize, COURIER_EM) - gap * (len(columns) - 1)
    natural = [min(max([len(columns[j])] + [len(r[j]) for r in cells]), max_col_chars)
               for j in range(len(columns))]
    widths = _column_widths(natural, available)

    def wrap(text: str, width: int) -> list[str]:
        return textwrap.wrap(text, width, break_on_hyphens=False) or [""]

    header = [wrap(c, widths[j]) for j, c in enumerate(columns)]
    header_lines = max(len(h) for h in header)
    body = [[wrap(c, widths[j]) for j, c in enumerate(r)] for r in cells]
    line_h = fontsize * 1.35 / 72
    _, _, _, body_h = body_rect(probe, top_extra=0.25 if subtitle else 0.0, bottom_extra=0.3)
    per_page = int(body_h * probe.get_figheight() / line_h) - header_lines - 1

    pages: list[list[list[list[str]]]] = [[]]
    used = 0
    for r in body:
        need = max(len(c) for c in r)
        if used + need > per_page and pages[-1]:
            pages.append([])
            used = 0
        pages[-1].append(r)
        used += need

    figs = []
    char_w = fontsize * COURIER_EM / 72  # inches
    for k, chunk in enumerate(pages):
        t = title if len(pages) == 1 else f"{title} ({k + 1}/{len(pages)})"
        fig = page(t, subtitle, landscape=landscape)
        W, H = fig.get_figwidth(), fig.get_figheight()
        left, bottom, width, height = body_rect(fig, top_extra=0.0)
        x0 = [MARGIN_X + sum(widths[:j]) * char_w + gap * j * char_w for j in range(len(columns))]
        y = (bottom + height) * H - (0.25 if subtitle else 0.0)
        for li in range(header_lines):
            y -= line_h
            for j, h in enumerate(header):
                if li < len(h):
                    x = x0[j] + widths[j] * char_w if numeric[j] else x0[j]
                    fig.text(x / W, y / H, h[li], fontsize=fontsize, family="monospace", fontweight="bold",
                             ha="right" if numeric[j] else "left", va="baseline")
        total_w = sum(widths) * char_w + gap * (len(columns) - 1) * char_w
        y -= 0.35 * line_h
        fig.add_artist(_line(fig, MARGIN_X / W, (MARGIN_X + total_w) / W, y / H))
        for ri, r in enumerate(chunk):
            n_lines = max(len(c) for c in r)
            if ri % 2 == 1:
                from matplotlib.patches import Rectangle

                fig.add_artist(Rectangle(((MARGIN_X - 0.03) / W, (y - n_lines * line_h - 0.3 * line_h) / H),
                                         (total_w + 0.06) / W, n_lines * line_h / H,
                                         transform=fig.transFigure, facecolor="#eeeeee", edgecolor="none",
                                         zorder=0))
            for li in range(n_lines):
                y -= line_h
                for j, c in enumerate(r):
                    if li < len(c):
                        x = x0[j] + widths[j] * char_w if numeric[j] else x0[j]
                        fig.text(x / W, y / H, c[li], fontsize=fontsize, family="monospace",
                                 ha="right" if numeric[j] else "left", va="baseline")
        if not chunk:
            y -= line_h
            fig.text(MARGIN_X / W, y / H, "(no rows)", fontsize=fontsize, family="monospace", va="baseline")
        if note and k == len(pages) - 1:
            lines = textwrap.wrap(clean_text(note), body_chars(fig, 8))
            y -= line_h * 1.5
            for ln in lines:
                y -= 8 * 1.4 / 72
                fig.text(MARGIN_X / W, y / H, ln, fontsize=8, color="#333333", va="baseline")
        figs.append(fig)
    return figs


def _line(fig: "Figure", x0: float, x1: float, y: float):
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], transform=fig.transFigure, color="#333333", linewidth=0.6)


# ---------------------------------------------------------------------- data profile charts
def ordered(keys: Any, order: Sequence[str] | None) -> list[str]:
    """``keys`` in the given order first (those present), then the rest as they come."""
    keys = list(keys)
    first = [k for k in (order or []) if k in keys]
    return first + [k for k in keys if k not in first]


def _trait_order(profile: dict[str, Any]) -> list[str]:
    dist = profile.get("trait_distribution") or {}
    names: list[str] = []
    for rater in dist.values():
        for t in rater:
            if t not in names:
                names.append(t)
    return ordered(names, profile.get("trait_order"))


def rater_order(profile: dict[str, Any]) -> list[str]:
    """The raters of the trait distributions: aggregate first, then the LLMs in table order."""
    return ordered(profile.get("trait_distribution") or {}, profile.get("rater_order"))


def missingness_figure(profile: dict[str, Any], title: str = "Data: missing values per column",
                       max_columns: int = 60) -> "Figure":
    """Horizontal bars: share of missing values of the non-embedding columns (embeddings noted).

    With more than ``max_columns`` columns only the ones with the most missing values are drawn
    (the table of columns lists them all).
    """
    miss = profile.get("missing_share") or {}
    cols = ordered(miss, profile.get("column_order"))
    shown = cols
    if len(cols) > max_columns:
        top = set(sorted(cols, key=lambda c: -miss[c])[:max_columns])
        shown = [c for c in cols if c in top]
    fig = page(title, f"{profile.get('rows', '?')} rows; share of rows where the column is missing "
                      "(LLM 'insufficient information' answers are missing values)")
    H = fig.get_figheight()
    notes = []
    emb = profile.get("embeddings") or {}
    if emb:
        notes.append("Embeddings (summarised): " + "; ".join(
            f"{m}: {e.get('dims')} dims, {100 * (e.get('rows_missing_share') or 0):.1f}% of rows missing"
            for m, e in emb.items()))
    if len(shown) < len(cols):
        notes.append(f"Showing the {len(shown)} of {len(cols)} columns with the most missing values.")
    note_lines = [ln for t in notes for ln in textwrap.wrap(clean_text(t), body_chars(fig, 8))][:8]
    line = 8 * 1.4 / 72
    left, bottom, width, height = body_rect(fig, top_extra=0.1, bottom_extra=0.45 + line * len(note_lines))
    n = max(len(shown), 1)
    label_w = min(max([len(c) for c in shown] + [4]) * 7 * HELVETICA_EM / 72 + 0.3, 2.6)
    W = fig.get_figwidth()
    used_h = min(height, (0.2 + 0.17 * n) / H)
    ax = fig.add_axes((left + label_w / W, bottom + height - used_h, width - label_w / W - 0.02, used_h))
    vals = np.array([miss[c] for c in shown], dtype=float) * 100 if shown else np.zeros(0)
    y = np.arange(len(shown))
    ax.barh(y, vals, color="#4c72b0", height=0.7, label="missing (%)")
    ax.set_yticks(y)
    ax.set_yticklabels([clean_text(c) for c in shown], fontsize=6.5 if n > 45 else 7 if n > 30 else 8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("missing values (% of rows)")
    ax.set_ylabel("column")
    for yi, v in zip(y, vals):
        ax.text(min(v + 1, 88), yi, f"{v:.1f}%", va="center", fontsize=6.5)
    ax.grid(axis="x", color="#dddddd", linewidth=0.5)
    ax.set_axisbelow(True)
    yt = bottom + height - used_h - 0.5 / H
    for ln in note_lines:
        fig.text(left, yt, ln, fontsize=8, ha="left", va="top")
        yt -= line / H
    return fig


def trait_distribution_figure(profile: dict[str, Any],
                              title: str = "Data: trait distributions per LLM") -> "Figure":
    """One panel per trait: share of each score (and of missing) for every LLM and the aggregate."""
    dist = profile.get("trait_distribution") or {}
    raters = rater_order(profile)
    traits = _trait_order(profile)
    fig = page(title, "share of rows with each score (1 low .. 3 high); 'NA' = missing or "
                      "insufficient information")
    left, bottom, width, height = body_rect(fig, top_extra=0.55, bottom_extra=0.1)
    n = max(len(traits), 1)
    gap = 0.55 / fig.get_figheight()
    panel_h = (height - gap * (n - 1)) / n
    values: list[str] = []
    for r in raters:
        for t in traits:
            for k in (dist[r].get(t) or {}):
                if k != "missing" and k not in values:
                    values.append(k)
    values = sorted(values, key=float) + ["missing"]
    labels = [v if v != "missing" else "NA" for v in values]
    handles = []
    for i, t in enumerate(traits):
        ax = fig.add_axes((left + 0.06, bottom + (n - 1 - i) * (panel_h + gap), width - 0.08, panel_h))
        x = np.arange(len(values))
        bw = 0.8 / max(len(raters), 1)
        for j, r in enumerate(raters):
            counts = dist[r].get(t) or {}
            total = sum(counts.values()) or 1
            share = [100.0 * counts.get(v, 0) / total for v in values]
            bars = ax.bar(x - 0.4 + bw * (j + 0.5), share, width=bw, color=RATER_COLOURS[j % len(RATER_COLOURS)],
                          label=clean_text(r))
            if i == 0:
                handles.append(bars)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("% of rows", fontsize=8)
        ax.set_ylim(0, 100)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(clean_text(t), fontsize=9, loc="left", pad=3)
        ax.grid(axis="y", color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
        if i == n - 1:
            ax.set_xlabel("score", fontsize=8)
    if handles:
        fig.legend(handles, [f"rater: {clean_text(r)}" for r in raters], loc="upper left",
                   ncol=min(len(raters), 6), fontsize=8, frameon=False,
                   bbox_to_anchor=(left, 1 - (MARGIN_TOP - 0.05) / fig.get_figheight()))
    return fig


def agreement_figure(profile: dict[str, Any], title: str = "Data: agreement between LLMs per trait") -> "Figure":
    """Grouped bars per trait: weighted kappa of each LLM pair and Krippendorff's alpha."""
    ag = profile.get("agreement") or {}
    traits = ordered(ag.get("traits") or {}, profile.get("trait_order"))
    pairs = list(ag.get("pairs") or [])
    weights = ag.get("kappa_weights", "quadratic")
    level = ag.get("alpha_level", "ordinal")
    fig = page(title, f"Cohen's kappa ({weights} weights) per LLM pair; Krippendorff's alpha ({level} "
                      "metric) over all LLMs, missing ratings allowed")
    left, bottom, width, height = body_rect(fig, top_extra=0.1)
    ax = fig.add_axes((left + 0.08, bottom + height * 0.45, width - 0.1, height * 0.5))
    series = [(f"kappa {p.replace('~', ' vs ')}", [ag["traits"][t]["kappa"].get(p) for t in traits]) for p in pairs]
    series.append((f"alpha ({level})", [ag["traits"][t].get("alpha") for t in traits]))
    x = np.arange(len(traits))
    bw = 0.8 / max(len(series), 1)
    for j, (name, vals) in enumerate(series):
        v = np.array([np.nan if a is None else a for a in vals], dtype=float)
        ax.bar(x - 0.4 + bw * (j + 0.5), np.nan_to_num(v), width=bw, color=RATER_COLOURS[j % len(RATER_COLOURS)],
               label=clean_text(name), hatch="//" if j == len(series) - 1 else None, edgecolor="white")
    ax.axhline(0, color="#333333", linewidth=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels([clean_text(t) for t in traits], fontsize=8)
    ax.set_xlabel("trait")
    ax.set_ylabel("agreement (1 = perfect, 0 = chance)")
    ax.set_ylim(min(-0.1, float(np.nanmin([np.nan_to_num(np.array([a if a is not None else 0 for a in s[1]],
                                                                     dtype=float)).min() for s in series]
                                          + [0])) - 0.05), 1.0)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    return fig


def history_figure(history: Sequence[dict[str, Any]], title: str = "CRL: training history",
                   subtitle: str | None = None) -> "Figure":
    """Loss curves per epoch from a list of ``{"epoch": k, "<name>_loss": value, ...}`` records."""
    fig = page(title, subtitle)
    left, bottom, width, height = body_rect(fig, top_extra=0.2)
    ax = fig.add_axes((left + 0.08, bottom + height * 0.5, width - 0.1, height * 0.45))
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    keys = [k for k in history[0] if k.endswith("loss")]
    for j, k in enumerate(keys):
        ys = [h.get(k, np.nan) for h in history]
        ax.plot(epochs, ys, marker="o" if len(epochs) <= 30 else None, markersize=3,
                color=RATER_COLOURS[j % len(RATER_COLOURS)], label=clean_text(k.replace("_", " ")))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(color="#dddddd", linewidth=0.5)
    if keys:
        ax.legend(fontsize=8, frameon=False)
    return fig


# ---------------------------------------------------------------------- graph drawing
def _layout(nodes: list[str]) -> dict[str, np.ndarray]:
    n = len(nodes)
    if n == 1:
        return {nodes[0]: np.zeros(2)}
    # a circle, starting at the top and going clockwise: stable and free of edge-node overlaps
    ang = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    return {v: np.array([math.cos(a), math.sin(a)]) for v, a in zip(nodes, ang)}


def draw_graph(ax: "Axes", graph: Any, highlight: dict[frozenset, str] | None = None,
               missing: Sequence[tuple[str, str]] = ()) -> None:
    """Draw a mixed graph on ``ax``: nodes on a circle, edge marks (arrow, tail, circle) drawn.

    ``graph`` is a :class:`~causaltraits.discovery.graph.Graph` or its JSON dict. ``highlight``
    maps an unordered node pair to a line style (e.g. ``"dashed"`` for edges absent in the truth);
    ``missing`` pairs (true adjacencies the estimate lacks) are drawn as light dotted lines.
    """
    from matplotlib.patches import Circle, FancyArrowPatch

    if isinstance(graph, dict):
        nodes = list(graph["nodes"])
        edges = [(e["source"], e["target"], e["type"]) for e in graph["edges"]]
    else:
        nodes = list(graph.nodes)
        edges = [(e.source, e.target, e.type) for e in graph.edges]
    pos = _layout(nodes)
    n = len(nodes)
    r = 0.055 if n <= 12 else max(0.025, 0.6 / n)
    mark_r = r * 0.28
    for a, b in missing:
        if a in pos and b in pos:
            ax.plot([pos[a][0], pos[b][0]], [pos[a][1], pos[b][1]], color="#aaaaaa", linewidth=1.2,
                    linestyle=":", zorder=1)
    for s, t, ty in edges:
        ps, pt = pos[s], pos[t]
        u = (pt - ps) / (np.linalg.norm(pt - ps) or 1.0)
        left_mark, right_mark = ty[0], ty[2]
        start = ps + u * (r + (2 * mark_r if left_mark == "o" else 0))
        end = pt - u * (r + (2 * mark_r if right_mark == "o" else 0))
        style = {("-", ">"): "-|>", ("<", ">"): "<|-|>", ("o", ">"): "-|>", ("-", "-"): "-",
                 ("o", "o"): "-"}.get((left_mark, right_mark), "-")
        colour = EDGE_COLOURS.get(ty, "#333333")
        ls = (highlight or {}).get(frozenset((s, t)), "solid")
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=11, color=colour,
                                     linewidth=1.3, linestyle=ls, shrinkA=0, shrinkB=0, zorder=2))
        if left_mark == "o":
            ax.add_patch(Circle(ps + u * (r + mark_r), mark_r, facecolor="white", edgecolor=colour,
                                linewidth=1.1, zorder=3))
        if right_mark == "o":
            ax.add_patch(Circle(pt - u * (r + mark_r), mark_r, facecolor="white", edgecolor=colour,
                                linewidth=1.1, zorder=3))
    fs = 8 if n <= 16 else 7 if n <= 30 else 6
    for v in nodes:
        p = pos[v]
        ax.add_patch(Circle(p, r, facecolor="#f2f2f2", edgecolor="#333333", linewidth=0.9, zorder=4))
        ang = math.atan2(p[1], p[0]) if n > 1 else math.pi / 2
        lp = p + np.array([math.cos(ang), math.sin(ang)]) * (r + 0.04)
        ha = "left" if math.cos(ang) > 0.2 else "right" if math.cos(ang) < -0.2 else "center"
        va = "bottom" if math.sin(ang) > 0.5 else "top" if math.sin(ang) < -0.5 else "center"
        ax.text(lp[0], lp[1], clean_text(v), fontsize=fs, ha=ha, va=va, zorder=5)
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.25, 1.25)
    ax.set_aspect("equal")
    ax.axis("off")


def graph_figure(graph: Any, title: str, subtitle: str | None = None, landscape: bool = True,
                 highlight: dict[frozenset, str] | None = None, note: str | None = None,
                 missing: Sequence[tuple[str, str]] = ()) -> "Figure":
    """A page with a graph drawing and a legend of the edge types present."""
    from matplotlib.lines import Line2D

    fig = page(title, subtitle, landscape=landscape)
    left, bottom, width, height = body_rect(fig, top_extra=0.1, bottom_extra=0.4)
    ax = fig.add_axes((left, bottom, width * 0.78, height))
    draw_graph(ax, graph, highlight, missing)
    types = sorted({e["type"] if isinstance(e, dict) else e.type
                    for e in (graph["edges"] if isinstance(graph, dict) else graph.edges)},
                   key=lambda t: list(EDGE_COLOURS).index(t) if t in EDGE_COLOURS else 99)
    handles = [Line2D([], [], color=EDGE_COLOURS.get(t, "#333333"), linewidth=1.5) for t in types]
    labels = [f"{t}  {EDGE_MEANING.get(t, '')}" for t in types]
    if highlight:
        handles.append(Line2D([], [], color="#333333", linewidth=1.5, linestyle="dashed"))
        labels.append("dashed: adjacency not in the true graph")
    if missing:
        handles.append(Line2D([], [], color="#aaaaaa", linewidth=1.2, linestyle=":"))
        labels.append("dotted grey: true adjacency not found")
    if handles:
        fig.legend(handles, labels, loc="upper right", fontsize=8, title="edge type", title_fontsize=8,
                   frameon=True, bbox_to_anchor=(1 - MARGIN_X / fig.get_figwidth(), bottom + height))
    if note:
        for i, ln in enumerate(textwrap.wrap(clean_text(note), body_chars(fig, 8))[:3]):
            fig.text(left, bottom - (0.2 + 0.15 * i) / fig.get_figheight(), ln, fontsize=8, ha="left")
    return fig


# ---------------------------------------------------------------------- images
def image_page(title: str, image: str | Path, subtitle: str | None = None, landscape: bool = True,
               note: str | None = None) -> "Figure":
    """A page showing a PNG written by an analysis (scaled to the page body, aspect kept)."""
    import matplotlib.image as mpimg

    fig = page(title, subtitle, landscape=landscape)
    left, bottom, width, height = body_rect(fig, top_extra=0.1, bottom_extra=0.3 if note else 0.0)
    img = mpimg.imread(str(image))
    ax = fig.add_axes((left, bottom, width, height))
    ax.imshow(img, interpolation="antialiased")
    ax.set_aspect("equal")
    ax.axis("off")
    if note:
        fig.text(left, bottom - 0.2 / fig.get_figheight(), clean_text(note)[:200], fontsize=8, ha="left")
    return fig


def fit_figure(fig: "Figure", title: str, subtitle: str | None = None, landscape: bool = True) -> "Figure":
    """Put an existing figure (e.g. a heatmap) on a report page: resize to A4 and add the title band.

    The figure's own layout is recomputed for the page body, so its fonts keep their point size.
    """
    size = A4_LANDSCAPE if landscape else A4_PORTRAIT
    fig.set_size_inches(*size)
    w, h = size
    _title_band(fig, title, subtitle)
    for t in fig.texts:
        x, y = t.get_position()
        if y < MARGIN_BOTTOM / h and t.get_transform() == fig.transFigure:
            # notes drawn at the figure's edge would be cut by a printer: lift them above the footer
            t.set_position((max(x, MARGIN_X / w), (MARGIN_BOTTOM - 0.05) / h))
    try:
        fig.tight_layout(rect=(MARGIN_X / w, (MARGIN_BOTTOM + 0.1) / h, 1 - MARGIN_X / w, 1 - (MARGIN_TOP + 0.1) / h))
    except Exception:  # pragma: no cover - a figure whose layout engine refuses: keep its layout
        pass
    return fig


__all__ = ["page", "footer", "text_pages", "table_pages", "format_cell", "missingness_figure",
           "trait_distribution_figure", "agreement_figure", "draw_graph", "graph_figure", "image_page",
           "fit_figure", "history_figure", "clean_text", "A4_PORTRAIT", "A4_LANDSCAPE"]
