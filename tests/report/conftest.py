"""Synthetic datasets and run directories for the report tests (no other analysis code needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causaltraits.data.dataset import TRAITS, Dataset, Roles
from causaltraits.runs import write_json

LLMS = ("chatgpt", "gemini", "llama")
ATTRS = ["Birthyear", "Height", "Weight", "League"]


def make_dataset(n: int = 300, seed: int = 0, name: str = "athle-demo") -> Dataset:
    """A PersonaX-like dataset: three LLMs scoring five traits 1..3 with missing answers."""
    rng = np.random.default_rng(seed)
    frame = {
        "Birthyear": rng.integers(1960, 2005, n).astype(float),
        "Height": rng.normal(185, 8, n),
        "Weight": rng.normal(85, 10, n),
        "League": rng.integers(0, 3, n).astype(float),
    }
    frame["Height"][rng.random(n) < 0.1] = np.nan
    latent = rng.normal(size=(n, 5))
    per_llm = {}
    for k, llm in enumerate(LLMS):
        for j, t in enumerate(TRAITS):
            score = latent[:, j] + rng.normal(scale=0.6 + 0.2 * k, size=n)
            v = np.digitize(score, [-0.5, 0.5]) + 1.0
            v[rng.random(n) < 0.05 * (k + 1)] = np.nan  # "insufficient information"
            per_llm[f"{llm}_{t}"] = v
    for t in TRAITS:
        stack = pd.DataFrame({llm: per_llm[f"{llm}_{t}"] for llm in LLMS})
        frame[t] = stack.median(axis=1, skipna=True).to_numpy()  # NaN when no LLM answered
    frame.update(per_llm)
    for i in range(4):
        frame[f"face_emb_{i}"] = rng.normal(size=n)
    df = pd.DataFrame(frame)
    roles = Roles(traits=list(TRAITS), llm_traits={llm: [f"{llm}_{t}" for t in TRAITS] for llm in LLMS},
                  bio_continuous=["Birthyear", "Height", "Weight"], bio_categorical=["League"],
                  embeddings={"face": [f"face_emb_{i}" for i in range(4)]})
    return Dataset(name=name, frame=df, roles=roles, llms=list(LLMS), codes={"League": ["NBA", "NFL", "PGA"]},
                   source=f"generated:{seed}")


def _manifest(command: str, ds: Dataset, params: dict, seed: int = 0) -> dict:
    return {"command": command, "argv": [command, "--dataset", ds.name], "date_utc": "2026-11-25T18:00:00+00:00",
            "versions": {"causaltraits": "0.1.0", "numpy": "2.0", "matplotlib": "3.11"},
            "dataset": {"name": ds.name, "source": ds.source, "content_hash": ds.content_hash, "rows": ds.n},
            "parameters": params, "seed": seed, "timings_s": {"total": 1.5}}


def write_independence_run(path: Path, ds: Dataset, tests=("fisherz", "chisq"), heatmap_png: bool = False) -> Path:
    """A run directory in the layout ``causaltraits independence`` writes."""
    from causaltraits.report.profile import profile_dataset

    path.mkdir(parents=True)
    rng = np.random.default_rng(1)
    write_json(path / "manifest.json", _manifest("independence", ds, {"tests": list(tests), "alpha": 0.05,
                                                                        "correction": "fdr_bh",
                                                                        "llms": ["aggregate", "chatgpt"]}))
    write_json(path / "data_profile.json", profile_dataset(ds))
    for llm in ("aggregate", "chatgpt"):
        d = path / llm
        d.mkdir()
        rows = list(TRAITS) if llm == "aggregate" else [f"{llm}_{t}" for t in TRAITS]
        summary = []
        for test in tests:
            q = pd.DataFrame(rng.uniform(0, 1, (5, len(ATTRS))) ** 3, index=pd.Index(rows, name="trait"),
                             columns=ATTRS)
            q.iloc[0, 0] = 1e-8
            q.iloc[2, 1] = np.nan
            q.to_csv(d / f"qvalues_{test}.csv")
            (q * 0.5).to_csv(d / f"pvalues_{test}.csv")
            pd.DataFrame(280, index=q.index, columns=ATTRS).to_csv(d / f"n_{test}.csv")
            for t in rows:
                for a in ATTRS:
                    if q.loc[t, a] < 0.05:
                        summary.append({"trait": t, "attribute": a, "test": test, "q": q.loc[t, a]})
            if heatmap_png:
                from matplotlib.figure import Figure

                fig = Figure(figsize=(4, 3))
                fig.add_subplot().imshow(q.to_numpy())
                fig.savefig(d / f"heatmap_{test}.png")
        s = pd.DataFrame(summary)
        out = (s.groupby(["trait", "attribute"]).agg(n_tests=("test", "size"), tests=("test", ",".join),
                                                    min_qvalue=("q", "min")).reset_index()
               if len(s) else pd.DataFrame(columns=["trait", "attribute", "n_tests", "tests", "min_qvalue"]))
        out.to_csv(d / "summary.csv", index=False)
    return path


def write_discover_run(path: Path, ds: Dataset, n_adj_rows: int = 10, truth: bool = True) -> Path:
    """A run directory in the layout ``causaltraits discover`` writes."""
    from causaltraits.report.profile import profile_dataset

    path.mkdir(parents=True)
    nodes = ["Birthyear", "Height", "Weight", "League", *TRAITS]
    edges = [{"source": "Birthyear", "target": "Openness", "type": "-->"},
             {"source": "League", "target": "Weight", "type": "---"},
             {"source": "Height", "target": "Weight", "type": "<->"},
             {"source": "Extraversion", "target": "Agreeableness", "type": "o->"},
             {"source": "Neuroticism", "target": "Openness", "type": "o-o"}]
    (path / "graph.json").write_text(json.dumps({"nodes": nodes, "edges": edges}))
    if truth:
        (path / "truth.json").write_text(json.dumps({"nodes": nodes, "edges": edges[:3]}))
        write_json(path / "scores.json", {"adj_precision": 0.6, "adj_recall": 1.0, "adj_f1": 0.75,
                                          "arrow_precision": 0.5, "arrow_recall": 0.5, "arrow_f1": 0.5, "shd": 3})
    write_json(path / "manifest.json", _manifest("discover", ds, {"algorithm": "pc", "test": "fisherz",
                                                                    "alpha": 0.05}, seed=7))
    write_json(path / "data_profile.json", profile_dataset(ds))
    rows = []
    for i in range(n_adj_rows):
        a, b = nodes[i % len(nodes)], nodes[(i + 1 + i // len(nodes)) % len(nodes)]
        rows.append({"x": a, "y": b, "adjacent": i % 3 == 0, "edge_type": "-->" if i % 3 == 0 else "",
                     "sepset": "" if i % 3 == 0 else ", ".join(nodes[: 1 + i % 4]),
                     "pvalue": 0.5 / (i + 1), "n_tests": i + 2})
    pd.DataFrame(rows).to_csv(path / "adjacencies.csv", index=False)
    pd.DataFrame({"x": ["Height"] * 3, "y": ["Weight"] * 3, "z": ["", "League", "League,Birthyear"],
                  "statistic": [3.0, 2.0, 1.0], "pvalue": [0.001, 0.04, 0.3], "n": [270] * 3}).to_csv(
        path / "citests.csv", index=False)
    return path


def _benchmark_graphs() -> dict:
    """``runs`` and ``true_latents`` of a two-seed benchmark.json: PC graphs over the variant-digits
    latents, exact but for the autoencoder on seed 1 (an extra z12 - z22 with Fisher-z)."""
    def graph(*extra):
        pairs = [("z11", "z12"), ("z11", "z21"), ("z21", "z22"), *extra]
        return {"nodes": ["z11", "z12", "z21", "z22"], "edges": [{"source": a, "target": b, "type": "---"}
                                                                 for a, b in pairs]}

    runs = [{"method": m, "seed": s, "pc_graph": graph(*([("z12", "z22")] if (m, s) == ("autoencoder", 1) else [])),
             "pc_graph_gcm": graph()} for s in (0, 1) for m in ("crl", "autoencoder")]
    return {"runs": runs, "true_latents": [{"seed": s, "pc_graph": graph(), "pc_graph_gcm": graph()} for s in (0, 1)]}


def write_crl_run(path: Path, ds: Dataset, benchmark: bool = False) -> Path:
    """A run directory in the layout ``causaltraits crl fit`` (or ``crl benchmark``) writes."""
    path.mkdir(parents=True)
    if benchmark:
        write_json(path / "manifest.json", _manifest("crl benchmark", ds, {"seeds": [0, 1]}))
        write_json(path / "benchmark.json", {"summary": {
            "crl": {"mcc_pearson": {"mean": 0.91, "std": 0.02}, "r2": {"mean": 0.95, "std": 0.01}, "n_seeds": 2,
                    "mcc_pearson_per_latent": [0.83, 0.97, 0.88, 0.96]},
            "autoencoder": {"mcc_pearson": {"mean": 0.62, "std": 0.05}, "r2": {"mean": 0.7, "std": 0.03},
                            "n_seeds": 2, "mcc_pearson_per_latent": [0.5, 0.6, 0.7, 0.68]}},
            **_benchmark_graphs()})
        return path
    write_json(path / "manifest.json", _manifest("crl", ds, {"epochs": 5}))
    write_json(path / "metrics.json", {"test": {"r2": 0.91, "mcc": 0.87}, "train": {"r2": 0.95, "mcc": 0.9}})
    write_json(path / "history.json", [{"epoch": k, "train_loss": 10.0 / k, "val_loss": 12.0 / k} for k in (1, 2, 3)])
    (path / "latent_graph.json").write_text(json.dumps({"nodes": ["z1", "z2", "z3"],
                                                        "edges": [{"source": "z1", "target": "z2", "type": "-->"}]}))
    return path


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return make_dataset()


@pytest.fixture(scope="session")
def runs(tmp_path_factory, dataset) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {"independence": write_independence_run(root / "ind", dataset, tests=("fisherz",)),
            "discover": write_discover_run(root / "disc", dataset),
            "crl": write_crl_run(root / "crl", dataset)}


@pytest.fixture(scope="session")
def writers():
    """The run-directory writers of this module (test modules cannot import a conftest by name)."""
    import types

    return types.SimpleNamespace(make_dataset=make_dataset, write_independence_run=write_independence_run,
                                 write_discover_run=write_discover_run, write_crl_run=write_crl_run)
