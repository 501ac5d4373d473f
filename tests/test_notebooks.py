"""Every example notebook runs top to bottom (nbclient, kernel python3) in a fresh temp directory,
and the committed notebooks are exactly what ``notebooks/build_notebooks.py`` writes."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_level1_athle_demo.ipynb", "02_discovery_athle_demo.ipynb", "03_celeb_demo.ipynb",
         "04_crl_benchmark_small.ipynb"]


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOKS / "build_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_notebooks_match_their_builder(tmp_path):
    mod = _builder()
    assert sorted(mod.NOTEBOOKS) == NAMES
    for path in mod.build(tmp_path):
        assert path.read_text(encoding="utf-8") == (NOTEBOOKS / path.name).read_text(encoding="utf-8"), (
            f"{path.name} is stale: run python notebooks/build_notebooks.py")


def _outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts.append(data.get("text/plain", ""))
    return "\n".join(parts)


def _run(name: str, tmp_path: Path, monkeypatch) -> tuple[object, Path, float]:
    runs = tmp_path / "runs"
    work = tmp_path / "cwd"  # a working directory with nothing in it: notebooks must not rely on the CWD
    work.mkdir()
    monkeypatch.setenv("CAUSALTRAITS_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("CAUSALTRAITS_NOTEBOOK_RUNS", str(runs))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(work)}})
    t0 = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - t0
    assert not any(work.iterdir()), f"{name} wrote into the working directory: {list(work.iterdir())}"
    return nb, runs, elapsed


def _images(nb) -> int:
    return sum("image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", []))


def test_notebook_level1(tmp_path, monkeypatch):
    nb, runs, _ = _run("01_level1_athle_demo.ipynb", tmp_path, monkeypatch)
    run = runs / "level1-athle-demo"
    for llm in ("aggregate", "chatgpt", "gemini", "llama"):
        assert (run / llm / "summary.csv").is_file() and (run / llm / "heatmap_rcit.png").is_file()
    assert (run / "manifest.json").is_file()
    assert _images(nb) >= 3  # two heatmaps and the per-LLM panel
    assert "krippendorff_alpha" in _outputs_text(nb)


def test_notebook_discovery(tmp_path, monkeypatch):
    nb, runs, _ = _run("02_discovery_athle_demo.ipynb", tmp_path, monkeypatch)
    for name in ("discover-pc-athle-demo", "discover-fci-athle-demo", "discover-pc-lowrank-athle-demo"):
        assert (runs / name / "graph.json").is_file() and (runs / name / "scores.json").is_file()
    pdf = runs / "discovery-athle-demo-report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert _images(nb) >= 3
    text = _outputs_text(nb)
    assert "PC on athle-demo" in text and "FCI on athle-demo" in text


def test_notebook_celeb(tmp_path, monkeypatch):
    nb, runs, _ = _run("03_celeb_demo.ipynb", tmp_path, monkeypatch)
    assert (runs / "level1-celeb-demo" / "aggregate" / "summary.csv").is_file()
    assert (runs / "discover-celeb-demo" / "scores.json").is_file()
    assert "PC on celeb-demo" in _outputs_text(nb)


def test_notebook_crl_benchmark(tmp_path, monkeypatch):
    nb, runs, _ = _run("04_crl_benchmark_small.ipynb", tmp_path, monkeypatch)
    import json

    bench = json.loads((runs / "crl-benchmark-small" / "benchmark.json").read_text())
    assert set(bench["summary"]) == {"crl", "autoencoder", "beta_vae", "published"}
    assert _images(nb) >= 2
    assert "mcc_pearson" in _outputs_text(nb)
