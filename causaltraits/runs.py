"""Run directories: where an analysis writes, and how it writes without leaving half a result.

A run is staged in a hidden sibling directory (``.<name>.partial-<pid>``) and renamed to its
final name only when the analysis finished; an interrupted or failed run leaves nothing behind
under the final name. Single files outside a run use :func:`atomic_write` (temporary name, then
``os.replace``).

Layout of a run directory (every analysis writes a subset):

``manifest.json``   versions, dataset name and content hash, parameters, seed, timings
``graph.json`` ...  discovery outputs (see :mod:`causaltraits.discovery.graph`)
``citests.csv``     every CI test run
``cache/``          persistent CI-test result cache
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from causaltraits.errors import OutputError

DEFAULT_RESULTS = Path("results") / "runs"

_VERSIONED = (
    "causaltraits",
    "causal-learn",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "networkx",
    "matplotlib",
    "pyarrow",
    "numba",
    "scikit-learn",
)


def timestamp() -> str:
    """UTC timestamp used in default run names, e.g. ``20261125T173716Z``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour a result depends on."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def check_output_dir(path: str | os.PathLike, force: bool = False) -> Path:
    """Validate an output directory before any work starts.

    Raises :class:`OutputError` if ``path`` exists and is a non-empty directory (unless
    ``force``), or exists and is not a directory. Nothing is created here.
    """
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise OutputError(f"output path {p} exists and is not a directory")
        if any(p.iterdir()) and not force:
            raise OutputError(
                f"output directory {p} exists and is not empty; choose another --out or pass --force"
            )
    parent = p.parent if p.parent != Path("") else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent if probe.parent != probe else probe
        if probe == probe.parent:
            break
    if probe.exists() and not os.access(probe, os.W_OK):
        raise OutputError(f"cannot write under {probe}: permission denied")
    return p


def default_run_dir(dataset_name: str, root: str | os.PathLike | None = None) -> Path:
    """``results/runs/<dataset>-<timestamp>/`` (a suffix is added if that name is taken)."""
    root = Path(root) if root is not None else DEFAULT_RESULTS
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in dataset_name)
    base = root / f"{safe}-{timestamp()}"
    p, k = base, 1
    while p.exists():
        k += 1
        p = base.with_name(f"{base.name}-{k}")
    return p


class Run:
    """A run directory being written. Use :func:`open_run`; files go to ``run.path``."""

    def __init__(self, final: Path, staging: Path):
        self.final = final
        self.path = staging
        self.manifest: dict[str, Any] = {}

    def file(self, name: str) -> Path:
        """Path of ``name`` inside the staging directory (parents created)."""
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_json(self, name: str, obj: Any) -> Path:
        p = self.file(name)
        write_json(p, obj)
        return p

    def write_text(self, name: str, text: str) -> Path:
        p = self.file(name)
        write_text(p, text)
        return p


@contextlib.contextmanager
def open_run(out: str | os.PathLike | None, dataset_name: str, force: bool = False,
             root: str | os.PathLike | None = None) -> Iterator[Run]:
    """Stage a run directory and publish it atomically on success.

    ``out=None`` gives the default ``results/runs/<dataset>-<timestamp>/``. With ``force`` an
    existing directory is replaced, but only once the new run is complete. On any exception
    (KeyboardInterrupt included) the staging directory is removed and nothing appears at the
    final path.
    """
    final = Path(out) if out is not None else default_run_dir(dataset_name, root)
    check_output_dir(final, force=force)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    _normal_mode(staging, directory=True)
    run = Run(final, staging)
    try:
        yield run
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish_dir(staging, final)
    run.path = final


def publish_dir(staging: str | os.PathLike, final: str | os.PathLike) -> None:
    """Put the complete directory ``staging`` at ``final`` (same parent), replacing what was there.

    Any previous content is moved aside first, so the window in which ``final`` is missing is two
    renames long, and it is deleted only after the new directory is in place.
    """
    staging, final = Path(staging), Path(final)
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.rmdir(old)
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once: os.umask is process-wide and setting it is not thread-safe


def _normal_mode(path: str | os.PathLike, directory: bool = False) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give results the user's usual mode."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_UMASK)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (Path,)):
        return str(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps_json(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=True) + "\n"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file beside ``path``; on success rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    _normal_mode(tmp)
    try:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for writers that take a file name; rename on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    _normal_mode(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, through a temporary file renamed on success."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, dumps_json(obj))


def base_manifest(command: str, dataset: Any, params: dict[str, Any], seed: int | None) -> dict[str, Any]:
    """The common part of ``manifest.json``: what ran, on what, with which software."""
    return {
        "command": command,
        "argv": sys.argv[1:],
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "dataset": {
            "name": getattr(dataset, "name", None),
            "source": getattr(dataset, "source", None),
            "content_hash": getattr(dataset, "content_hash", None),
            "rows": int(len(dataset.frame)) if hasattr(dataset, "frame") else None,
        },
        "parameters": params,
        "seed": seed,
        "timings_s": {},
    }
