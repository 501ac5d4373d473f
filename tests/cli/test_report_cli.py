"""`causaltraits report`: writes the PDF, says where and how many pages; one-line errors, exit 2."""

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from causaltraits.cli import cli
from causaltraits.report.pdf import count_pages, extract_text

_spec = importlib.util.spec_from_file_location("report_rundirs", Path(__file__).parents[1] / "report" / "conftest.py")
rundirs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rundirs)


@pytest.fixture(scope="module")
def crl_run(tmp_path_factory):
    ds = rundirs.make_dataset(n=60)
    return rundirs.write_crl_run(tmp_path_factory.mktemp("cli") / "crl", ds)


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_report_writes_pdf_and_prints_where(crl_run, tmp_path):
    out = tmp_path / "r.pdf"
    r = _run("report", crl_run, "--out", out)
    assert r.exit_code == 0, r.output
    n = count_pages(out)
    assert r.output.strip() == f"wrote {out} ({n} pages)"
    assert "CRL: metrics" in "\n".join(extract_text(out))


def test_existing_out_needs_force(crl_run, tmp_path):
    out = tmp_path / "r.pdf"
    out.write_bytes(b"old")
    r = _run("report", crl_run, "--out", out)
    assert r.exit_code == 2
    assert r.stderr.strip() == f"causaltraits: error: {out} exists; pass --force to overwrite it or choose another --out"
    assert out.read_bytes() == b"old"
    r = _run("report", crl_run, "--out", out, "--force")
    assert r.exit_code == 0 and out.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "is not a run directory: no manifest.json in it"),
    ("file", "is not a run directory (it is a file)"),
    ("badjson", "manifest.json is not valid JSON"),
])
def test_bad_run_dirs(tmp_path, crl_run, case, message):
    target = tmp_path / case
    if case == "empty":
        target.mkdir()
    elif case == "file":
        target.write_text("x")
    elif case == "badjson":
        target.mkdir()
        (target / "manifest.json").write_text("{")
    # a good run first: a bad later argument must still stop everything before any writing
    r = _run("report", crl_run, target, "--out", tmp_path / "r.pdf")
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.output
    assert not (tmp_path / "r.pdf").exists()


def test_bad_out_and_no_arguments(crl_run, tmp_path):
    r = _run("report", crl_run, "--out", tmp_path / "r.txt")
    assert r.exit_code == 2 and "must end in .pdf" in r.stderr
    r = _run("report", crl_run, "--out", tmp_path)
    assert r.exit_code == 2 and "is a directory" in r.stderr
    r = _run("report")
    assert r.exit_code == 2 and "Missing argument" in r.stderr
