"""Write the example notebooks (``notebooks/*.ipynb``) from the cell sources below, with nbformat.

The notebooks are generated so that they can be reviewed as code: edit this file, then run
``python notebooks/build_notebooks.py`` and commit both. They are written without outputs.

Every notebook runs top to bottom on a fresh install through the public API, writes its run
directories under ``$CAUSALTRAITS_NOTEBOOK_RUNS`` (default: a new temporary directory; nothing
depends on the working directory), and reads ``CAUSALTRAITS_NOTEBOOK_FAST=1`` (set by the tests)
to shrink sizes where that keeps the analysis the same kind of analysis.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''\
import os
import tempfile
import warnings
from pathlib import Path

import pandas as pd
from IPython.display import Image, display

# progress bars fall back to text without ipywidgets; that is fine here
warnings.filterwarnings("ignore", message="IProgress not found")
# The tests set CAUSALTRAITS_NOTEBOOK_FAST=1 to shrink sizes; run dirs go to a temp dir by default.
FAST = os.environ.get("CAUSALTRAITS_NOTEBOOK_FAST", "") == "1"
RUNS = Path(os.environ.get("CAUSALTRAITS_NOTEBOOK_RUNS") or tempfile.mkdtemp(prefix="causaltraits-notebook-"))
RUNS.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 140)
print("fast mode:", FAST, "| run directories under", RUNS)'''


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))


# ---------------------------------------------------------------------------------------------
NB1 = [
    md("""
# Level I on `athle-demo`: which traits depend on which attributes?

**Level I** is the first, model-free question of the study: for every *trait* (Big Five scores an
LLM inferred from a biography) and every *attribute* (birth year, height, league, ...), is the
trait **statistically independent** of the attribute? Each cell of the traits x attributes matrix
is one unconditional independence test; within each test and each LLM the p-values are corrected
for multiple testing (Benjamini-Hochberg FDR by default), and a cell is called *dependent* when
its q-value is below alpha.

Several tests are run side by side because they see different kinds of dependence:

| test | what it detects | applies to |
|---|---|---|
| `fisherz` | linear (partial) correlation | all columns (treated as numbers) |
| `chisq`, `gsq` | any dependence between categories | discrete pairs only |
| `rcit` | non-linear dependence (random Fourier features of a kernel) | all |
| `lowrank` | non-linear dependence (low-rank kernel test, fast) | all |

`kci` and `hsic` (exact kernel tests) are also available (`tests=[..., "kci", "hsic"]`), but take
minutes on this table; they are left out here.

`athle-demo` is a bundled **synthetic** table shaped like AthlePersona (4,181 athletes, traits from
three LLMs `chatgpt`, `gemini`, `llama` plus their aggregate) generated from a known structural
causal model, so it runs offline. Its numbers say nothing about real athletes.
"""),
    code(SETUP),
    code('''
from causaltraits.data import load_dataset
from causaltraits.independence.battery import run_battery
from causaltraits.report import profile_dataset
from causaltraits.runs import base_manifest, open_run

ds = load_dataset("athle-demo")
print(ds)
print("LLMs:", ds.llms)
print("traits (aggregate):", ds.trait_columns("aggregate"))
print("attributes:", ds.attribute_columns())'''),
    md("""
## Run the battery for the aggregate and for every LLM

`llm="all"` tests the aggregated traits and each LLM's own trait scores against the same
attributes. The seed fixes the random features of `rcit` and `lowrank`: the same seed gives the
same p-values. The result is written to a run directory (matrices as CSV, one heatmap per test
and LLM, `summary.csv`, `citests.csv`) that `causaltraits report` can turn into a PDF.
"""),
    code('''
TESTS = ["fisherz", "chisq", "gsq", "rcit", "lowrank"]
battery = run_battery(ds, tests=TESTS, llm="all", correction="fdr_bh", alpha=0.05, seed=0)

with open_run(RUNS / "level1-athle-demo", ds.name, force=True) as run:
    battery.write(run.path)
    run.write_json("data_profile.json", profile_dataset(ds))
    run.write_json("manifest.json", base_manifest("independence", ds, battery.parameters(), 0))
level1_dir = run.path
print("run directory:", level1_dir)
print("seconds per test:", {k: round(v, 2) for k, v in battery.timings_s.items()})'''),
    md("""
