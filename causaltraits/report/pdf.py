"""One PDF report from one or more run directories (matplotlib's PdfPages only: no LaTeX, no browser).

The report reads only the run directories (``manifest.json``, ``data_profile.json`` and the
files each analysis wrote), so it can be rebuilt at any time without the data. Sections:

1. title page (dataset, content hash, runs, package versions) and contents;
2. runs and their parameters;
3. data (rows, missing values, trait distributions per LLM, LLM agreement, insufficient
   information);
4. Level I (heatmaps and the dependent pairs with q-values) from ``independence`` runs;
5. discovery (graph, adjacencies with the CI tests that removed or kept them, scores vs the
   truth) from ``discover`` runs;
6. CRL (metrics, latent graph) from ``crl`` runs;
7. limitations and the dataset's licence terms.

A section with nothing to show is skipped, and the contents page says so. Long tables run over
several pages. The same run directories give the same PDF bytes: no creation date is written and
text uses the standard PDF fonts (Helvetica, Courier), which also keeps the text extractable
(:func:`extract_text`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from causaltraits.errors import OutputError, ParameterError
from causaltraits.report import figures as F

log = logging.getLogger(__name__)

REPORT_NAME = "report.pdf"
SECTIONS = ("Title", "Runs", "Data", "Level I", "Discovery", "CRL", "Limitations and licence")

_RC = {
    "pdf.use14corefonts": True,
    "pdf.compression": 6,
    "axes.unicode_minus": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["Helvetica", "Arial", "DejaVu Sans"],
    "font.monospace": ["Courier", "DejaVu Sans Mono"],
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "hatch.linewidth": 0.6,
}


# ---------------------------------------------------------------------- reading runs
@dataclass
class RunDir:
    """A run directory as the report sees it."""

    path: Path
    manifest: dict[str, Any]
    profile: dict[str, Any] | None = None
    kinds: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def command(self) -> str:
        return str(self.manifest.get("command") or "?")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ParameterError(f"{path}: {what} is not valid JSON (line {e.lineno}: {e.msg})") from None
    except OSError as e:
        raise ParameterError(f"{path}: cannot read {what} ({e.strerror})") from None


def _llm_folders(path: Path) -> list[Path]:
    subs = [d for d in sorted(path.iterdir()) if d.is_dir() and any(d.glob("qvalues_*.csv"))]
    return sorted(subs, key=lambda d: (d.name != "aggregate", d.name))


def read_run(path: str | Path) -> RunDir:
    """Validate a run directory and read its manifest and data profile.

    Raises :class:`~causaltraits.errors.ParameterError` (one line) when ``path`` is not a
    directory or has no readable ``manifest.json``.
    """
    p = Path(path)
    if not p.exists():
        raise ParameterError(f"run directory {p} does not exist")
    if not p.is_dir():
        raise ParameterError(f"{p} is not a run directory (it is a file)")
    mf = p / "manifest.json"
    if not mf.is_file():
        raise ParameterError(f"{p} is not a run directory: no manifest.json in it")
    manifest = _read_json(mf, "manifest.json")
    if not isinstance(manifest, dict):
        raise ParameterError(f"{mf}: expected a JSON object with keys command, dataset, parameters, ...")
    prof_path = p / "data_profile.json"
    profile = _read_json(prof_path, "data_profile.json") if prof_path.is_file() else None
    kinds = []
    cmd = str(manifest.get("command") or "").lower()
    if _llm_folders(p) or "independence" in cmd:
        kinds.append("independence")
    if (p / "adjacencies.csv").is_file() or ("discover" in cmd and (p / "graph.json").is_file()):
        kinds.append("discover")
    if any((p / f).is_file() for f in ("metrics.json", "latent_graph.json", "learned_graph.json", "benchmark.json")) \
            or "crl" in cmd:
        kinds.append("crl")
    return RunDir(p, manifest, profile if isinstance(profile, dict) else None, kinds)


def _frame_rows(df: pd.DataFrame) -> list[list[Any]]:
    rows = []
    for rec in df.itertuples(index=False, name=None):
        rows.append([None if (isinstance(v, float) and np.isnan(v)) else v for v in rec])
    return rows


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        out = []
        for k in sorted(d, key=str):
            out += _flatten(d[k], f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(d, list) and d and all(isinstance(x, dict) for x in d):
        out = []
        for i, x in enumerate(d):
            out += _flatten(x, f"{prefix}[{i}]")
        return out
    if isinstance(d, list):
        return [(prefix, ", ".join(str(x) for x in d))]
    return [(prefix, d)]


def _short(v: Any, n: int = 200) -> Any:
    if isinstance(v, str) and len(v) > n:
        return v[: n - 3] + "..."
    return v


# ---------------------------------------------------------------------- section builders
@dataclass
class Section:
    """One section of the report: its page figures, each page's title, or why it was skipped."""

    name: str
    pages: list = field(default_factory=list)
    skipped: str | None = None
    titles: list[str] = field(default_factory=list)

    def add(self, figs: Iterable[Any], title: str) -> None:
        figs = list(figs)
        self.pages += figs
        self.titles += [title] * len(figs)


