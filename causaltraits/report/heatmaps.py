"""Heatmaps of a traits x attributes battery: q-values in the cells, significance marked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

TEST_LABELS = {"kci": "KCI", "rcit": "RCIT", "rcot": "RCoT", "hsic": "HSIC", "chisq": "Chi-square",
               "gsq": "G-square", "fisherz": "Fisher-z", "mixed": "Mixed LRT", "lowrank": "Low-rank KCI"}
#: colour scale cap: q-values below 10**-CAP share the darkest colour
CAP = 6.0


def _fmt_q(q: float) -> str:
    if q < 1e-3:
        return f"{q:.0e}" if q >= 1e-99 else "<1e-99"
    if q >= 0.995:
        return "1"
    return f"{q:.2g}".lstrip("0") if q < 0.1 else f"{q:.2f}".lstrip("0")


def _n_label(n: pd.DataFrame | None) -> str:
    if n is None:
        return ""
    v = pd.to_numeric(n.stack(), errors="coerce").dropna()
    if v.empty:
        return ""
    lo, hi = int(v.min()), int(v.max())
    return f"n = {hi:,}" if lo == hi else f"n = {lo:,}-{hi:,}"


def heatmap_figure(qvalues: pd.DataFrame, *, alpha: float = 0.05, title: str = "",
                   n: pd.DataFrame | None = None, reasons: pd.DataFrame | None = None,
                   value_label: str = "q") -> "Figure":
    """A heatmap figure of a traits x attributes matrix of q-values.

    Colour is ``-log10(q)`` (capped at 6); each cell shows its q-value; cells with q < alpha are
    outlined and starred; cells without a value are grey and read ``NA`` (not applicable or no
    p-value; ``reasons`` gives why, for the legend).

    Parameters
    ----------
    qvalues : rows traits, columns attributes
    alpha : significance level (marked on the colour bar)
    title : first line of the title; the range of ``n`` is appended when given
    n : matrix of sample sizes (same shape), for the title
    reasons : matrix of strings, non-empty where a cell has no value
    value_label : what the cells hold, ``q`` or ``p`` (for the colour bar)

    Returns
    -------
    matplotlib.figure.Figure (not attached to pyplot; save it or close it)
    """
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    q = qvalues.to_numpy(dtype=np.float64)
    rows, cols = [str(r) for r in qvalues.index], [str(c) for c in qvalues.columns]
    nr, nc = q.shape
    score = -np.log10(np.clip(q, 10.0 ** -CAP, 1.0))
    width = min(4.0 + 0.85 * nc + 0.07 * max((len(r) for r in rows), default=0), 40.0)
    height = min(2.6 + 0.5 * nr + 0.06 * max((len(c) for c in cols), default=0), 40.0)
    fig = Figure(figsize=(width, height), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    cmap = _cmap()
    norm = Normalize(vmin=0.0, vmax=CAP)
    masked = np.ma.masked_invalid(score)
    im = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    ax.set_facecolor("#d9d9d9")

    fontsize = 9 if max(nr, nc) <= 12 else 7
    for i in range(nr):
        for j in range(nc):
            v = q[i, j]
            if np.isnan(v):
                same = rows[i] == cols[j]
                ax.text(j, i, "" if same else "NA", ha="center", va="center", fontsize=fontsize - 1,
                        color="#666666")
                if not same:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//",
                                           edgecolor="#b0b0b0", linewidth=0))
                continue
            sig = v < alpha
            dark = norm(score[i, j]) > 0.55
            ax.text(j, i, _fmt_q(v) + ("*" if sig else ""), ha="center", va="center", fontsize=fontsize,
                    fontweight="bold" if sig else "normal", color="white" if dark else "black")
            if sig:
                ax.add_patch(Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False, edgecolor="#08306b",
                                       linewidth=2.2))

    ax.set_xticks(range(nc))
    ax.set_xticklabels(cols, rotation=40, ha="right", rotation_mode="anchor", fontsize=fontsize + 1)
    ax.set_yticks(range(nr))
    ax.set_yticklabels(rows, fontsize=fontsize + 1)
    ax.set_xticks(np.arange(-0.5, nc, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, nr, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("attribute")
    ax.set_ylabel("trait")

    cbar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cbar.set_label(f"-log10({value_label})  (capped at {CAP:g})")
    cbar.ax.axhline(-np.log10(alpha), color="#d62728", linewidth=2)
    cbar.ax.text(1.6, -np.log10(alpha), f"{value_label} = {alpha:g}", transform=cbar.ax.get_yaxis_transform(),
                 va="center", fontsize=7, color="#d62728")

    nlab = _n_label(n)
    full = title + (f"  ({nlab})" if nlab else "")
    note = f"* and blue outline: {value_label} < {alpha:g}"
    if reasons is not None:
        why = sorted({r for r in reasons.to_numpy().ravel() if isinstance(r, str) and r})
        if why:
            note += ";  NA: " + "; ".join(w.replace("not applicable: ", "") for w in why)[:160]
    ax.set_title(full, fontsize=11, pad=10)
    fig.text(0.01, 0.005, note, fontsize=7, color="#444444", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _cmap():
    import matplotlib

    return matplotlib.colormaps["YlOrRd"].with_extremes(bad="#d9d9d9")


def battery_title(test: str, llm: str, correction: str, alpha: float, dataset: str = "") -> str:
    """The standard title of a battery heatmap."""
    corr = {"fdr_bh": "FDR (BH)", "bonferroni": "Bonferroni", "none": "no correction"}.get(correction, correction)
    head = f"{dataset}: " if dataset else ""
    return f"{head}{TEST_LABELS.get(test, test)} - {llm} traits - {corr}, alpha {alpha:g}"


def save_battery_heatmap(path: str | Path, *, qvalues: pd.DataFrame, n: pd.DataFrame | None = None,
                         reasons: pd.DataFrame | None = None, test: str, llm: str, correction: str,
                         alpha: float, dataset: str = "") -> Path:
    """Draw and save (PNG) the heatmap of one test of a battery; returns the path."""
    from causaltraits.runs import atomic_path

    fig = heatmap_figure(qvalues, alpha=alpha, n=n, reasons=reasons,
                         title=battery_title(test, llm, correction, alpha, dataset),
                         value_label="p" if correction == "none" else "q")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