## How many trait-attribute pairs are dependent?

Each entry is *dependent pairs / pairs with a p-value*. `chisq` and `gsq` only apply where both
variables are discrete (here: the categorical attribute `League` against the traits treated as
ordinal scores); the other cells are *not applicable* and carry no p-value.
"""),
    code('''
counts = battery.dependent_counts()
counts["dependent / tested"] = counts["dependent"].astype(str) + " / " + counts["tested"].astype(str)
counts.pivot(index="test", columns="llm", values="dependent / tested").loc[TESTS, battery.llms]'''),
    md("""
## Heatmaps of q-values (aggregate traits)

Colour is -log10(q); starred, outlined cells have q < alpha; grey `NA` cells have no p-value
(test not applicable to that pair). Read across a row to see which attributes a trait depends on.
"""),
    code('''
for test in ["fisherz", "rcit"]:
    display(Image(filename=str(level1_dir / "aggregate" / f"heatmap_{test}.png")))'''),
    md("""
## Summary table: dependent pairs of the aggregate traits

One row per (trait, attribute) pair found dependent by at least one test: how many tests agree,
which ones, and the smallest q-value. Pairs found by every applicable test are the robust ones;
pairs found only by a kernel test hint at a non-linear relation.
"""),
    code('''
summary = battery.summary("aggregate")
summary'''),
    md("""
## Do the LLMs agree?

Two views. First, how similar are the trait *scores* the three LLMs give the same person
(Krippendorff's alpha, ordinal, and quadratic-weighted Cohen's kappa per pair, from the data
profile). Second, do the LLMs lead to the same Level I *conclusions*: for each test, the share of
cells on which two LLMs make the same dependent / independent call, and the rank correlation of
their -log10 p-values.
"""),
    code('''
agreement = profile_dataset(ds)["agreement"]
rows = []
for trait, a in agreement["traits"].items():
    rows.append({"trait": trait, "krippendorff_alpha": a["alpha"], **{f"kappa {p}": k for p, k in a["kappa"].items()}})
pd.DataFrame(rows).set_index("trait").round(3)'''),
    code('''
import itertools

import numpy as np

cells = battery.cells.copy()
# per-LLM trait columns are named <llm>_<Trait>; compare LLMs on the bare trait name
cells["trait_name"] = [t.split("_", 1)[1] if llm != "aggregate" else t for llm, t in zip(cells["llm"], cells["trait"])]
rows = []
for test in TESTS:
    sub = cells[(cells["test"] == test) & cells["pvalue"].notna()]
    for a, b in itertools.combinations(ds.llms, 2):
        pa = sub[sub["llm"] == a].set_index(["trait_name", "attribute"])
        pb = sub[sub["llm"] == b].set_index(["trait_name", "attribute"])
        common = pa.index.intersection(pb.index)
        same = (pa.loc[common, "significant"] == pb.loc[common, "significant"]).mean()
        la = -np.log10(pa.loc[common, "pvalue"].clip(lower=1e-300))
        lb = -np.log10(pb.loc[common, "pvalue"].clip(lower=1e-300))
        rho = la.rank().corr(lb.rank()) if len(common) > 2 else np.nan
        rows.append({"test": test, "pair": f"{a} ~ {b}", "cells": len(common),
                     "same decision": round(float(same), 3), "spearman -log10 p": round(float(rho), 3)})
llm_agreement = pd.DataFrame(rows)
llm_agreement.pivot(index="test", columns="pair", values="same decision").loc[TESTS]'''),
    code('''
import matplotlib.pyplot as plt

# the rcit q-values of each LLM side by side, on the same colour scale
fig, axes = plt.subplots(1, len(ds.llms), figsize=(5 * len(ds.llms), 3.6), sharey=True)
for ax, llm in zip(axes, ds.llms):
    q = battery.matrix("qvalues", "rcit", llm)
    q.index = [t.split("_", 1)[1] for t in q.index]
    im = ax.imshow(-np.log10(q.clip(lower=1e-6).to_numpy(dtype=float)), vmin=0, vmax=6, cmap="viridis")
    ax.set_xticks(range(q.shape[1]), q.columns, rotation=60, ha="right")
    ax.set_yticks(range(q.shape[0]), q.index)
    for i, j in zip(*np.where(q.to_numpy(dtype=float) < battery.alpha)):
        ax.text(j, i, "*", ha="center", va="center", color="white")
    ax.set_title(f"rcit, {llm}")
fig.colorbar(im, ax=axes, label="-log10 q (capped at 6)", shrink=0.8)
plt.show()'''),
    md("""