def _dataset_info(runs: Sequence[RunDir]) -> dict[str, Any]:
    ds = dict(runs[0].manifest.get("dataset") or {})
    prof = next((r.profile for r in runs if r.profile), None)
    if prof:
        ds.setdefault("name", prof.get("name"))
        ds.setdefault("rows", prof.get("rows"))
        ds.setdefault("content_hash", prof.get("content_hash"))
        ds.setdefault("source", prof.get("source"))
    return ds


def _title_section(runs: Sequence[RunDir], ds: dict[str, Any]) -> Section:
    sec = Section("Title")
    blocks: list[tuple[str, str]] = [
        ("h", "Dataset"),
        ("l", f"Name: {ds.get('name') or '?'}    Rows: {ds.get('rows') if ds.get('rows') is not None else '?'}"),
        ("l", f"Source: {ds.get('source') or '?'}"),
        ("m", f"Content hash (sha256): {ds.get('content_hash') or '?'}"),
    ]
    hashes = {(r.manifest.get("dataset") or {}).get("content_hash") for r in runs}
    hashes.discard(None)
    if len(hashes) > 1:
        blocks.append(("b", "WARNING: the runs were made on different data (content hashes differ): "
                            + ", ".join(f"{r.label}: {str((r.manifest.get('dataset') or {}).get('content_hash'))[:12]}"
                                        for r in runs)))
    blocks.append(("h", "Runs in this report"))
    for r in runs:
        m = r.manifest
        total = sum(v for v in (m.get("timings_s") or {}).values() if isinstance(v, (int, float)))
        blocks.append(("b", f"{r.label}: command '{r.command}', date {m.get('date_utc') or '?'} (UTC), "
                            f"seed {m.get('seed')}, {total:.1f} s; contains "
                            f"{', '.join(r.kinds) or 'no analysis outputs'}"))
        short = [f"{k} {'none' if v is None else F.format_cell(v) if not isinstance(v, list) else ','.join(map(str, v))}"
                 for k, v in (m.get("parameters") or {}).items()
                 if not isinstance(v, dict) and (not isinstance(v, list) or len(v) <= 6)]
        if short:
            blocks.append(("i", _short("parameters: " + "; ".join(short), 400)))
        argv = m.get("argv")
        if argv:
            blocks.append(("m", "    causaltraits " + " ".join(str(a) for a in argv)))
    versions = runs[0].manifest.get("versions") or {}
    if versions:
        blocks.append(("h", "Package versions"))
        items = [f"{k} {v}" for k, v in versions.items()]
        for i in range(0, len(items), 3):
            blocks.append(("m", "   ".join(f"{x:<30}" for x in items[i:i + 3]).rstrip()))
        differing = [r.label for r in runs[1:] if (r.manifest.get("versions") or {}) != versions]
        if differing:
            blocks.append(("b", "Runs made with other package versions: " + ", ".join(differing)
                                + " (see the runs section)."))
    sec.add(F.text_pages("causaltraits report", blocks,
                         subtitle=f"{ds.get('name') or 'dataset'} - {len(runs)} run(s)"), "causaltraits report")
    return sec


def _runs_section(runs: Sequence[RunDir]) -> Section:
    sec = Section("Runs")
    rows = []
    for r in runs:
        m = r.manifest
        rows.append([r.label, "seed", m.get("seed")])
        for k, v in _flatten(m.get("parameters") or {}):
            rows.append([r.label, f"parameters.{k}", _short(v)])
        for k, v in _flatten(m.get("timings_s") or {}):
            rows.append([r.label, f"timing (s): {k}", v])
        base = runs[0].manifest.get("versions") or {}
        if r is not runs[0]:
            for k, v in (m.get("versions") or {}).items():
                if base.get(k) != v:
                    rows.append([r.label, f"version {k}", v])
    rows = [[a, b, "none" if c is None else str(F.format_cell(c))] for a, b, c in rows]
    sec.add(F.table_pages("Runs: parameters, seed and timings", ["run", "setting", "value"], rows,
                          max_col_chars=70), "Runs: parameters, seed and timings")
    return sec


def _pct(x: Any) -> Any:
    return None if x is None else round(100.0 * float(x), 1)


