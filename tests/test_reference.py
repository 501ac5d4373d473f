"""The committed reference results regenerate identically (every JSON / CSV file, manifest.json excluded),
and the comparison itself notices a changed, a missing and an extra file."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from causaltraits import reference

COMMITTED = reference.DEFAULT_OUT


def test_tidy_strips_wall_clock_and_binaries(tmp_path):
    run = tmp_path / "run"
    (run / "cache").mkdir(parents=True)
    (run / "cache" / "citests.jsonl").write_text("{}\n")
    (run / "m.parquet").write_bytes(b"PAR1")
    (run / "model.npz").write_bytes(b"PK")
    (run / "big.csv").write_text("a,b\n" + "1,2\n" * 300_000)
    (run / "metrics.json").write_text(json.dumps({"mcc": 0.5, "fit_seconds": 3.2,
                                                  "history": [{"epoch": 1, "seconds": 0.1}]}))
    (run / "manifest.json").write_text(json.dumps({"timings_s": {"total": 1.0}, "seconds": 2}))
    reference.tidy(run)
    assert sorted(p.name for p in run.iterdir()) == ["big.csv.gz", "manifest.json", "metrics.json"]
    assert json.loads((run / "metrics.json").read_text()) == {"mcc": 0.5, "history": [{"epoch": 1}]}
    assert json.loads((run / "manifest.json").read_text())["seconds"] == 2  # manifests are left alone
    assert gzip.decompress((run / "big.csv.gz").read_bytes()).startswith(b"a,b\n1,2\n")


def test_compare_reports_differing_missing_and_extra(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        (d / "run").mkdir(parents=True)
        (d / "run" / "same.csv").write_text("x\n1\n")
        (d / "run" / "manifest.json").write_text(json.dumps({"created": str(d)}))  # differs, not compared
        (d / "run" / "graph.png").write_bytes(d.name.encode())  # differs, not compared
    (a / "run" / "scores.json").write_text('{"shd": 3}')
    (b / "run" / "scores.json").write_text('{"shd": 4}')
    (a / "run" / "only_a.csv").write_text("x\n")
    (b / "run" / "only_b.json").write_text("{}")
    assert reference.compare(a, b) == {"differ": ["run/scores.json"], "missing": ["run/only_a.csv"],
                                       "extra": ["run/only_b.json"]}
    shutil.rmtree(a)
    shutil.copytree(b, a)
    assert reference.compare(a, b) == {"differ": [], "missing": [], "extra": []}


def test_committed_reference_results_regenerate_identically(capsys):
    """The real check: about 2 minutes on 2 busy cores (five commands on the demo data)."""
    if not COMMITTED.is_dir():
        pytest.skip("results/reference/ not generated yet: python -m causaltraits.reference")
    files = reference.compared_files(COMMITTED)
    names = {f.split("/")[0] for f in files}
    assert {r.name for r in reference.RUNS} <= names
    assert (COMMITTED / reference.REPORT_DIR / reference.REPORT_NAME).read_bytes()[:5] == b"%PDF-"
    code = reference.main(["--check", "--out", str(COMMITTED)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{len(files)} JSON/CSV files identical" in out
