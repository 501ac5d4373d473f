"""Run directories and single files are published whole or not at all."""

from __future__ import annotations

import json
import os

import pytest

from causaltraits.errors import OutputError
from causaltraits.runs import atomic_path, atomic_write, check_output_dir, open_run, write_json


def _entries(d):
    return sorted(p.name for p in d.iterdir())


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("half of a new ")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert _entries(tmp_path) == ["table.csv"]  # no temporary file left beside it


def test_atomic_write_and_atomic_path_replace_on_success(tmp_path):
    target = tmp_path / "sub" / "a.json"
    write_json(target, {"b": 1, "a": [1.5, None]})
    assert json.loads(target.read_text()) == {"a": [1.5, None], "b": 1}
    assert target.read_text().startswith('{\n  "a"')  # sorted keys: same object, same bytes
    out = tmp_path / "fig.png"
    with atomic_path(out) as tmp:
        assert tmp != out and tmp.parent == out.parent
        tmp.write_bytes(b"\x89PNG")
    assert out.read_bytes() == b"\x89PNG"
    assert _entries(tmp_path) == ["fig.png", "sub"]


def test_a_failed_run_leaves_nothing_and_a_finished_one_everything(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        with open_run(final, "demo") as run:
            run.write_text("notes.txt", "partial")
            run.write_json("manifest.json", {"ok": False})
            assert run.path != final and run.path.exists()
            raise KeyboardInterrupt
    assert _entries(tmp_path) == []  # neither the final name nor the staging directory

    with open_run(final, "demo") as run:
        run.write_text("deep/notes.txt", "whole")
        run.write_json("manifest.json", {"ok": True})
    assert run.path == final
    assert (final / "deep" / "notes.txt").read_text() == "whole"
    assert json.loads((final / "manifest.json").read_text()) == {"ok": True}
    assert _entries(tmp_path) == ["run"]
    assert not [p for p in final.rglob("*") if p.name.endswith(".tmp")]


def test_force_replaces_a_run_only_once_the_new_one_is_complete(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(OutputError, match="not empty"):
        check_output_dir(final)
    with pytest.raises(RuntimeError):
        with open_run(final, "demo", force=True) as run:
            run.write_text("new.txt", "new")
            raise RuntimeError("failed")
    assert _entries(final) == ["old.txt"]  # the failed run did not touch the old one
    with open_run(final, "demo", force=True) as run:
        run.write_text("new.txt", "new")
    assert _entries(final) == ["new.txt"]
    assert _entries(tmp_path) == ["run"]


def test_check_output_dir_refuses_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        check_output_dir(f)


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_run_files_get_the_users_usual_mode(tmp_path):
    with open_run(tmp_path / "run", "demo") as run:
        run.write_text("a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "run" / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o777 & ~mask
