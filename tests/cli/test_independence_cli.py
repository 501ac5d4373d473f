"""`causaltraits independence` through click's CliRunner: outputs, and bad input refused before work."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import causaltraits.data as data_pkg
from causaltraits.cli import cli
from causaltraits.data.dataset import TRAITS, Dataset, Roles

LLMS = ["chatgpt", "gemini"]


def athletes(n: int = 200, seed: int = 1) -> Dataset:
    rng = np.random.default_rng(seed)
    league = rng.integers(0, 4, n)
    height = 180 + 5 * (league == 2) + rng.normal(0, 7, n)
    frame = {"Birthyear": 1990 + rng.normal(0, 6, n), "Height": height, "League": league.astype(float)}
    for llm in LLMS:
        for t in TRAITS:
            lat = 0.1 * (height - 180) if t == "Extraversion" else 0.0
            frame[f"{llm}_{t}"] = np.digitize(lat + rng.normal(0, 1, n), [-0.5, 0.5]) + 1.0
    for t in TRAITS:
        frame[t] = frame[f"chatgpt_{t}"]
    frame["Height"][:7] = np.nan
    roles = Roles(traits=list(TRAITS), llm_traits={m: [f"{m}_{t}" for t in TRAITS] for m in LLMS},
                  bio_continuous=["Birthyear", "Height"], bio_categorical=["League"])
    return Dataset(name="synth", frame=pd.DataFrame(frame), roles=roles, llms=list(LLMS), source="generated:1")


@pytest.fixture
def runner(monkeypatch, tmp_path):
    """A runner in an empty directory whose 'synth' dataset is the table above."""
    real = data_pkg.load_dataset

    def fake(name, **kw):
        return athletes() if name == "synth" else real(name, **kw)

    monkeypatch.setattr(data_pkg, "load_dataset", fake)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _invoke(runner, *args):
    return runner.invoke(cli, ["independence", *args], catch_exceptions=False)


def test_run_writes_everything(runner, tmp_path):
    out = tmp_path / "run"
    r = _invoke(runner, "--dataset", "synth", "--tests", "fisherz,chisq", "--llm", "all", "--out", str(out),
                "--seed", "4")
    assert r.exit_code == 0, r.output
    assert "written to" in r.output and "fisherz" in r.output
    for llm in ("aggregate", *LLMS):
        for test in ("fisherz", "chisq"):
            for what in ("pvalues", "statistics", "n", "qvalues"):
                assert (out / llm / f"{what}_{test}.csv").exists()
                assert (out / llm / f"{what}_{test}.parquet").exists()
            assert (out / llm / f"heatmap_{test}.png").exists()
        assert (out / llm / "summary.csv").exists()
    m = pd.read_csv(out / "chatgpt" / "pvalues_fisherz.csv", index_col=0)
    assert list(m.index) == [f"chatgpt_{t}" for t in TRAITS] and list(m.columns) == ["Birthyear", "Height", "League"]
    chisq = pd.read_csv(out / "aggregate" / "pvalues_chisq.csv", index_col=0)
    assert chisq["Height"].isna().all() and chisq["League"].notna().all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "independence" and manifest["seed"] == 4
    assert manifest["parameters"]["tests"] == ["fisherz", "chisq"]
    assert json.loads((out / "data_profile.json").read_text())["rows"] == 200
    summary = pd.read_csv(out / "aggregate" / "summary.csv")
    assert ("Extraversion", "Height") in set(zip(summary.trait, summary.attribute))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_default_run_dir_and_selection(runner, tmp_path):
    r = _invoke(runner, "--dataset", "synth", "--tests", "fisherz", "--traits", "Openness,Extraversion",
                "--attributes", "Height", "--correction", "bonferroni")
    assert r.exit_code == 0, r.output
    runs = list((tmp_path / "results" / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("synth-independence-")
    q = pd.read_csv(runs[0] / "aggregate" / "qvalues_fisherz.csv", index_col=0)
    assert q.shape == (2, 1)


def test_force_replaces(runner, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("x")
    r = _invoke(runner, "--dataset", "synth", "--tests", "fisherz", "--out", str(out))
    assert r.exit_code == 2 and "not empty" in r.output
    r = _invoke(runner, "--dataset", "synth", "--tests", "fisherz", "--out", str(out), "--force")
    assert r.exit_code == 0 and not (out / "old.txt").exists() and (out / "manifest.json").exists()
    if json.loads((out / "manifest.json").read_text())["cache"] is not None:
        # rerun over the same directory: every result read back from the replaced run's cache
        first = pd.read_csv(out / "aggregate" / "pvalues_fisherz.csv", index_col=0)
        r = _invoke(runner, "--dataset", "synth", "--tests", "fisherz", "--out", str(out), "--force")
        assert r.exit_code == 0
        assert json.loads((out / "manifest.json").read_text())["cache"] == {"hits": 15, "misses": 0}
        pd.testing.assert_frame_equal(first, pd.read_csv(out / "aggregate" / "pvalues_fisherz.csv", index_col=0))


@pytest.mark.parametrize("args, message", [
    (["--tests", "fisherz,bogus"], "unknown test"),
    (["--alpha", "1.2"], "--alpha"),
    (["--alpha", "0"], "--alpha"),
    (["--correction", "holm2"], "--correction"),
    (["--llm", "claude"], "unknown LLM"),
    (["--traits", "Humour"], "no trait"),
    (["--attributes", "Shoe"], "no attribute"),
    (["--tests", ","], "--tests"),
])
def test_bad_input_one_line_exit_2_nothing_written(runner, tmp_path, args, message):
    r = _invoke(runner, "--dataset", "synth", "--out", str(tmp_path / "out"), *args)
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("causaltraits: error:") and message in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_non_empty_out_refused(runner, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("x")
    r = _invoke(runner, "--dataset", "synth", "--tests", "fisherz", "--out", str(tmp_path / "out"))
    assert r.exit_code == 2 and "not empty" in r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep"]


def test_missing_file_and_text_column(runner, tmp_path):
    pytest.importorskip("causaltraits.data.tables")
    r = _invoke(runner, "--data", str(tmp_path / "nope.csv"), "--tests", "fisherz")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "nope.csv" in r.output
    pd.DataFrame({"a": np.arange(30.0), "b": ["x", "y", "z"] * 10}).to_csv(tmp_path / "t.csv", index=False)
    r = _invoke(runner, "--data", str(tmp_path / "t.csv"), "--tests", "fisherz", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "b" in r.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "results").exists()


def test_generic_table(runner, tmp_path):
    pytest.importorskip("causaltraits.data.tables")
    rng = np.random.default_rng(0)
    x = rng.normal(size=100)
    pd.DataFrame({"x": x, "y": x + rng.normal(size=100), "z": rng.normal(size=100)}).to_csv(tmp_path / "g.csv",
                                                                                             index=False)
    r = _invoke(runner, "--data", str(tmp_path / "g.csv"), "--tests", "fisherz", "--out", str(tmp_path / "o"))
    assert r.exit_code == 0, r.output
    q = pd.read_csv(tmp_path / "o" / "aggregate" / "qvalues_fisherz.csv", index_col=0)
    assert q.shape == (3, 3) and q.loc["x", "y"] < 0.05 and q.loc["y", "x"] == q.loc["x", "y"]


def test_report_failure_is_one_clear_line(runner, tmp_path, monkeypatch):
    import causaltraits.report as report

    def boom(run_dirs, out=None):
        raise RuntimeError("no pdf backend")

    monkeypatch.setattr(report, "build_report", boom)
    r = _invoke(runner, "--dataset", "synth", "--tests", "fisherz", "--out", str(tmp_path / "o"), "--report")
    assert r.exit_code == 1
    assert "report failed" in r.output and "no pdf backend" in r.output
    assert (tmp_path / "o" / "manifest.json").exists()


def test_constant_column_refused(runner, tmp_path, monkeypatch):
    ds = athletes()
    ds.frame["Birthyear"] = 1990.0
    monkeypatch.setattr(data_pkg, "load_dataset", lambda name, **kw: ds)
    r = _invoke(runner, "--dataset", "synth", "--tests", "fisherz", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "Birthyear" in r.output and "constant" in r.output
    assert not (tmp_path / "o").exists()
