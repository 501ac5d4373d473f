"""The PDF report: page titles in the text, skipped sections, pagination, determinism, atomic writes."""

import shutil
import subprocess

import pytest

from causaltraits.errors import OutputError, ParameterError
from causaltraits.report import build_report as build_report_api
from causaltraits.report import figures as F
from causaltraits.report import pdf as P
from causaltraits.report.pdf import build_report, count_pages, extract_text

TITLES = [
    "causaltraits report", "Contents", "Runs: parameters, seed and timings", "Data: columns and missing values",
    "Data: missing values per column", "Data: trait distributions per LLM", "Data: agreement between LLMs per trait",
    "Data: LLM agreement table", "Data: insufficient-information answers", "Level I: fisherz - aggregate traits",
    "Level I: fisherz - chatgpt traits", "Level I: dependent pairs - aggregate traits", "Discovery: estimated graph",
    "Discovery: true graph", "Discovery: adjacencies and the CI tests that decided them",
    "Discovery: scores against the true graph", "CRL: metrics", "CRL: training history",
    "CRL: graph among the latents",
    "Limitations and licence",
]


@pytest.fixture(scope="module")
def full_report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("pdf") / "all.pdf"
    path = build_report_api([runs["independence"], runs["discover"], runs["crl"]], out=out)
    return path


def test_full_report_has_every_section(full_report, runs):
    assert full_report.is_file() and full_report.read_bytes().startswith(b"%PDF")
    pages = extract_text(full_report)
    text = "\n".join(pages)
    for t in TITLES:
        assert t in text, t
    n = count_pages(full_report)
    assert 20 <= n <= 40
    assert f"page {n} of {n}" in text
    # numbers from the runs reach the pages: agreement, dependent pairs' q-values, scores
    import json

    import pandas as pd

    prof = json.loads((runs["independence"] / "data_profile.json").read_text())
    for t, a in prof["agreement"]["traits"].items():
        assert F.format_cell(a["kappa"]["chatgpt~gemini"]) in text and F.format_cell(a["alpha"]) in text
    summary = pd.read_csv(runs["independence"] / "aggregate" / "summary.csv")
    assert len(summary) > 0
    for q in summary["min_qvalue"]:
        assert F.format_cell(float(q)) in text
    assert "shd" in text and "0.75" in text
    assert "skipped" not in text.split("Limitations and licence")[0]


def test_pdftotext_sees_the_titles(full_report):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (the pure-Python check above covers the titles)")
    text = subprocess.run(["pdftotext", "-layout", str(full_report), "-"], capture_output=True, text=True,
                          check=True).stdout
    for t in TITLES:
        assert " ".join(t.split()) in " ".join(text.split()), t


def test_metadata_has_no_date_and_names_the_dataset(full_report):
    raw = full_report.read_bytes()
    assert b"/CreationDate" not in raw and b"/ModDate" not in raw
    assert b"causaltraits report: athle-demo" in raw


def test_missing_sections_are_skipped_with_a_line(runs, tmp_path):
    out = build_report([runs["crl"]], out=tmp_path / "crl.pdf")
    text = "\n".join(extract_text(out))
    assert "CRL: metrics" in text
    assert "Level I: skipped - no independence run among the given directories." in text
    assert "Discovery: skipped - no discover run among the given directories." in text
    assert "Data: skipped - no run directory has a data_profile.json." in text
    assert "Data: trait distributions" not in text


def test_same_runs_same_bytes(runs, tmp_path):
    a = build_report([runs["crl"]], out=tmp_path / "a.pdf")
    b = build_report([runs["crl"]], out=tmp_path / "b.pdf")
    assert a.read_bytes() == b.read_bytes()