**Reading the results.** In the demo model the traits depend on a few attributes (by
construction); the tests that agree on a pair give the most trustworthy calls, and differences
between LLMs show how much the conclusions depend on which LLM rated the biographies. On the
released AthlePersona table the same code runs with `load_dataset("athle")` (downloaded once).
"""),
]

# ---------------------------------------------------------------------------------------------
NB2 = [
    md("""
# Causal discovery on `athle-demo`: PC, FCI and a kernel test, scored against the truth

Level I finds *dependences*; **causal discovery** asks which of them are *direct* and in which
direction. The constraint-based algorithms here remove an edge X - Y when some set Z of other
variables makes X and Y conditionally independent, then orient edges from the pattern of these
separating sets:

- **PC** assumes no hidden common causes and returns a *pattern* (CPDAG): `-->` oriented,
  `---` direction not identifiable from the data.
- **FCI** allows hidden common causes and returns a *PAG*: `o->`, `o-o` mark circle ends that
  could be either tail or arrowhead, `<->` means a hidden common cause.

**Tier knowledge**: biography comes first in time, so traits and face attributes never cause
biographical attributes; edges against the tiers are forbidden.

The CI test is chosen from the column kinds (`test="auto"`: here `mixed`, which handles
continuous, ordinal and categorical columns together). `lowrank` is a fast non-linear kernel test.
`athle-demo` is synthetic with a **known true graph**, so each result is scored: adjacency and
arrowhead precision / recall / F1 and the structural Hamming distance (SHD; 0 = identical).
"""),
    code(SETUP),
    code('''
from causaltraits.data import load_dataset
from causaltraits.discovery import discover
from causaltraits.report import build_report, profile_dataset
from causaltraits.runs import base_manifest, open_run

ds = load_dataset("athle-demo")
variables = ds.analysis_variables("aggregate")
print(ds)
print("variables:", variables)
print("tiers (earlier tiers cannot be caused by later ones):")
for i, tier in enumerate(ds.tiers(variables)):
    print(f"  {i}: {tier}")'''),
    code('''
def save_run(res, name):
    """Write a discovery result as a run directory (the same files as `causaltraits discover`)."""
    with open_run(RUNS / name, ds.name, force=True) as run:
        res.save(run)
        run.write_json("data_profile.json", profile_dataset(ds))
        params = {"algorithm": res.algorithm, "test": res.test, "test_used": res.test, "alpha": res.alpha,
                  "llm": "aggregate", "variables": list(res.graph.nodes), "kinds": res.kinds}
        manifest = base_manifest("discover", ds, params, res.seed)
        manifest["results"] = {"edges": len(res.graph), "edge_types": res.edge_counts(),
                               "ci_tests": len(res.citests), "scores": res.scores}
        run.write_json("manifest.json", manifest)
    return run.path'''),
    md("""
## PC with tiers and the automatically chosen test
"""),
    code('''
pc = discover(ds, algorithm="pc", test="auto", alpha=0.05, seed=0)
print(pc.summary())
pc_dir = save_run(pc, "discover-pc-athle-demo")
display(Image(filename=str(pc_dir / "graph.png")))'''),
    md("""
Edges of the estimated graph next to the true graph. An edge in the truth but not found is a
*false negative* (a dependence the test could not detect at this sample size); a found edge
absent from the truth is a *false positive*. Arrowhead errors are wrong or unidentified directions.
"""),
    code('''
def edge_table(graph, truth):
    found = {frozenset((e.source, e.target)): f"{e.source} {e.type} {e.target}" for e in graph.edges}
    true = {frozenset((e.source, e.target)): f"{e.source} {e.type} {e.target}" for e in truth.edges}
    rows = [{"pair": " - ".join(sorted(k)), "estimated": found.get(k, ""), "true": true.get(k, "")}
            for k in sorted(set(found) | set(true), key=lambda k: sorted(k))]
    return pd.DataFrame(rows)

edge_table(pc.graph, pc.truth)'''),
    md("""