_ROLE_NAMES = {"traits": "trait (aggregate)", "llm_traits": "LLM trait", "bio_continuous": "biography, continuous",
               "bio_categorical": "biography, categorical", "face": "face attribute", "embeddings": "embedding",
               "other_continuous": "continuous", "other_categorical": "categorical"}


def _data_section(runs: Sequence[RunDir]) -> Section:
    sec = Section("Data")
    with_profile = [r for r in runs if r.profile]
    if not with_profile:
        sec.skipped = "no run directory has a data_profile.json"
        return sec
    prof = with_profile[0].profile
    src = f"from {with_profile[0].label}/data_profile.json"
    roles = prof.get("roles") or {}
    role_of: dict[str, str] = {}
    for role, cols in roles.items():
        if isinstance(cols, dict):
            for llm, cc in cols.items():
                for c in cc:
                    role_of.setdefault(c, f"{_ROLE_NAMES.get(role, role)} ({llm})")
        else:
            for c in cols:
                role_of.setdefault(c, _ROLE_NAMES.get(role, role.replace("_", " ")))
    summaries = prof.get("summaries") or {}
    rows = []
    miss = prof.get("missing_share") or {}
    order = [c for c in (prof.get("column_order") or []) if c in miss]
    for c in order + [c for c in miss if c not in order]:
        share = miss[c]
        s = summaries.get(c) or {}
        rows.append([c, role_of.get(c, ""), _pct(share), s.get("n"), s.get("unique"), s.get("mean"),
                     s.get("sd"), s.get("min"), s.get("median"), s.get("max")])
    for mod, e in (prof.get("embeddings") or {}).items():
        rows.append([f"{mod} embedding ({e.get('dims')} dims)", "embedding (summarised)",
                     _pct(e.get("rows_missing_share")), None, None, None, None, None, None, None])
    sec.add(F.table_pages("Data: columns and missing values",
                          ["column", "role", "missing %", "n", "unique", "mean", "sd", "min", "median", "max"],
                          rows, subtitle=f"{prof.get('rows')} rows, {prof.get('columns', len(rows))} columns; {src}",
                          note="missing % counts rows without a value; an LLM's 'insufficient information' "
                               "answer (score 0 in the released tables) is a missing value, never a low score."),
            "Data: columns and missing values")
    if prof.get("missing_share"):
        sec.add([F.missingness_figure(prof)], "Data: missing values per column")
    cats = prof.get("categories") or {}
    if cats:
        crow = [[c, k, v] for c, counts in cats.items() for k, v in counts.items()]
        sec.add(F.table_pages("Data: categorical columns", ["column", "category", "rows"], crow),
                "Data: categorical columns")
    dist = prof.get("trait_distribution") or {}
    if dist:
        sec.add([F.trait_distribution_figure(prof)], "Data: trait distributions per LLM")
        values: list[str] = []
        for rater in dist.values():
            for counts in rater.values():
                values += [k for k in counts if k != "missing" and k not in values]
        values = sorted(values, key=float)
        trow = []
        for rater in F.rater_order(prof):
            per = dist[rater]
            for t in F.ordered(per, prof.get("trait_order")):
                counts = per[t]
                n = sum(counts.values())
                trow.append([rater, t, *[counts.get(v, 0) for v in values], counts.get("missing", 0), n])
        sec.add(F.table_pages("Data: trait score counts", ["rater", "trait", *[f"score {v}" for v in values],
                                                           "missing", "rows"], trow),
                "Data: trait score counts")
    else:
        sec.add(F.text_pages("Data: traits", [("p", "The dataset has no trait columns (a generic table): "
                                                    "no trait distributions or LLM agreement.")]), "Data: traits")
    ag = prof.get("agreement")
    if ag and ag.get("traits"):
        sec.add([F.agreement_figure(prof)], "Data: agreement between LLMs per trait")
        pairs = list(ag.get("pairs") or [])
        arow = []
        for t in F.ordered(ag["traits"], prof.get("trait_order")):
            a = ag["traits"][t]
            arow.append([t, *[a["kappa"].get(p) for p in pairs], a.get("alpha"), a.get("n_units")])
        sec.add(F.table_pages(
            "Data: LLM agreement table",
            ["trait", *[f"kappa {p.replace('~', '-')}" for p in pairs], f"alpha ({ag.get('alpha_level')})", "units"],
            arow,
            note=f"kappa: Cohen's weighted kappa with {ag.get('kappa_weights')} weights on the persons both LLMs "
                 f"scored. alpha: Krippendorff's alpha, {ag.get('alpha_level')} metric, over all LLMs with missing "
                 "ratings allowed ('units' = persons with at least two ratings). 1 is perfect agreement, 0 is "
                 "chance level; empty = undefined (no variation)."), "Data: LLM agreement table")
    ins = prof.get("insufficient_share") or {}
    if ins:
        llms = F.ordered(ins, prof.get("rater_order"))
        traits = F.ordered(dict.fromkeys(t for per in ins.values() for t in per), prof.get("trait_order"))
        irow = [[t, *[_pct(ins[l].get(t)) for l in llms]] for t in traits]
        sec.add(F.table_pages("Data: insufficient-information answers", ["trait", *[f"{l} %" for l in llms]], irow,
                              note="Share of persons (%) for whom the LLM answered 'insufficient information' "
                                   "(or gave no score): these are missing values in every analysis."),
                "Data: insufficient-information answers")
    return sec