def test_default_out_overwrite_and_atomicity(runs, tmp_path, monkeypatch):
    run = tmp_path / "crl"
    shutil.copytree(runs["crl"], run)
    path = build_report(run)
    assert path == run / "report.pdf" and path.is_file()
    import os

    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not the 0600 of a temporary file
    with pytest.raises(OutputError, match="exists"):
        build_report(run, overwrite=False)
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(F, "footer", boom)
    with pytest.raises(RuntimeError):
        build_report(run)
    assert path.read_bytes() == before  # the old report is untouched
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_bad_inputs_are_one_line_errors(runs, tmp_path):
    with pytest.raises(ParameterError, match="no manifest.json"):
        build_report(tmp_path)
    with pytest.raises(ParameterError, match="does not exist"):
        build_report(tmp_path / "nope")
    with pytest.raises(ParameterError, match="end in .pdf"):
        build_report(runs["crl"], out=tmp_path / "r.txt")
    with pytest.raises(OutputError, match="is a directory"):
        build_report(runs["crl"], out=tmp_path)
    with pytest.raises(ParameterError, match="no run directory"):
        build_report([])
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ParameterError, match="not valid JSON"):
        build_report(tmp_path)


def test_long_tables_paginate_with_header_on_every_page():
    rows = [[f"node{i}", f"node{i + 1}", "a, b, c, d" * (1 + i % 3), 0.5 / (i + 1), i] for i in range(150)]
    figs = F.table_pages("Discovery: a long table", ["x", "y", "sepset", "pvalue", "n_tests"], rows)
    assert len(figs) >= 3
    seen = []
    for k, fig in enumerate(figs):
        texts = [t.get_text() for t in fig.texts]
        assert f"Discovery: a long table ({k + 1}/{len(figs)})" in texts
        assert "sepset" in texts and "pvalue" in texts  # header repeated
        seen += [t for t in texts if t.startswith("node") and len(t) <= 7]
    assert {f"node{i}" for i in range(150)} <= set(seen)  # no row lost between pages


def test_wide_cells_wrap_within_the_page():
    long = ", ".join(f"Variable{i}" for i in range(40))
    figs = F.table_pages("T", ["x", "sepset"], [["a", long]])
    chars = F.body_chars(figs[0], F.TABLE_SIZE, F.COURIER_EM)
    lines = [t.get_text() for t in figs[0].texts if t.get_text().startswith(("Variable", "a,"))
             or "Variable" in t.get_text()]
    assert len(lines) >= 2 and all(len(s) <= chars for s in lines)
    assert "".join(lines).replace(" ", "") == long.replace(" ", "")


def test_clean_text_and_format_cell():
    assert F.clean_text("q \u2264 0.05, \u03b1 = 0.1 \u2192 x") == "q <= 0.05, alpha = 0.1 -> x"
    assert F.clean_text("M\u00fcller") == "M\u00fcller"  # cp1252 keeps accents
    assert F.format_cell(1.23456e-9) == "1.23e-09" and F.format_cell(0.04567) == "0.0457"
    assert F.format_cell(1984.2) == "1984" and F.format_cell(None) == "" and F.format_cell(float("nan")) == ""
    assert F.format_cell(True) == "yes"


def test_read_run_detects_kinds(runs):
    assert P.read_run(runs["independence"]).kinds == ["independence"]
    assert P.read_run(runs["discover"]).kinds == ["discover"]
    assert P.read_run(runs["crl"]).kinds == ["crl"]



def test_heatmap_png_fallback_without_heatmaps_module(writers, dataset, tmp_path, monkeypatch):
    import sys

    run = writers.write_independence_run(tmp_path / "ind", dataset, tests=("fisherz",), heatmap_png=True)
    (run / "data_profile.json").unlink()  # fewer pages: this test is about the Level I section
    monkeypatch.setitem(sys.modules, "causaltraits.report.heatmaps", None)  # import now fails
    out = build_report(run, out=tmp_path / "r.pdf")
    text = "\n".join(extract_text(out))
    assert "Level I: fisherz - aggregate traits" in text and "Level I: fisherz - chatgpt traits" in text
    assert out.read_bytes().count(b"/Subtype /Image") >= 2  # the two PNGs are embedded


def _overlaps(boxes, tol=0.5):
    import numpy as np

    if len(boxes) < 2:
        return []
    b = np.array([[x.x0, x.y0, x.x1, x.y1] for x in boxes])
    ox = (b[:, None, 0] < b[None, :, 2] - tol) & (b[None, :, 0] < b[:, None, 2] - tol)
    oy = (b[:, None, 1] < b[None, :, 3] - tol) & (b[None, :, 1] < b[:, None, 3] - tol)
    hit = np.triu(ox & oy, k=1)
    return list(zip(*np.nonzero(hit)))