## FCI (allows hidden confounders)

The demo model has no hidden confounders, so FCI's extra freedom costs it orientations: many ends
stay circles (`o->`, `o-o`). Its adjacencies should match PC's.
"""),
    code('''
fci = discover(ds, algorithm="fci", test="auto", alpha=0.05, seed=0)
print(fci.summary())
fci_dir = save_run(fci, "discover-fci-athle-demo")
display(Image(filename=str(fci_dir / "graph.png")))'''),
    md("""
## PC with the fast kernel test `lowrank`

A kernel test makes no linearity assumption, at a cost in time and power. In fast mode (the
tests) the conditioning sets are limited to two variables to keep the run short; that limit can
leave extra edges that a larger conditioning set would remove.
"""),
    code('''
lowrank = discover(ds, algorithm="pc", test="lowrank", alpha=0.05, seed=0, max_depth=2 if FAST else None)
print(lowrank.summary())
lowrank_dir = save_run(lowrank, "discover-pc-lowrank-athle-demo")
display(Image(filename=str(lowrank_dir / "graph.png")))'''),
    md("""
## Scores against the demo truth

Adjacency scores judge the skeleton; arrowhead scores judge the orientations (an arrowhead counts
as correct only where the truth has one at the same end).
"""),
    code('''
scores = pd.DataFrame({"PC (auto)": pc.scores, "FCI (auto)": fci.scores, "PC (lowrank)": lowrank.scores}).T
scores[["adj_precision", "adj_recall", "adj_f1", "arrow_precision", "arrow_recall", "arrow_f1", "shd"]].round(3)'''),
    md("""
## The PDF report

`build_report` reads only the run directories (manifest, data profile, graphs, CI-test logs) and
assembles one PDF: data profile, discovery graphs with the truth overlaid, and the limitations.
The same is available as `causaltraits report DIR [DIR ...]`.
"""),
    code('''
from causaltraits.report.pdf import count_pages

pdf = build_report([pc_dir, fci_dir, lowrank_dir], out=RUNS / "discovery-athle-demo-report.pdf")
print(pdf, f"({count_pages(pdf)} pages, {Path(pdf).stat().st_size / 1e3:.0f} kB)")'''),
]

# ---------------------------------------------------------------------------------------------
NB3 = [
    md("""
# `celeb-demo`: traits, biography and face attributes

`celeb-demo` is a bundled **synthetic** table shaped like CelebPersona: LLM-inferred Big Five
traits, biographical attributes and binary **face attributes** (e.g. smiling, eyeglasses) derived
from photographs, generated from a known causal model. Here we

1. run the Level I battery, including the face attributes,
2. run PC with tier knowledge (biography first; traits and face attributes cannot cause it),
3. score the estimated graph against the known truth.
"""),
    code(SETUP),
    code('''
from causaltraits.data import load_dataset
from causaltraits.discovery import discover
from causaltraits.independence.battery import run_battery
from causaltraits.report import profile_dataset
from causaltraits.runs import base_manifest, open_run

ds = load_dataset("celeb-demo")
print(ds)
print("face attributes:", ds.roles.face)
print("biographical:", ds.roles.bio_continuous + ds.roles.bio_categorical)
print("kinds:", dict(zip(ds.attribute_columns(), ds.kinds(ds.attribute_columns()))))'''),
    md("""
## Level I battery (aggregate traits x all attributes, face attributes included)

