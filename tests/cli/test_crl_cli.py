"""`causaltraits crl benchmark` and `causaltraits crl fit` end to end at tiny sizes."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from causaltraits.cli import cli
from causaltraits.crl.model import MultiMeasurementCRL


def _run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_benchmark_tiny_writes_table_and_json(tmp_path):
    out = tmp_path / "bench"
    r = _run(["crl", "benchmark", "--seeds", "1", "--rows", "120", "--epochs", "2",
              "--methods", "crl,autoencoder", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "| crl |" in r.output and "| autoencoder |" in r.output
    res = json.loads((out / "benchmark.json").read_text())
    assert {x["method"] for x in res["runs"]} == {"crl", "autoencoder"}
    for x in res["runs"]:
        assert 0.0 <= x["mcc_pearson"] <= 1.0 and 0.0 <= x["skeleton_f1"] <= 1.0
    assert (out / "benchmark.md").read_text().startswith("# CRL benchmark")
    assert json.loads((out / "manifest.json").read_text())["command"] == "crl benchmark"


@pytest.mark.slow
def test_fit_demo_writes_run_directory(tmp_path):
    out = tmp_path / "fit"
    r = _run(["crl", "fit", "--dataset", "athle-demo", "--epochs", "2", "--out", str(out), "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert "MCC" in r.output
    lat = pd.read_parquet(out / "latents.parquet")
    assert len(lat) == 4181 and {"ID", "split", "text_latent_1", "face_latent_4"} <= set(lat.columns)
    assert set(lat["split"]) == {"train", "test"}
    for f in ("graph.json", "learned_graph.json", "data_profile.json", "metrics.json", "manifest.json",
              "model.npz", "model.json", "history.json"):
        assert (out / f).exists(), f
    m = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= m["truth"]["mcc_pearson"] <= 1.0
    assert set(m["truth"]["match"]) >= {"text_z0", "face_z0"}
    model = MultiMeasurementCRL.load(out / "model")
    assert model.latent_names_[0] == "z1_1" and model.config.code_independence == 0.0


def test_fit_demo_passes_the_code_independence_weight_to_the_model(tmp_path):
    out = tmp_path / "fit"
    r = _run(["crl", "fit", "--dataset", "athle-demo", "--epochs", "1", "--code-independence", "2.5",
              "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert MultiMeasurementCRL.load(out / "model").config.code_independence == 2.5
    assert json.loads((out / "model.json").read_text())["config"]["code_independence"] == 2.5


@pytest.mark.slow
def test_fit_demo_with_restarts_names_the_kept_initialisation(tmp_path):
    out = tmp_path / "fit"
    r = _run(["crl", "fit", "--dataset", "athle-demo", "--epochs", "2", "--restarts", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())["restarts"]
    assert m["epochs_trained"] == 4 and len(m["scores"]) == 2
    assert f"kept initialisation {m['chosen'] + 1} of 2" in r.output and "4 epochs trained in all" in r.output


@pytest.mark.slow
def test_fit_demo_with_content_correction_reports_each_modality(tmp_path):
    out = tmp_path / "fit"
    r = _run(["crl", "fit", "--dataset", "athle-demo", "--epochs", "2", "--content-correction", "--restore-effects",
              "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())["content_correction"]
    assert [c["column"].split("_latent_")[0] for c in m] == ["text", "face"]
    for c in m:
        assert f"content correction of {c['column']}" in r.output
        assert f"{c['residual_correlation_before']:.3f} -> {c['residual_correlation_after']:.3f}" in r.output
        assert (f"({c['criterion']} criterion; the full criterion's minimum {c['residual_correlation_min']:.3f}, "
                f"independence level {c['residual_correlation_null']:.3f}, p = {c['residual_p_value']:.3f})"
                in r.output)
    # and the effect restoration, with a line per block that says whether it was applied
    e = json.loads((out / "metrics.json").read_text())["effect_restoration"]
    assert [x["content_column"] for x in e] == [c["column"] for c in m]
    for x in e:
        assert f"effect restoration of {', '.join(x['columns'])} by {x['content_column']}: gain {x['gain']:.3f}" in r.output
    # the saved model carries the correction (transform after load is checked in tests/crl)
    model = MultiMeasurementCRL.load(out / "model")
    assert [model.latent_names_[c.column] for c in model.content_maps_] == ["z1_" + m[0]["column"][-1],
                                                                            "z2_" + m[1]["column"][-1]]


def test_output_errors_are_one_line_and_write_nothing(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    r = CliRunner().invoke(cli, ["crl", "fit", "--dataset", "athle-demo", "--out", str(out)])
    assert r.exit_code == 2
    assert "not empty" in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    for args, what in ((["--restarts", "0"], "--restarts must be >= 1"),
                       (["--restarts", "2", "--face-latents", "0"], "--face-latents >= 1"),
                       (["--content-correction", "--shared", "1"], "--shared 0"),
                       (["--restore-effects"], "add --content-correction"),
                       (["--code-independence", "-1"], "--code-independence must be >= 0"),
                       (["--code-independence", "nan"], "--code-independence must be >= 0")):
        r = CliRunner().invoke(cli, ["crl", "fit", "--dataset", "athle-demo", *args])
        assert r.exit_code == 2 and what in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["crl", "benchmark", "--seeds", "0"])
    assert r.exit_code == 2 and "--seeds" in r.output
    r = CliRunner().invoke(cli, ["crl", "benchmark", "--seeds", "1", "--rows", "10",
                                 "--out", str(tmp_path / "few")])
    assert r.exit_code == 2 and "--rows" in r.output
    assert not (tmp_path / "few").exists()