def _reasons_from_citests(folder: Path, test: str, q: pd.DataFrame) -> pd.DataFrame | None:
    path = folder / "citests.csv"
    if not path.is_file():
        return None
    try:
        c = pd.read_csv(path)
    except Exception:  # noqa: BLE001 - a damaged optional file only loses the legend
        return None
    if not {"test", "trait", "attribute", "reason"} <= set(c.columns):
        return None
    sub = c[c["test"] == test]
    if sub.empty:
        return None
    m = sub.pivot_table(index="trait", columns="attribute", values="reason", aggfunc="first")
    return m.reindex(index=q.index, columns=q.columns).astype(object).fillna("").astype(str)


def _tests_of(folder: Path, params: dict[str, Any]) -> list[str]:
    found = sorted(p.stem[len("qvalues_"):] for p in folder.glob("qvalues_*.csv"))
    order = [t for t in (params.get("tests") or []) if t in found]
    return order + [t for t in found if t not in order]


def _heatmap_pages(run: RunDir, folder: Path, test: str, alpha: float, correction: str) -> list:
    llm = folder.name
    title = f"Level I: {test} - {llm} traits"
    sub = f"{run.label}; {correction} correction; significance level {alpha:g}"
    q = pd.read_csv(folder / f"qvalues_{test}.csv", index_col=0)
    nfile = folder / f"n_{test}.csv"
    n = pd.read_csv(nfile, index_col=0) if nfile.is_file() else None
    try:
        from causaltraits.report import heatmaps
    except ImportError:
        heatmaps = None
    # wide batteries are split over pages so that cell text keeps its size when printed
    per_page = 10
    chunks = [list(q.columns[i:i + per_page]) for i in range(0, q.shape[1], per_page)] or [list(q.columns)]
    figs = []
    if heatmaps is not None and hasattr(heatmaps, "heatmap_figure"):
        reasons = _reasons_from_citests(folder, test, q)
        for k, cols in enumerate(chunks):
            part = f" ({k + 1}/{len(chunks)})" if len(chunks) > 1 else ""
            fig = heatmaps.heatmap_figure(q[cols], alpha=alpha, n=None if n is None else n.reindex(columns=cols),
                                          reasons=None if reasons is None else reasons[cols],
                                          title=f"{test.upper()} - {llm} traits",
                                          value_label="p" if correction == "none" else "q")
            figs.append(F.fit_figure(fig, title + part, sub, landscape=True))
        return figs
    png = folder / f"heatmap_{test}.png"
    if png.is_file():
        return [F.image_page(title, png, sub)]
    return []


def _level1_section(runs: Sequence[RunDir]) -> Section:
    sec = Section("Level I")
    ind = [r for r in runs if "independence" in r.kinds]
    if not ind:
        sec.skipped = "no independence run among the given directories"
        return sec
    for run in ind:
        params = run.manifest.get("parameters") or {}
        alpha = float(params.get("alpha", 0.05) or 0.05)
        correction = str(params.get("correction", "fdr_bh"))
        folders = _llm_folders(run.path)
        if not folders:
            sec.add(F.text_pages(f"Level I: {run.label}", [("p", "This independence run has no per-LLM result "
                                                                 "folders (qvalues_<test>.csv); nothing to show.")]),
                    f"Level I: {run.label}")
            continue
        counts = []
        for folder in folders:
            for test in _tests_of(folder, params):
                q = pd.read_csv(folder / f"qvalues_{test}.csv", index_col=0).to_numpy(dtype=float)
                counts.append([folder.name, test, int(np.sum(q < alpha)), int(np.sum(~np.isnan(q))), q.size])
        sec.add(F.table_pages(f"Level I: dependent pairs per test ({run.label})",
                              ["traits of", "test", f"dependent (q < {alpha:g})", "tested", "cells"], counts,
                              note=f"Each trait against each attribute, unconditional tests, {correction} "
                                   f"multiple-testing correction over each test's matrix. 'tested' excludes "
                                   f"cells where a test does not apply or returned no p-value."),
                f"Level I: dependent pairs per test ({run.label})")
        for folder in folders:
            for test in _tests_of(folder, params):
                figs = _heatmap_pages(run, folder, test, alpha, correction)
                sec.add(figs, f"Level I: {test} - {folder.name} traits")
            summ = folder / "summary.csv"
            if summ.is_file():
                df = pd.read_csv(summ)
                title = f"Level I: dependent pairs - {folder.name} traits"
                sec.add(F.table_pages(title, list(df.columns), _frame_rows(df),
                                      subtitle=f"{run.label}; pairs with q < {alpha:g} in at least one test",
                                      note="n_tests: tests finding the pair dependent; n_applicable: tests with a "
                                           "p-value for the pair; min_qvalue: the smallest corrected p-value."),
                        title)
    return sec