def _pdf_renderer(fig):
    """A PDF renderer measuring text with the standard fonts' own metrics, as in the written file."""
    import io

    from matplotlib.backends.backend_pdf import PdfFile, RendererPdf

    fig.set_dpi(72)  # what the PDF backend uses when it saves
    w, h = fig.get_size_inches()
    return RendererPdf(PdfFile(io.BytesIO()), 72, h, w)


def test_page_text_stays_on_the_page_and_never_overlaps(runs):
    run_dirs = [P.read_run(runs[k]) for k in ("independence", "discover", "crl")]
    with P.report_style():
        pages, titles, _ = P.assemble_pages(run_dirs)
        for fig, title in zip(pages, titles):
            F.footer(fig, "causaltraits report - athle-demo - 0123456789ab", "page 99 of 99")
            r = _pdf_renderer(fig)
            # printers lose about a quarter inch at each edge: everything stays inside that
            page_box = fig.bbox.padded(-18)
            texts = [t for t in fig.texts if t.get_visible() and t.get_text().strip()]
            boxes = [t.get_window_extent(r) for t in texts]
            for t, bb in zip(texts, boxes):
                assert _inside(bb, page_box), (title, t.get_text())
            clashes = [(texts[i].get_text(), texts[j].get_text()) for i, j in _overlaps(boxes)]
            assert not clashes, (title, clashes[:3])
            for ax in fig.axes:
                assert _inside(ax.get_tightbbox(r), page_box), (title, "axes off the page")
            fig.clear()


def _inside(bb, box):
    return box.x0 <= bb.x0 and bb.x1 <= box.x1 and box.y0 <= bb.y0 and bb.y1 <= box.y1


def test_layout_checks_catch_overlaps_and_overflow():
    with P.report_style():
        fig = F.page("A title")
        a = fig.text(0.1, 0.5, "overlapping text")
        b = fig.text(0.12, 0.5, "more text here")
        c = fig.text(0.9, 0.3, "runs off the right edge of the page")
        r = _pdf_renderer(fig)
        boxes = [t.get_window_extent(r) for t in (a, b, c)]
        assert _overlaps(boxes) == [(0, 1)]
        assert _inside(boxes[0], fig.bbox.padded(-18)) and not _inside(boxes[2], fig.bbox.padded(-18))


def test_crl_benchmark_table(writers, dataset, tmp_path):
    run = writers.write_crl_run(tmp_path / "bench", dataset, benchmark=True)
    assert P.read_run(run).kinds == ["crl"]
    text = "\n".join(extract_text(build_report(run, out=tmp_path / "b.pdf")))
    assert "CRL: benchmark (variant digits)" in text
    assert "mcc_pearson mean" in text and "autoencoder" in text and "0.91" in text and "0.62" in text
    assert "0.83 / 0.97 / 0.88 / 0.96" in text  # per-latent MCC in one cell
    # PC's skeleton seed by seed, beside the true latents
    assert "CRL: benchmark, PC's skeleton per seed" in text
    assert "extra z12-z22 / exact" in text and "exact / exact" in text


def test_wide_batteries_split_over_pages(tmp_path):
    import json

    import numpy as np
    import pandas as pd

    run = tmp_path / "wide"
    (run / "aggregate").mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"command": "independence", "parameters": {"alpha": 0.05}}))
    attrs = [f"Attribute_{i}" for i in range(12)]
    q = pd.DataFrame(np.linspace(1e-6, 1, 5 * 12).reshape(5, 12), index=pd.Index(["O", "C", "E", "A", "N"],
                                                                                 name="trait"), columns=attrs)
    q.to_csv(run / "aggregate" / "qvalues_kci.csv")
    text = "\n".join(extract_text(build_report(run, out=tmp_path / "w.pdf")))
    assert "Level I: kci - aggregate traits (1/2)" in text and "Level I: kci - aggregate traits (2/2)" in text
    assert "Attribute_9" in text and "Attribute_10" in text  # every column on one of the pages
    assert "Data: skipped - no run directory has a data_profile.json." in text