`chisq` / `gsq` now apply to many more cells, because the face attributes are binary; `fisherz`
and the kernel tests apply everywhere. FDR correction is per test.
"""),
    code('''
TESTS = ["fisherz", "chisq", "gsq", "rcit"]
battery = run_battery(ds, tests=TESTS, llm="aggregate", alpha=0.05, seed=0)
with open_run(RUNS / "level1-celeb-demo", ds.name, force=True) as run:
    battery.write(run.path)
    run.write_json("data_profile.json", profile_dataset(ds))
    run.write_json("manifest.json", base_manifest("independence", ds, battery.parameters(), 0))
level1_dir = run.path
battery.dependent_counts()[["test", "dependent", "tested", "not_applicable", "seconds"]]'''),
    code('''
display(Image(filename=str(level1_dir / "aggregate" / "heatmap_rcit.png")))'''),
    md("""
Dependent pairs that involve a **face attribute** (by how many tests agree):
"""),
    code('''
summary = battery.summary("aggregate")
summary[summary["attribute"].isin(ds.roles.face)]'''),
    md("""
## Discovery: PC with tiers

24 variables make this search much larger than on `athle-demo`; in fast mode (the tests) the
conditioning sets are limited to two variables.
"""),
    code('''
res = discover(ds, algorithm="pc", test="auto", alpha=0.05, seed=0, max_depth=2 if FAST else None)
print(res.summary())
with open_run(RUNS / "discover-celeb-demo", ds.name, force=True) as run:
    res.save(run)
    run.write_json("data_profile.json", profile_dataset(ds))
    run.write_json("manifest.json", base_manifest("discover", ds, {"algorithm": "pc", "test": res.test}, 0))
discover_dir = run.path
display(Image(filename=str(discover_dir / "graph.png")))'''),
    md("""
## Scores against the truth, and which true edges touch face attributes
"""),
    code('''
pd.Series(res.scores).round(3).to_frame("PC (auto)")'''),
    code('''
face = set(ds.roles.face)
found = {frozenset((e.source, e.target)): f"{e.source} {e.type} {e.target}" for e in res.graph.edges}
rows = [{"true edge": f"{e.source} {e.type} {e.target}",
         "estimated": found.get(frozenset((e.source, e.target)), "(missing)")}
        for e in res.truth.edges if e.source in face or e.target in face]
pd.DataFrame(rows)'''),
]

# ---------------------------------------------------------------------------------------------
NB4 = [
    md("""
# CRL benchmark on variant digits (small)

**Causal representation learning (CRL)** learns *latent* causal variables from high-dimensional
measurements (here images; in PersonaX, face and text embeddings) and a graph among them. The
benchmark makes images whose appearance is driven by four latents with a known graph
`z11 -> z12`, `z11 -> z21`, `z21 -> z22`:

- modality 1: three noisy colour measurements of a digit shifted / rotated by `z11` and coloured by `z12`;
- modality 2: one grey digit (the same image in every row) scaled by `z21` and shifted by `z22`.

Each method is fitted on 80 % of the rows and scored on the held-out 20 %:

- **MCC** (mean correlation coefficient, Pearson and Spearman, after the best matching of learned
  to true latents): 1 = every latent recovered up to an invertible rescaling;
- **R^2** of a kernel ridge regression from learned to true latents;
- **skeleton F1 / SHD** of the PC graph over the learned latents against the true graph, with
  Fisher-z and (`_gcm`) with the GCM test, whose spline regressions on the conditioning set absorb
  the monotone map of each latent that no method can pin down.

The multimodal multi-measurement model (`crl`) is compared with an autoencoder, a beta-VAE and
the configuration of the published code. After training, `crl` refits each modality's latent
coordinates to its structural-model prior and to the independent-mechanism contrast of its
decoders (kept only if that improves the validation rows), then corrects each modality's cause by
what the other modality shares with it (`causaltraits.crl.content`), and puts back an effect that
it has replaced by its own noise where the images' local Jacobian says so
(`causaltraits.crl.effects`). This notebook uses a **small** size
(few rows, few epochs, one or two seeds) so it runs in a minute or two; the numbers are therefore
noisy and far from converged. The full benchmark is `causaltraits crl benchmark` (10,000 rows, up
to 150 epochs, 5 seeds; `results/benchmarks/crl_benchmark.md`).