def _truth_style(graph: dict[str, Any], truth: dict[str, Any] | None) -> dict[frozenset, str] | None:
    if truth is None:
        return None
    true_adj = {frozenset((e["source"], e["target"])) for e in truth.get("edges", [])}
    return {frozenset((e["source"], e["target"])): "dashed" for e in graph.get("edges", [])
            if frozenset((e["source"], e["target"])) not in true_adj}


def _missed(graph: dict[str, Any], truth: dict[str, Any] | None) -> list[tuple[str, str]]:
    if truth is None:
        return []
    found = {frozenset((e["source"], e["target"])) for e in graph.get("edges", [])}
    return [(e["source"], e["target"]) for e in truth.get("edges", [])
            if frozenset((e["source"], e["target"])) not in found]


_SCORE_ORDER = ("adj_precision", "adj_recall", "adj_f1", "arrow_precision", "arrow_recall", "arrow_f1", "shd")


_ADJ_ORDER = ("x", "y", "source", "target", "adjacent", "edge", "type", "edge_type", "removed_by", "sepset",
              "conditioning_set", "pvalue", "max_pvalue", "tests", "n_tests", "reason")


def _discovery_section(runs: Sequence[RunDir]) -> Section:
    sec = Section("Discovery")
    disc = [r for r in runs if "discover" in r.kinds]
    if not disc:
        sec.skipped = "no discover run among the given directories"
        return sec
    for run in disc:
        p = run.path
        params = run.manifest.get("parameters") or {}
        desc = ", ".join(f"{k} {v}" for k, v in params.items() if k in ("algorithm", "test", "alpha", "llm")
                         and not isinstance(v, (dict, list)))
        graph = _read_json(p / "graph.json", "graph.json") if (p / "graph.json").is_file() else None
        truth = _read_json(p / "truth.json", "truth.json") if (p / "truth.json").is_file() else None
        n_tests = None
        if (p / "citests.csv").is_file():
            with open(p / "citests.csv", encoding="utf-8") as fh:
                n_tests = max(sum(1 for _ in fh) - 1, 0)
        sub = f"{run.label}" + (f"; {desc}" if desc else "") + (f"; {n_tests} CI tests" if n_tests is not None else "")
        if graph is not None:
            title = "Discovery: estimated graph"
            note = ("Dashed edges are adjacencies absent from the true graph; dotted grey lines are true "
                    "adjacencies the search did not find." if truth is not None else None)
            if (p / "graph.png").is_file():
                # the run's own drawing (tiered layout); the comparison with the truth is drawn here
                sec.add([F.image_page(title, p / "graph.png", sub)], title)
                if truth is not None:
                    t2 = "Discovery: estimated graph against the truth"
                    sec.add([F.graph_figure(graph, t2, sub, highlight=_truth_style(graph, truth), note=note,
                                            missing=_missed(graph, truth))], t2)
            else:
                sec.add([F.graph_figure(graph, title, sub, highlight=_truth_style(graph, truth), note=note,
                                        missing=_missed(graph, truth))], title)
            if truth is not None:
                sec.add([F.graph_figure(truth, "Discovery: true graph", f"{run.label}; truth.json (known for "
                                                                        "demo data)")], "Discovery: true graph")
        adj = p / "adjacencies.csv"
        if adj.is_file():
            df = pd.read_csv(adj)
            cols = [c for c in _ADJ_ORDER if c in df.columns] + [c for c in df.columns if c not in _ADJ_ORDER]
            df = df[cols]
            title = "Discovery: adjacencies and the CI tests that decided them"
            sec.add(F.table_pages(title, list(df.columns), _frame_rows(df), subtitle=run.label, landscape=True,
                                  note="For each pair: whether it is adjacent in the output, its edge type, and the "
                                       "conditioning set and p-value of the test that removed the adjacency (or, "
                                       "when kept, the largest p-value seen), with the number of tests run on it."),
                    title)
        elif graph is not None:
            rows = [[e["source"], e["type"], e["target"]] for e in graph.get("edges", [])]
            sec.add(F.table_pages("Discovery: edges", ["source", "edge", "target"], rows, subtitle=run.label,
                                  note="adjacencies.csv is absent: the CI tests behind each edge are not shown."),
                    "Discovery: edges")
        scores = p / "scores.json"
        if scores.is_file():
            sc = _read_json(scores, "scores.json")
            flat = dict(_flatten(sc))
            rows = [[k, flat[k]] for k in F.ordered(flat, _SCORE_ORDER)]
            sec.add(F.table_pages("Discovery: scores against the true graph", ["score", "value"], rows,
                                  subtitle=run.label,
                                  note="Adjacency and arrowhead precision / recall / F1 of the estimated graph "
                                       "against truth.json, and the structural Hamming distance (SHD, lower is "
                                       "better)."), "Discovery: scores against the true graph")
        stab = p / "stability.csv"
        if stab.is_file():
            df = pd.read_csv(stab)
            sec.add(F.table_pages("Discovery: edge stability", list(df.columns), _frame_rows(df), subtitle=run.label),
                    "Discovery: edge stability")
    return sec


