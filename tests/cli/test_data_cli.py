"""`causaltraits data list|fetch|info|export`: outputs read back, errors as one line with exit code 2."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from causaltraits.cli import cli
from causaltraits.data.personax import load_released_path

HERE = Path(__file__).resolve().parent
DATA_TESTS = HERE.parent / "data"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


px = _module(DATA_TESTS / "fixtures.py", "causaltraits_test_cli_fixtures")
hubmod = _module(DATA_TESTS / "test_fetch.py", "causaltraits_test_cli_hub")


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.setenv("CAUSALTRAITS_DATA", str(tmp_path / "root"))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(map(str, args)))

    return invoke


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("causaltraits: error: ")
    assert "Traceback" not in result.output
    return lines[0]


def released(tmp_path, kind="athle", **kw) -> Path:
    truth = px.make_truth(kind, seed=50)
    return px.write_layout(truth, tmp_path / "root" / kind, split="train", **kw)


def test_list_shows_where_each_dataset_is(run, tmp_path):
    r = run("data", "list")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["athle", "celeb", "athle-demo", "celeb-demo"]
    assert "not on disk" in lines[0] and str(tmp_path / "root" / "athle") in lines[0]
    assert "causaltraits data fetch athle" in lines[0]
    released(tmp_path)
    r = run("data", "list")
    assert f"on disk: {tmp_path / 'root' / 'athle'} (1 table file(s)" in r.stdout.splitlines()[0]
    assert "not on disk" in r.stdout.splitlines()[1]


def test_fetch_prints_licence_and_loads(run, tmp_path, monkeypatch):
    src = released(tmp_path / "src", kind="celeb")
    files = {p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    with hubmod.FakeHub({"Persona-X/celebpersona": files}) as hub:
        hubmod.use_hub(monkeypatch, hub.url)
        r = run("data", "fetch", "celeb", "--data-dir", tmp_path / "d")
        assert r.exit_code == 0, r.output
        assert "non-commercial academic research" in r.stdout and "surveillance" in r.stdout
        assert f"fetched: Persona-X/celebpersona at commit {hubmod.COMMIT} in {tmp_path / 'd' / 'celeb'}" in r.stdout
        assert "sha256 recorded in fetch.json" in r.stdout
        assert "celeb: 60 rows" in r.stdout
        manifest = json.loads((tmp_path / "d" / "celeb" / "fetch.json").read_text())
        assert set(manifest["files"]) == set(files)
        r = run("data", "fetch", "celeb", "--data-dir", tmp_path / "d")
        assert r.exit_code == 0 and "already on disk, files match fetch.json" in r.stdout
        r = run("data", "fetch", "celeb", "--data-dir", tmp_path / "d", "--force")
        assert r.exit_code == 0 and "fetched: " in r.stdout


def test_fetch_network_failure_is_one_line_and_writes_nothing(run, tmp_path, monkeypatch):
    hubmod.use_hub(monkeypatch, "http://127.0.0.1:9")
    r = run("data", "fetch", "athle", "--data-dir", tmp_path / "d")
    line = one_error_line(r)
    assert "could not download Persona-X/athlepersona" in line and "athle-demo" in line
    assert not (tmp_path / "d").exists() or list((tmp_path / "d").iterdir()) == []


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_writes_the_mapped_frame(run, tmp_path, suffix):
    d = released(tmp_path)
    out = tmp_path / f"out{suffix}"
    r = run("data", "export", "athle", out)
    assert r.exit_code == 0, r.output
    ds = load_released_path(d, name="athle")
    back = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(back.columns) == list(ds.frame.columns)
    np.testing.assert_array_equal(back.to_numpy(dtype=float), ds.frame.to_numpy(dtype=float))
    assert f"wrote {out}: 60 rows" in r.stdout
    # --no-embeddings leaves the embedding columns out
    out2 = tmp_path / f"small{suffix}"
    assert run("data", "export", "athle", out2, "--no-embeddings").exit_code == 0
    back2 = pd.read_csv(out2) if suffix == ".csv" else pd.read_parquet(out2)
    assert not any("_emb_" in c for c in back2.columns) and "chatgpt_Openness" in back2.columns


def test_export_refuses_other_suffixes_and_existing_files(run, tmp_path):
    released(tmp_path)
    line = one_error_line(run("data", "export", "athle", tmp_path / "out.xlsx"))
    assert "must end in .csv or .parquet" in line
    assert not (tmp_path / "out.xlsx").exists()
    existing = tmp_path / "keep.csv"
    existing.write_text("precious\n")
    line = one_error_line(run("data", "export", "athle", existing))
    assert "exists" in line and "--force" in line
    assert existing.read_text() == "precious\n"
    assert run("data", "export", "athle", existing, "--force").exit_code == 0
    assert existing.read_text().startswith("Birthyear,")


def test_export_of_missing_dataset_writes_nothing(run, tmp_path):
    out = tmp_path / "x.csv"
    line = one_error_line(run("data", "export", "celeb", out))
    assert "not on disk" in line and "causaltraits data fetch celeb" in line and "celeb-demo" in line
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".x.csv")] == []


def test_export_generic_table_and_its_errors(run, tmp_path):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "g": rng.choice(["u", "v"], 40)})
    src = tmp_path / "mine.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "mapped.parquet"
    line = one_error_line(run("data", "export", src, out))
    assert f"{src}: column 'g' holds text where numbers are expected" in line
    assert not out.exists()
    r = run("data", "export", src, out, "--categorical", "g")
    assert r.exit_code == 0, r.output
    back = pd.read_parquet(out)
    assert list(back["g"]) == [0.0 if v == "u" else 1.0 for v in df["g"]]


def test_unmappable_table_via_cli(run, tmp_path):
    d = tmp_path / "root" / "athle"
    d.mkdir(parents=True)
    pd.DataFrame({"ID": range(25), "foo": range(25)}).to_csv(d / "t.csv", index=False)
    line = one_error_line(run("data", "info", "athle"))
    assert "roles missing: traits" in line and "columns found: ID, foo" in line and "--schema FILE" in line


def test_info_reports_files_and_aggregate_checks(run, tmp_path):
    released(tmp_path, kind="celeb")
    r = run("data", "info", "celeb")
    assert r.exit_code == 0, r.output
    assert "files read: data/train-00000-of-00001.parquet" in r.stdout
    assert "released aggregate differs from the LLM median in 0 row(s)" in r.stdout
    assert "face: Arched_Eyebrows, Big_Nose, Pointy_Nose, High_Cheekbones" in r.stdout


def test_export_demo_dataset(run, tmp_path):
    from causaltraits.data import load_dataset

    out = tmp_path / "demo.csv"
    r = run("data", "export", "athle-demo", out)
    assert r.exit_code == 0, r.output
    ds = load_dataset("athle-demo")
    back = pd.read_csv(out)
    assert list(back.columns) == list(ds.frame.columns)
    np.testing.assert_allclose(back.to_numpy(dtype=float), ds.frame.to_numpy(dtype=float), rtol=1e-15, equal_nan=True)


def test_parquet_export_round_trips_roles_and_hash(run, tmp_path):
    from causaltraits.data import load_dataset

    d = released(tmp_path, kind="celeb")
    out = tmp_path / "celeb.parquet"
    r = run("data", "export", "celeb", out)
    assert r.exit_code == 0, r.output
    ds = load_released_path(d, name="celeb")
    back = load_dataset(str(out))
    assert back.content_hash == ds.content_hash
    assert f"content hash {ds.content_hash[:16]}" in r.stdout
    assert back.roles.to_dict() == ds.roles.to_dict()
    assert back.codes == ds.codes and back.llms == ds.llms and back.name == "celeb"
    assert back.licence == ds.licence and back.info["roles_from"] == "causaltraits export metadata"
    assert back.kind("Gender") == "categorical" and back.kind("Big_Nose") == "binary"
    assert back.tiers(["Gender", "Openness"]) == [["Gender"], ["Openness"]]
    # asking for generic columns reads it as a generic table instead
    generic = load_dataset(str(out), columns=["Height", "Openness"])
    assert generic.roles.other_continuous == ["Height", "Openness"]
    # a CSV export holds the same numbers
    out_csv = tmp_path / "celeb.csv"
    assert run("data", "export", "celeb", out_csv).exit_code == 0
    np.testing.assert_array_equal(pd.read_csv(out_csv).to_numpy(dtype=float), ds.frame.to_numpy(dtype=float))