A limit to keep in mind when reading MCC: an effect and its own noise (`z12` and
`z12 - f(z11)`) explain the images equally well, so no method can be *sure* to return `z12`
rather than a mix of it with `z11` (`results/benchmarks/crl_identifiability.md`). Only the way
the images change with each latent (`z11` turns and shifts the digit, `z12` its hue) can tell them
apart, and the effect restoration reads it from the data, not from the decoders.
"""),
    code(SETUP),
    code('''
import matplotlib.pyplot as plt
import numpy as np

from causaltraits.crl.digits import LATENT_NAMES, make_variant_digits

sample = make_variant_digits(8, seed=0)
fig, axes = plt.subplots(2, 8, figsize=(12, 3.2))
for i in range(8):
    axes[0, i].imshow(np.clip(sample.X[0][0][i].reshape(14, 14, 3), 0, 1))
    axes[1, i].imshow(sample.X[1][0][i].reshape(14, 14), cmap="gray")
    axes[0, i].set_title(" ".join(f"{v:+.1f}" for v in sample.latents[i]), fontsize=7)
for ax in axes.ravel():
    ax.axis("off")
fig.suptitle(f"top: modality 1 (first measurement), bottom: modality 2; titles: {', '.join(LATENT_NAMES)}", fontsize=9)
plt.show()'''),
    md("""
## Run the benchmark

`benchmark_run` is what `causaltraits crl benchmark` calls; it writes `benchmark.json`,
`benchmark.md` and `manifest.json` into the run directory.
"""),
    code('''
from causaltraits.crl.pipeline import benchmark_run
from causaltraits.runs import open_run

SEEDS = [0] if FAST else [0, 1]
ROWS = 800 if FAST else 2000
EPOCHS = 8 if FAST else 20
with open_run(RUNS / "crl-benchmark-small", "crl-benchmark", force=True) as run:
    bench = benchmark_run(run, SEEDS, ROWS, None, EPOCHS)
bench_dir = run.path
print("run directory:", bench_dir, "| rows", ROWS, "| epochs", EPOCHS, "| seeds", SEEDS)'''),
    md("""
## Metrics (held-out rows; mean and standard deviation over seeds)
"""),
    code('''
rows = []
for method, s in bench["summary"].items():
    rows.append({"method": method, **{k: s[k]["mean"] for k in ("mcc_pearson", "mcc_spearman", "r2", "skeleton_f1", "shd",
                                                                  "skeleton_f1_gcm", "shd_gcm")},
                 "fit seconds": s["fit_seconds"]["mean"], "seeds": s["n_seeds"]})
metrics = pd.DataFrame(rows).set_index("method")
metrics.round(3)'''),
    code('''
per_seed = pd.DataFrame([{"method": r["method"], "seed": r["seed"], "MCC": r["mcc_pearson"], "R^2": r["r2"]}
                         for r in bench["runs"]])
fig, ax = plt.subplots(figsize=(6, 3))
for i, (method, g) in enumerate(per_seed.groupby("method", sort=False)):
    ax.scatter(np.full(len(g), i), g["MCC"], color="C0", label="MCC (per seed)" if i == 0 else None)
    ax.scatter(np.full(len(g), i) + 0.15, g["R^2"], color="C1", marker="s", label="R^2 (per seed)" if i == 0 else None)
ax.set_xticks(range(per_seed["method"].nunique()), per_seed["method"].unique())
ax.set_ylabel("held-out score")
ax.axhline(0, color="grey", linewidth=0.5)
ax.legend(fontsize=8)
plt.show()'''),
    md("""
**Reading the table.** Higher MCC and R^2 mean the learned latents track the true ones; lower SHD
means the graph learned over them is closer to the truth. At this small size differences between
methods are indicative only; `benchmark.md` in the run directory holds the same table.
"""),
    code('''
print((bench_dir / "benchmark.md").read_text())'''),
]

NOTEBOOKS = {
    "01_level1_athle_demo.ipynb": NB1,
    "02_discovery_athle_demo.ipynb": NB2,
    "03_celeb_demo.ipynb": NB3,
    "04_crl_benchmark_small.ipynb": NB4,
}


def build(out_dir: Path = HERE) -> list[Path]:
    """Write every notebook into ``out_dir``; returns the paths."""
    written = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        # stable cell ids, so rebuilding without changes gives the same files
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"
        nbformat.validate(nb)
        path = out_dir / name
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(p)