_CRL_GRAPHS = (
    ("graph.json", "CRL: PC graph over the learned latents"),
    ("learned_graph.json", "CRL: latent graph learned by the model"),
    ("latent_graph.json", "CRL: graph among the latents"),
    ("graph_true_latents.json", "CRL: PC graph over the true latents"),
)


def _benchmark_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    keys: list[str] = []
    for stats in summary.values():
        keys += [k for k in stats if k not in keys]
    cols = ["method"]
    for k in keys:
        cols += [f"{k} mean", f"{k} sd"] if any(isinstance(summary[m].get(k), dict) for m in summary) else [k]
    rows = []
    for m, stats in summary.items():
        row: list[Any] = [m]
        for k in keys:
            v = stats.get(k)
            if any(isinstance(summary[x].get(k), dict) for x in summary):
                row += [v.get("mean"), v.get("std")] if isinstance(v, dict) else [v, None]
            elif isinstance(v, list):  # per-latent values in one cell
                row.append(" / ".join(f"{x:.2f}" if isinstance(x, (int, float)) else str(x) for x in v))
            else:
                row.append(v)
        rows.append(row)
    return cols, rows


def _crl_section(runs: Sequence[RunDir]) -> Section:
    sec = Section("CRL")
    crl = [r for r in runs if "crl" in r.kinds]
    if not crl:
        sec.skipped = "no crl run among the given directories"
        return sec
    for run in crl:
        p = run.path
        n_before = len(sec.pages)
        bench = p / "benchmark.json"
        if bench.is_file():
            b = _read_json(bench, "benchmark.json")
            summary = b.get("summary") if isinstance(b, dict) else None
            if isinstance(summary, dict) and summary:
                cols, rows = _benchmark_rows(summary)
                sec.add(F.table_pages("CRL: benchmark (variant digits)", cols, rows, subtitle=run.label,
                                      landscape=True, note="Mean and standard deviation over seeds, each model "
                                      "scored on a held-out test split: MCC and R^2 compare the learned with the "
                                      "true latents; skeleton F1 and SHD compare the PC graph over the learned "
                                      "latents (Fisher-z test) with the true latent graph, skeleton_f1_gcm and "
                                      "shd_gcm the PC graph with the GCM test (spline regressions on the "
                                      "conditioning set); learned_skeleton_f1 and learned_shd (CRL only) "
                                      "compare the model's own latent graph with it."), "CRL: benchmark (variant digits)")
            seeds = b.get("true_latents") if isinstance(b, dict) else None
            if isinstance(seeds, list) and seeds and isinstance(b.get("runs"), list):
                from causaltraits.crl.benchmark import seed_graph_rows

                try:
                    cols, rows = seed_graph_rows(b["runs"], seeds)
                except (KeyError, TypeError, AttributeError, ValueError):  # a benchmark.json of another layout
                    rows = []
                if rows:
                    title = "CRL: benchmark, PC's skeleton per seed"
                    sec.add(F.table_pages(title, cols, rows, subtitle=run.label, landscape=True,
                                          note="PC (alpha 0.05) with Fisher-z / with GCM on the test rows: 'exact' "
                                          "is the true skeleton; otherwise the adjacencies PC adds to it and misses. "
                                          "The true latents' column shows what each test finds when nothing is "
                                          "estimated."), title)
        if (p / "metrics.json").is_file():
            m = _read_json(p / "metrics.json", "metrics.json")
            rows = [[k, _short(v)] for k, v in _flatten(m)]
            sec.add(F.table_pages("CRL: metrics", ["metric", "value"], rows, subtitle=run.label,
                                  note="MCC and R^2 compare the learned latents with the true ones where they are "
                                       "known (demo data), on the held-out test rows."), "CRL: metrics")
        if (p / "history.json").is_file():
            hist = _read_json(p / "history.json", "history.json")
            if isinstance(hist, list) and hist and isinstance(hist[0], dict):
                sec.add([F.history_figure(hist, "CRL: training history", run.label)], "CRL: training history")
        for name, title in _CRL_GRAPHS:
            if not (p / name).is_file():
                continue
            g = _read_json(p / name, name)
            if not (isinstance(g, dict) and "nodes" in g and "edges" in g):
                continue
            png = p / (name[:-5] + ".png")
            if png.is_file():
                sec.add([F.image_page(title, png, f"{run.label}; {name}")], title)
            else:
                sec.add([F.graph_figure(g, title, f"{run.label}; {name}")], title)
        if len(sec.pages) == n_before:
            sec.add(F.text_pages(f"CRL: {run.label}", [("p", "This CRL run has no metrics, benchmark or latent "
                                                                "graph files to show.")]), f"CRL: {run.label}")
    return sec


