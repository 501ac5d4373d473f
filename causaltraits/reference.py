"""Regenerate (or check) the committed reference results in ``results/reference/``.

One reference run of each main command on the bundled demo data, run through the real command
line in-process (click's test runner) with fixed seeds:

=========================== ===============================================================
``discover-athle-demo``     ``discover --dataset athle-demo`` (PC, default test ``auto``)
``discover-celeb-demo``     ``discover --dataset celeb-demo`` (PC, default test ``auto``)
``independence-athle-demo`` ``independence --dataset athle-demo --llm all`` with the tests
                            ``rcit,lowrank,fisherz,chisq,gsq`` (kci and hsic left out: minutes)
``crl-fit-athle-demo``      ``crl fit --dataset athle-demo --epochs 20`` (small, documented)
``report``                  ``report`` over the four runs -> ``report/report.pdf``
=========================== ===============================================================

What is kept is small and reviewable: persistent CI-test caches (``cache/``), parquet copies of
CSV matrices and model weights (``*.npz``) are removed, CSV files over 1 MB are gzipped
(``citests.csv.gz`` of ``discover-celeb-demo``), and wall-clock fields (see
:data:`VOLATILE_KEYS`) are removed from the JSON files other than ``manifest.json``, so that
the same code gives byte-identical JSON and CSV files. ``manifest.json`` (dates, versions,
timings, paths) is left as written and is not compared.

Usage::

    python -m causaltraits.reference                 # rewrite results/reference/
    python -m causaltraits.reference --check         # regenerate in a temp dir and compare
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence
from causaltraits.runs import publish_dir

_REPO = Path(__file__).resolve().parent.parent
#: default location of the committed reference results: the repository's results/reference/ (source
#: checkout or editable install), else results/reference/ under the working directory
DEFAULT_OUT = (_REPO if (_REPO / "setup.cfg").is_file() else Path.cwd()) / "results" / "reference"

#: the seed of every randomised step
SEED = 0

#: independence tests of the reference battery: deterministic ones and fast seeded kernel tests
INDEPENDENCE_TESTS = ("rcit", "lowrank", "fisherz", "chisq", "gsq")

#: CRL epochs of the reference fit (the command's default, 200, takes minutes on 2 cores)
CRL_EPOCHS = 20

#: JSON keys holding wall-clock measurements, removed from reference copies (not from manifests)
VOLATILE_KEYS = frozenset({"seconds", "fit_seconds", "total_seconds", "epochs_per_s"})

#: files and folders not kept in the reference copies (caches, binary duplicates, model weights)
DROP_DIRS = ("cache",)
DROP_SUFFIXES = (".parquet", ".npz")

#: CSV files larger than this are kept gzip-compressed (``.csv.gz``, written with mtime 0)
GZIP_ABOVE_BYTES = 1_000_000

#: the files compared by --check (``.csv.gz`` by their decompressed bytes)
COMPARED_SUFFIXES = (".json", ".csv", ".csv.gz")
NOT_COMPARED = ("manifest.json",)


@dataclass(frozen=True)
class ReferenceRun:
    """One reference run: the folder it is written to and the command-line arguments (no --out)."""

    name: str
    args: tuple[str, ...]


RUNS: tuple[ReferenceRun, ...] = (
    ReferenceRun("discover-athle-demo", ("discover", "--dataset", "athle-demo", "--seed", str(SEED))),
    ReferenceRun("discover-celeb-demo", ("discover", "--dataset", "celeb-demo", "--seed", str(SEED))),
    ReferenceRun("independence-athle-demo",
                 ("independence", "--dataset", "athle-demo", "--llm", "all",
                  "--tests", ",".join(INDEPENDENCE_TESTS), "--seed", str(SEED))),
    ReferenceRun("crl-fit-athle-demo",
                 ("crl", "fit", "--dataset", "athle-demo", "--epochs", str(CRL_EPOCHS), "--seed", str(SEED))),
)
REPORT_DIR = "report"
REPORT_NAME = "report.pdf"


def _invoke(args: Sequence[str]) -> str:
    """Run one ``causaltraits`` command in-process; return its standard output or raise on failure."""
    from click.testing import CliRunner

    from causaltraits.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    if result.exit_code != 0:
        detail = result.output.strip().splitlines()[-5:]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise RuntimeError(f"causaltraits {' '.join(args)} failed: {result.exception!r}") from result.exception
        raise RuntimeError(f"causaltraits {' '.join(args)} exited {result.exit_code}: {' | '.join(detail)}")
    return result.output


def _strip_volatile(obj: Any) -> tuple[Any, bool]:
    """``obj`` without :data:`VOLATILE_KEYS` at any depth, and whether anything was removed."""
    if isinstance(obj, dict):
        changed = False
        out = {}
        for k, v in obj.items():
            if k in VOLATILE_KEYS:
                changed = True
                continue
            out[k], c = _strip_volatile(v)
            changed |= c
        return out, changed
    if isinstance(obj, list):
        items = [_strip_volatile(v) for v in obj]
        return [v for v, _ in items], any(c for _, c in items)
    return obj, False


def tidy(run_dir: Path) -> None:
    """Make one run directory a reference copy: drop caches and binaries, strip wall-clock fields."""
    from causaltraits.runs import write_json

    for d in DROP_DIRS:
        for p in sorted(run_dir.rglob(d)):
            if p.is_dir():
                shutil.rmtree(p)
    for p in sorted(run_dir.rglob("*")):
        if p.is_file() and p.suffix in DROP_SUFFIXES:
            p.unlink()
    for p in sorted(run_dir.rglob("*.csv")):
        if p.stat().st_size > GZIP_ABOVE_BYTES:
            gz = p.with_name(p.name + ".gz")
            with open(gz, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
                f.write(p.read_bytes())
            p.unlink()
    for p in sorted(run_dir.rglob("*.json")):
        if p.name in NOT_COMPARED:
            continue
        obj, changed = _strip_volatile(json.loads(p.read_text(encoding="utf-8")))
        if changed:  # rewrite only then, so untouched files stay exactly as the command wrote them
            write_json(p, obj)


def generate(out: str | os.PathLike, log=None) -> dict[str, float]:
    """Write every reference run and the report into ``out`` (created; must not hold other runs).

    Returns the seconds each step took.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for run in RUNS:
        t0 = time.perf_counter()
        _invoke([*run.args, "--out", str(out / run.name), "--force"])
        timings[run.name] = time.perf_counter() - t0
        if log:
            log(f"{run.name}: {timings[run.name]:.1f} s")
    t0 = time.perf_counter()
    (out / REPORT_DIR).mkdir(exist_ok=True)
    _invoke(["report", *(str(out / r.name) for r in RUNS), "--out", str(out / REPORT_DIR / REPORT_NAME), "--force"])
    timings[REPORT_DIR] = time.perf_counter() - t0
    if log:
        log(f"{REPORT_DIR}: {timings[REPORT_DIR]:.1f} s")
    # tidy only after the report, which may read the files that are dropped
    for run in RUNS:
        tidy(out / run.name)
    return timings