_GENERAL_LIMITATIONS = [
    "Independence and conditional-independence tests have assumptions (kernel tests: bandwidths and "
    "sample size; chi-square / G-square: enough counts per cell; Fisher-z: linear Gaussian). Trait scores "
    "take three values, so kernel tests see many ties.",
    "A dependence is an association, not a cause. Level I tests are unconditional; many dependences "
    "disappear once other attributes are conditioned on.",
    "Causal discovery assumes the causal Markov and faithfulness conditions; PC also assumes no hidden "
    "common causes (use FCI, whose circle marks say 'not determined', when that is doubtful). Edge "
    "orientations rest on few tests and are less reliable than adjacencies.",
    "Missing values are removed test by test, so different tests see different persons; if values are "
    "not missing at random the results can be biased.",
    "Multiple testing: q-values control the false discovery rate within each test's matrix, not across "
    "tests, LLMs or runs.",
]


def _limitations_section(runs: Sequence[RunDir], skipped: list[tuple[str, str]]) -> Section:
    sec = Section("Limitations and licence")
    prof = next((r.profile for r in runs if r.profile), None) or {}
    blocks: list[tuple[str, str]] = [("h", "Known biases of the data")]
    biases = prof.get("biases") or []
    if biases:
        blocks += [("b", b) for b in biases]
    else:
        blocks.append(("p", "No known biases are recorded for this dataset; that does not mean it has none."))
    blocks.append(("h", "Limitations of the analyses"))
    blocks += [("b", b) for b in _GENERAL_LIMITATIONS]
    if skipped:
        blocks.append(("h", "Sections not in this report"))
        blocks += [("b", f"{name}: skipped - {why}.") for name, why in skipped]
    blocks.append(("h", "Licence terms of the data"))
    lic = prof.get("licence")
    blocks.append(("p", lic if lic else "No licence is recorded for this dataset: check the terms under which "
                                        "you obtained it before sharing results."))
    sec.add(F.text_pages("Limitations and licence", blocks), "Limitations and licence")
    return sec


def _contents(sections: Sequence[Section], first_page: int, skipped: list[tuple[str, str]]) -> list:
    blocks: list[tuple[str, str]] = []
    page_no = first_page
    for s in sections:
        if not s.pages:
            continue
        seen = []
        for t in s.titles:
            page_no += 1
            if not seen or seen[-1][0] != t:
                seen.append((t, page_no))
        blocks.append(("h", s.name))
        for t, pno in seen:
            blocks.append(("m", f"   {F.clean_text(t)[:80]:<82} {pno:>4}"))
    if skipped:
        blocks.append(("h", "Skipped sections"))
        blocks += [("b", f"{name}: skipped - {why}.") for name, why in skipped]
    return F.text_pages("Contents", blocks)


# ---------------------------------------------------------------------- output
def _check_out(out: Path, overwrite: bool) -> None:
    if out.is_dir():
        raise OutputError(f"--out {out} is a directory; give a file name ending in .pdf")
    if out.suffix.lower() != ".pdf":
        raise ParameterError(f"--out {out}: the report file name must end in .pdf")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} exists; choose another --out or pass --force to overwrite it")


def build_report(run_dirs: str | Path | Sequence[str | Path], out: str | Path | None = None,
                 overwrite: bool = True) -> Path:
    """Build one PDF report from one or more run directories.

    Parameters
    ----------
    run_dirs : a run directory or a list of them (each with a ``manifest.json``)
    out : the PDF path; default ``<first run dir>/report.pdf``
    overwrite : replace an existing ``out`` (the command line asks for ``--force`` first)

    Returns
    -------
    Path of the PDF, written atomically (a failure leaves no partial file).

    Examples
    --------
    >>> build_report(["results/runs/athle-demo-20261125T180000Z"])   # doctest: +SKIP
    PosixPath('results/runs/athle-demo-20261125T180000Z/report.pdf')
    """
    from causaltraits.runs import atomic_path

    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    run_dirs = list(run_dirs)
    if not run_dirs:
        raise ParameterError("no run directory given")
    runs = [read_run(p) for p in run_dirs]
    out_path = Path(out) if out is not None else runs[0].path / REPORT_NAME
    _check_out(out_path, overwrite)

    from matplotlib.backends.backend_pdf import PdfPages

    with report_style():
        pages, titles, ds = assemble_pages(runs)
        label = f"causaltraits report - {ds.get('name') or 'dataset'} - {str(ds.get('content_hash') or '')[:12]}"
        metadata = {
            "Title": F.clean_text(f"causaltraits report: {ds.get('name') or 'dataset'}"),
            "Author": "causaltraits",
            "Subject": F.clean_text("Sections: " + "; ".join(dict.fromkeys(titles)))[:4000],
            "Keywords": F.clean_text(f"content_hash={ds.get('content_hash') or ''}"),
            "Creator": f"causaltraits {_version()}",
            "CreationDate": None,
            "ModDate": None,
        }
        with atomic_path(out_path) as tmp:
            with PdfPages(tmp, metadata=metadata) as pdf:
                for i, fig in enumerate(pages, start=1):
                    F.footer(fig, label, f"page {i} of {len(pages)}")
                    pdf.savefig(fig)
                    fig.clear()
            _chmod_like_new_file(tmp)
    return out_path


def _chmod_like_new_file(path: Path) -> None:
    """Give a temporary file (created 0600) the permissions an ordinary new file would get."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


@contextlib.contextmanager
def report_style():
    """The matplotlib settings of report pages (standard PDF fonts, sizes); figures must be made inside."""
    import matplotlib

    fm_logger = logging.getLogger("matplotlib.font_manager")
    old_level = fm_logger.level
    fm_logger.setLevel(logging.ERROR)  # the standard-font lookup warns about weights it maps itself
    try:
        with matplotlib.rc_context(_RC):
            yield
    finally:
        fm_logger.setLevel(old_level)


def assemble_pages(runs: Sequence[RunDir]) -> tuple[list, list[str], dict[str, Any]]:
    """Every page of the report as a figure (without footers), with its title, and the dataset info.

    Call inside :func:`report_style`.
    """
    ds = _dataset_info(runs)
    body = [_runs_section(runs), _data_section(runs), _level1_section(runs), _discovery_section(runs),
            _crl_section(runs)]
    skipped = [(s.name, s.skipped) for s in body if s.skipped]
    body.append(_limitations_section(runs, skipped))
    title = _title_section(runs, ds)
    # the contents page count is needed before its page numbers: build once to count
    n_contents = len(_contents(body, 0, skipped))
    contents = _contents(body, len(title.pages) + n_contents, skipped)
    pages = [*title.pages, *contents, *(f for s in body for f in s.pages)]
    titles = [*title.titles, *(["Contents"] * len(contents)), *(t for s in body for t in s.titles)]
    return pages, titles, ds


def _version() -> str:
    try:
        from causaltraits import __version__

        return str(__version__)
    except Exception:  # pragma: no cover
        return "?"


# ---------------------------------------------------------------------- reading the PDF back
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_SHOW = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", re.S)
_ESC = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}


def _unescape(s: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i:i + 1]
        if c == b"\\" and i + 1 < len(s):
            nxt = s[i + 1:i + 2]
            if nxt in _ESC:
                out += _ESC[nxt]
                i += 2
                continue
            m = re.match(rb"[0-7]{1,3}", s[i + 1:i + 4])
            if m:
                out.append(int(m.group(0), 8) & 0xFF)
                i += 1 + len(m.group(0))
                continue
            i += 1
            continue
        out += c
        i += 1
    return bytes(out)


def extract_text(path: str | Path) -> list[str]:
    """The text strings of a report, page stream by page stream, without any PDF library.

    Works for PDFs written by :func:`build_report` (standard fonts, ``(text) Tj`` operators);
    returns one string per content stream with its text pieces joined by newlines.
    """
    data = Path(path).read_bytes()
    out = []
    for m in _STREAM.finditer(data):
        raw = m.group(1)
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)
        texts = [_unescape(t).decode("cp1252", "replace") for t in _SHOW.findall(raw)]
        if texts:
            out.append("\n".join(texts))
    return out


def count_pages(path: str | Path) -> int:
    """Number of pages of a PDF (counts its ``/Type /Page`` objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", Path(path).read_bytes()))


__all__ = ["build_report", "read_run", "assemble_pages", "report_style", "extract_text", "count_pages",
           "REPORT_NAME"]