def compared_files(root: Path) -> set[str]:
    """Relative paths (POSIX) of the JSON and CSV files under ``root`` that --check compares."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.name.endswith(COMPARED_SUFFIXES) and p.name not in NOT_COMPARED}


def _content(path: Path) -> bytes:
    """The bytes compared: the file's, or for ``.gz`` the decompressed ones."""
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


def compare(expected: Path, actual: Path) -> dict[str, list[str]]:
    """Byte-for-byte comparison of the compared files: ``{'differ': [...], 'missing': [...], 'extra': [...]}``.

    ``missing``: in ``expected`` only; ``extra``: in ``actual`` only.
    """
    want, got = compared_files(expected), compared_files(actual)
    differ = sorted(f for f in want & got if _content(expected / f) != _content(actual / f))
    return {"differ": differ, "missing": sorted(want - got), "extra": sorted(got - want)}


def regenerate(out: str | os.PathLike = DEFAULT_OUT, log=None) -> dict[str, float]:
    """Regenerate the reference results at ``out``, replacing them only once all are complete."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        timings = generate(staging, log=log)
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a published results folder is not
        publish_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return timings


def check(out: str | os.PathLike = DEFAULT_OUT, log=None) -> dict[str, list[str]]:
    """Regenerate into a temporary directory and compare with the committed results at ``out``."""
    out = Path(out)
    if not out.is_dir():
        from causaltraits.errors import ParameterError

        raise ParameterError(f"{out} does not exist; generate it first with: python -m causaltraits.reference")
    with tempfile.TemporaryDirectory(prefix="causaltraits-reference-") as tmp:
        generate(Path(tmp) / "reference", log=log)
        return compare(out, Path(tmp) / "reference")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m causaltraits.reference [--out DIR] [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m causaltraits.reference", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"reference folder [default: {DEFAULT_OUT}]")
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temp dir and compare every JSON/CSV file (manifest.json excluded)")
    a = parser.parse_args(argv)

    def log(s: str) -> None:
        print(s, file=sys.stderr)

    from causaltraits.errors import CausalTraitsError

    t0 = time.perf_counter()
    try:
        if not a.check:
            regenerate(a.out, log=log)
            print(f"reference results written to {a.out} in {time.perf_counter() - t0:.0f} s")
            return 0
        diff = check(a.out, log=log)
    except CausalTraitsError as e:
        print(f"causaltraits.reference: error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # a reference command failed: say which, without a traceback
        print(f"causaltraits.reference: {e}", file=sys.stderr)
        return 1
    n = len(compared_files(Path(a.out)))
    if not any(diff.values()):
        print(f"reference results reproduced: {n} JSON/CSV files identical ({time.perf_counter() - t0:.0f} s)")
        return 0
    for kind, files in diff.items():
        for f in files:
            print(f"{kind}: {f}")
    print(f"reference results NOT reproduced: {len(diff['differ'])} differ, {len(diff['missing'])} missing, "
          f"{len(diff['extra'])} extra (of {n} committed JSON/CSV files)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
