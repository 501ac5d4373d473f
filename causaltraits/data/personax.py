"""The released PersonaX tables (AthlePersona, CelebPersona): find, fetch, read, map to a Dataset.

The hub layout is not documented, so the loader reads every plausible layout (parquet or CSV;
scores as five columns or one list-valued column; either LLM prefix spelling; face attributes as
+1/-1 or 1/0; embeddings as list-valued or numbered columns; a table split into several files)
and says precisely what it found when it cannot map a table (see :mod:`causaltraits.data.schema`).

Nothing is silently repaired: a score of 0 ("insufficient information") becomes missing; an
aggregate that disagrees with the median of the LLM scores is kept as released and the number of
disagreeing rows is stored in ``Dataset.info["aggregate_disagreements"]``; implausible
biographical values (height 0, month 13, latitude and longitude both 0) become missing and are
counted in ``Dataset.info["set_missing"]``.
"""

from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from causaltraits.data.dataset import TRAITS, Dataset, Roles, llm_trait_column
from causaltraits.data.schema import (
    EXPECTED,
    Schema,
    incomplete_trait_sources,
    infer_schema,
    load_schema,
    preview,
    trait_of,
)
from causaltraits.data.tables import (
    NA_STRINGS,
    categorical_column,
    numeric_column,
    read_columns,
    read_table,
    table_suffix,
)
from causaltraits.errors import DataError, DatasetNotFound

log = logging.getLogger(__name__)

RELEASED = ("athle", "celeb")
HUB_REPOS = {"athle": "Persona-X/athlepersona", "celeb": "Persona-X/celebpersona"}
TITLES = {"athle": "AthlePersona", "celeb": "CelebPersona"}
MANIFEST = "fetch.json"

LICENCE_TERMS = (
    "PersonaX data (AthlePersona, CelebPersona) licence terms: for non-commercial academic research "
    "only. Prohibited uses include high-stakes decisions about people (hiring, lending, admission, "
    "legal), surveillance, and automated personality profiling of individuals. Traits are LLM "
    "inferences from public information, not measurements of the persons."
)

_SPLIT_ORDER = ("train", "validation", "valid", "val", "dev", "test")
_SHARD = re.compile(r"[-_]\d{3,5}[-_]of[-_]\d{3,5}$")

#: plausible ranges of biographical values; outside them a value is a missing-value code
_BIO_VALID = {
    "Birthyear": (1, None),
    "Birthmonth": (1, 12),
    "Birthday": (1, 31),
    "Latitude": (-90, 90),
    "Longitude": (-180, 180),
    "Height": (1e-9, None),
    "Weight": (1e-9, None),
}


# ---------------------------------------------------------------------------------- where data lives
def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$CAUSALTRAITS_DATA``, else ``$XDG_CACHE_HOME/causaltraits`` (``~/.cache``)."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("CAUSALTRAITS_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "causaltraits"


def dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`fetch` puts a released dataset: ``<data root>/<name>``."""
    return data_root(data_dir) / _check_name(name)


def _check_name(name: str) -> str:
    key = str(name).strip().lower()
    if key not in RELEASED:
        raise DataError(f"unknown released dataset '{name}'; expected one of {', '.join(RELEASED)}")
    return key


def is_data_file(path: Path) -> bool:
    """A table file of a dataset directory (``.json`` files there are metadata, e.g. ``fetch.json``)."""
    return table_suffix(path) not in (None, ".json")


def _dataset_dir_names() -> set[str]:
    return {n for k in RELEASED for n in (k, f"{k}persona", TITLES[k].lower())}


def table_files(directory: Path) -> list[Path]:
    """CSV / parquet files under ``directory``, sorted.

    Hidden folders (``.cache``) are skipped, and so are top-level folders named after a released
    dataset (``athle/``, ``celeb/``): a data root is not itself a dataset directory.
    """
    out = []
    skip = _dataset_dir_names()
    for p in sorted(directory.rglob("*")):
        rel = p.relative_to(directory)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if len(rel.parts) > 1 and rel.parts[0].lower() in skip:
            continue
        if p.is_file() and is_data_file(p):
            out.append(p)
    return out


def locate(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The file or directory holding a released dataset, or :class:`DatasetNotFound` (one line)."""
    key = _check_name(name)
    root = data_root(data_dir)
    candidates = [root / key, root / f"{key}persona", root / TITLES[key]]
    if data_dir is not None:
        candidates.append(root)  # a directory or file given directly
    looked = []
    for i, c in enumerate(candidates):
        if c in looked:
            continue
        looked.append(c)
        named = i < 3  # a folder named after the dataset; the bare root must also look like it
        if c.is_file() and is_data_file(c) and (named or not _looks_like_other(key, [c])):
            return c
        if c.is_dir():
            files = table_files(c)
            if files and (named or not _looks_like_other(key, files)):
                return c
    where = " and ".join(str(c) for c in looked)
    raise DatasetNotFound(
        f"{key}: the released {TITLES[key]} table is not on disk (looked in {where}); fetch it with "
        f"'causaltraits data fetch {key}' (or pass --data-dir DIR), or run offline with the bundled '{key}-demo'"
    )


def _looks_like_other(key: str, files: list[Path]) -> bool:
    """True when the tables' columns mark them as the other released dataset (League vs Occupation/face)."""
    try:
        found = [infer_schema(pd.DataFrame(columns=read_columns(f))) for f in files]
    except DataError:
        return False
    athle = any("League" in s.bio_categorical for s in found)
    celeb = any(("Occupation" in s.bio_categorical) or s.face for s in found)
    return (key == "athle" and celeb and not athle) or (key == "celeb" and athle and not celeb)


# ---------------------------------------------------------------------------------- loading
def load_personax(name: str, data_dir: str | os.PathLike | None = None,
                  schema: str | os.PathLike | Schema | None = None, *, embeddings: bool = True) -> Dataset:
    """Load AthlePersona (``athle``) or CelebPersona (``celeb``) from the local cache or ``data_dir``.

    Parameters
    ----------
    name : ``athle`` | ``celeb``
    data_dir : the data root (holding ``<name>/``), a directory holding the table(s), or a table
        file; default ``$CAUSALTRAITS_DATA`` or ``~/.cache/causaltraits``
    schema : a JSON mapping file (or :class:`Schema`) for layouts the loader does not recognise
    embeddings : read the embedding columns too (they dominate memory; analyses of the structured
        variables do not need them)

    Returns
    -------
    Dataset
        mapped per the conventions of :mod:`causaltraits.data.dataset`; ``info`` says which files
        were read, whether the aggregate was released or recomputed, and how many rows disagree.

    Examples
    --------
    >>> ds = load_personax("athle")  # doctest: +SKIP
    >>> ds.trait_columns("chatgpt")  # doctest: +SKIP
    ['chatgpt_Openness', 'chatgpt_Conscientiousness', ...]
    """
    key = _check_name(name)
    path = locate(key, data_dir)
    ds = load_released_path(path, name=key, schema=schema, embeddings=embeddings)
    fetched = _read_manifest(path if path.is_dir() else path.parent)
    if fetched:
        ds.info["fetch"] = {k: v for k, v in fetched.items() if k != "files"}
        if fetched.get("repo"):
            ds.source = f"{fetched['repo']}@{str(fetched.get('commit', ''))[:12]} ({path})"
    return ds


def load_released_path(path: str | os.PathLike, name: str, schema: str | os.PathLike | Schema | None = None,
                       *, embeddings: bool = True) -> Dataset:
    """Read a PersonaX-like table (file or directory) and map it with an inferred or given schema."""
    p = Path(path)
    user = schema if isinstance(schema, Schema) or schema is None else load_schema(schema)
    if p.is_dir():
        frame, notes = _read_directory(p, user, embeddings)
    else:
        frame = _read(p, user, embeddings)
        notes = {"files": [str(p)]}
    frame.columns = [str(c) for c in frame.columns]
    inferred = infer_schema(frame, name)
    mapping = user.merged_over(inferred) if user is not None else inferred
    if not embeddings:
        mapping.embeddings = {}  # their columns were not read
    ds = map_frame(frame, mapping, name=name, where=str(p), embeddings=embeddings)
    ds.info = {**notes, **ds.info}
    if not embeddings:
        ds.info["embeddings"] = "not read (embeddings=False)"
    ds.source = str(p)
    log.info("%s: %d rows from %s (%s)", name, ds.n, ", ".join(map(str, ds.info.get("files", []))),
             ds.info.get("aggregate"))
    if name in RELEASED:
        ds.licence = LICENCE_TERMS
    return ds


def _read(f: Path, user: Schema | None, embeddings: bool) -> pd.DataFrame:
    """A table file; without ``embeddings`` its embedding columns (found on the first rows) are not read."""
    if embeddings:
        return read_table(f)
    head = read_table(f, nrows=50)
    head.columns = [str(c) for c in head.columns]
    inferred = infer_schema(head)
    mapping = user.merged_over(inferred) if user is not None else inferred
    skip = {c for src in mapping.embeddings.values() for c in ([src] if isinstance(src, str) else src)}
    if not skip:
        return read_table(f)
    return read_table(f, columns=[c for c in head.columns if c not in skip])


def _read_directory(d: Path, user: Schema | None, embeddings: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Pick the table file(s) of a directory: shards/splits with the main columns are stacked,
    files with further columns for the same ids are joined on the id column."""
    if user is not None and user.files:
        files = [d / f for f in user.files]
        for f in files:
            if not f.is_file():
                raise DataError(f"{d}: schema {user.origin} lists file '{f.relative_to(d)}', which does not exist")
    else:
        files = table_files(d)
    if not files:
        raise DatasetNotFound(f"{d}: no CSV or parquet table in this directory")
    # The same table saved in two formats (a.csv and a.parquet) is read once, preferring parquet.
    by_stem: dict[str, list[Path]] = {}
    for f in files:
        by_stem.setdefault(str(f.relative_to(d))[: -len(table_suffix(f))], []).append(f)
    preference = (".parquet", ".pq", ".jsonl", ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".json")
    ignored: list[str] = []
    chosen = []
    for stem, fs in by_stem.items():
        fs = sorted(fs, key=lambda f: preference.index(table_suffix(f)))
        chosen.append(fs[0])
        ignored.extend(f"{f.relative_to(d)} (same table as {fs[0].relative_to(d)})" for f in fs[1:])
    groups: dict[tuple[str, ...], list[Path]] = {}
    order: dict[tuple[str, ...], list[str]] = {}
    for f in sorted(chosen):
        cols = read_columns(f)
        key = tuple(sorted(cols))
        groups.setdefault(key, []).append(f)
        order.setdefault(key, cols)

    user_scores = [] if user is None else [c for c, role in user.source_columns()
                                           if role.startswith(("traits", "llm_scores"))]

    def has_traits(cols: tuple[str, ...]) -> bool:
        if user_scores:
            return all(c in cols for c in user_scores)
        s = infer_schema(pd.DataFrame(columns=order[cols]))
        return bool(s.traits or s.llm_scores)

    main = [cols for cols in groups if has_traits(cols)]
    if len(main) > 1:
        listing = "; ".join(", ".join(str(f.relative_to(d)) for f in groups[c]) for c in main)
        raise DataError(
            f"{d}: several tables hold trait scores with different columns ({listing}); "
            "name the one(s) to read with \"files\" in a --schema FILE"
        )
    if not main:  # let the mapper explain what is missing, on the largest table
        main = [max(groups, key=lambda c: (len(c), len(groups[c])))]
    main_cols = main[0]
    id_col = (user.id if user and user.id else None) or infer_schema(pd.DataFrame(columns=order[main_cols])).id
    frame = _stack(groups[main_cols], d, id_col, user, embeddings)
    used = [str(f.relative_to(d)) for f in _split_sorted(groups[main_cols])]
    notes: dict[str, Any] = {"files": used}
    for cols, fs in groups.items():
        if cols == main_cols:
            continue
        rel = [str(f.relative_to(d)) for f in fs]
        if id_col and id_col in cols and len(set(cols) - set(main_cols)) > 0:
            extra = _stack(fs, d, id_col, user, embeddings)
            keep = [id_col, *[c for c in extra.columns if c not in frame.columns]]
            extra = extra[keep]
            if extra[id_col].duplicated().any():
                ignored.extend(rel)
                continue
            frame = frame.merge(extra, on=id_col, how="left", validate="many_to_one")
            notes.setdefault("joined_files", []).extend(rel)
        else:
            ignored.extend(rel)
    if ignored:
        notes["ignored_files"] = ignored
    return frame, notes


def _split_sorted(files: list[Path]) -> list[Path]:
    def key(f: Path):
        stem = _SHARD.sub("", f.name.split(".")[0]).lower()
        rank = next((i for i, s in enumerate(_SPLIT_ORDER) if re.search(rf"(^|[^a-z]){s}($|[^a-z])", stem)),
                    len(_SPLIT_ORDER))
        return (rank, str(f))

    return sorted(files, key=key)


def _stack(files: list[Path], d: Path, id_col: str | None = None, user: Schema | None = None,
           embeddings: bool = True) -> pd.DataFrame:
    """Rows of several files with the same columns (shards, splits), in split order.

    Files that share ids are copies or overlapping versions, not parts of one table: refused.
    """
    files = _split_sorted(files)
    frames = [_read(f, user, embeddings) for f in files]
    if len(frames) == 1:
        return frames[0]
    if id_col is not None:
        seen: dict[Any, Path] = {}
        for f, fr in zip(files, frames):
            ids = set(fr[id_col].dropna().tolist())
            for g in {seen[i] for i in ids if i in seen}:
                shared = len(ids & {i for i, h in seen.items() if h == g})
                raise DataError(
                    f"{d}: files {g.relative_to(d)} and {f.relative_to(d)} share {shared} id(s) in column "
                    f"'{id_col}', so they are not parts of one table; name the file(s) to read with "
                    "\"files\" in a --schema FILE"
                )
            seen.update({i: f for i in ids})
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------- cell parsers
_NUM = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"


def parse_scores(cell: Any) -> list[float] | None:
    """The five scores (O, C, E, A, N) held in one cell, or None when the cell is missing.

    Accepts a list / array of five numbers, a dict keyed by trait (``O`` or ``Openness``), or a
    string holding either (JSON, Python literal, ``"1,2,0,3,2"``, ``"O:1 C:2 ..."``). Raises
    ValueError when the cell cannot be read.
    """
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return None
    if isinstance(cell, str):
        text = cell.strip()
        if text.lower() in NA_STRINGS:
            return None
        if text[:1] in "[({":
            try:
                cell = json.loads(text)
            except json.JSONDecodeError:
                try:
                    cell = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    pairs = re.findall(rf"([A-Za-z]+)['\"]?\s*[:=]\s*({_NUM})", text)
                    if pairs:
                        cell = dict(pairs)
                    else:
                        raise ValueError("not a list or mapping of five scores") from None
        elif re.search(r"[A-Za-z]", text):
            pairs = re.findall(rf"([A-Za-z]+)\s*[:=]\s*({_NUM})", text)
            if not pairs:
                raise ValueError("not a list or mapping of five scores")
            cell = dict(pairs)
        else:
            cell = re.split(r"[,;\s]+", text)
    if isinstance(cell, dict):
        by_trait: dict[str, Any] = {}
        for k, v in cell.items():
            t = trait_of(str(k))
            if t is None:
                raise ValueError(f"key {k!r} is not a Big Five trait")
            by_trait[t] = v
        if len(by_trait) != 5:
            raise ValueError(f"has {len(by_trait)} traits, 5 expected")
        cell = [by_trait[t] for t in TRAITS]
    if isinstance(cell, (list, tuple, np.ndarray)):
        vals = list(cell)
        if len(vals) != 5:
            raise ValueError(f"holds {len(vals)} values, 5 expected")
        out = []
        for v in vals:
            if v is None or (isinstance(v, str) and v.strip().lower() in NA_STRINGS):
                out.append(np.nan)
            else:
                out.append(float(v))
        return out
    raise ValueError("not a list or mapping of five scores")


def parse_vector(cell: Any) -> np.ndarray | None:
    """An embedding vector held in one cell (array, list or a string of numbers), None if missing."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return None
    if isinstance(cell, str):
        inner = cell.strip()
        if inner[:1] == "[" and inner[-1:] == "]":
            inner = inner[1:-1].strip()
        if not inner:
            return None
        if inner[:1] in "-+.0123456789":  # fast path: "[0.1, -2e-3, ...]" or "0.1 0.2 ..." parsed in C
            sep = "," if "," in inner else " "
            expected = inner.count(",") + 1 if sep == "," else len(inner.split())
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # older numpy warns where newer raises on bad text
                try:
                    v = np.fromstring(inner, sep=sep)
                except (ValueError, DeprecationWarning):
                    v = None
            if v is not None and v.size == expected:
                return v.astype(np.float64)
        # slow path, strict: every element must be a number
        # numpy reprs written to CSV: "[np.float64(0.1), ...]" / "array([0.1, ...], dtype=float32)"
        text = re.sub(r"(np\.)?(float|int)\d*\(|dtype=\w+|array\(", "", cell.strip())
        text = re.sub(r"[\[\]()]", " ", text).strip().strip(",").strip()
        if text.lower() in NA_STRINGS:
            return None
        pieces = [x.strip() for x in text.split(",")] if "," in text else text.split()
        if any(x == "" for x in pieces):
            raise ValueError("empty element")
        return np.array([float(x) for x in pieces], dtype=np.float64)
    return np.asarray(cell, dtype=np.float64).ravel()


# ---------------------------------------------------------------------------------- mapping
def map_frame(frame: pd.DataFrame, schema: Schema, *, name: str, where: str, embeddings: bool = True) -> Dataset:
    """Apply a schema to a source frame, producing a Dataset (see module docstring for the rules)."""
    cols_found = list(map(str, frame.columns))
    frame = frame.reset_index(drop=True)
    incomplete = incomplete_trait_sources(schema)
    if incomplete:
        raise DataError(f"{where}: incomplete Big Five columns: {incomplete[0]}; columns found: "
                        f"{preview(cols_found)}; give the mapping with --schema FILE")
    missing_roles = []
    has_traits = schema.traits is not None or bool(schema.llm_scores)
    generic = bool(schema.other_continuous or schema.other_categorical)
    if not has_traits and (name in EXPECTED or not generic):
        missing_roles.append("traits (no aggregate or per-LLM Big Five columns recognised)")
    if name in EXPECTED and not (schema.bio_continuous or schema.bio_categorical or schema.face):
        missing_roles.append("attributes (no biographical or face columns recognised, e.g. Birthyear, League)")
    if missing_roles:
        raise DataError(
            f"{where}: cannot map the table to {name}: roles missing: {'; '.join(missing_roles)}; "
            f"columns found: {preview(cols_found)}; say which column plays which role with --schema FILE "
            "(format: python -m pydoc causaltraits.data.schema)"
        )
    schema.check_columns(cols_found, where)

    out: dict[str, pd.Series] = {}
    codes: dict[str, list[str]] = {}
    info: dict[str, Any] = {"schema": schema.origin}
    roles = Roles()

    set_missing: dict[str, int] = {}
    for target, src in schema.bio_continuous.items():
        vals = numeric_column(frame[src], src, where, hint="; map it with --schema FILE if it is not a number")
        vals, k = _plausible(target, vals)
        if k:
            set_missing[target] = k
        out[target] = vals
        roles.bio_continuous.append(target)
    if "Latitude" in out and "Longitude" in out:
        null_island = (out["Latitude"] == 0) & (out["Longitude"] == 0)
        if null_island.any():
            out["Latitude"] = out["Latitude"].mask(null_island)
            out["Longitude"] = out["Longitude"].mask(null_island)
            set_missing["Latitude/Longitude (0, 0)"] = int(null_island.sum())
    if set_missing:
        info["set_missing"] = set_missing
    for target, src in schema.bio_categorical.items():
        out[target], codes[target] = categorical_column(frame[src], src, where, schema.labels.get(target))
        roles.bio_categorical.append(target)
    for target, src in schema.face.items():
        out[target] = _binary(frame[src], src, where)
        roles.face.append(target)

    llm_blocks: dict[str, pd.DataFrame] = {}
    for llm, src in schema.llm_scores.items():
        block = _trait_block(frame, src, f"LLM '{llm}'", where, schema, aggregate=False)
        block.columns = [llm_trait_column(llm, t) for t in TRAITS]
        llm_blocks[llm] = block
    recomputed = _median_of(llm_blocks) if llm_blocks else None
    agg = None
    if schema.traits is not None:
        agg = _trait_block(frame, schema.traits, "aggregate", where, schema, aggregate=True)
        agg.columns = list(TRAITS)
        info["aggregate"] = "released"
        if recomputed is not None:
            info.update(_compare_aggregate(agg, recomputed))
        else:
            info["aggregate"] = "released (not checked: no per-LLM scores in the table)"
    elif recomputed is not None:
        agg = recomputed
        info["aggregate"] = "recomputed: median of the non-missing LLM scores per trait"
    if agg is not None:
        for t in TRAITS:
            out[t] = agg[t]
        roles.traits = list(TRAITS)
        info["missing_share_traits"] = {t: float(agg[t].isna().mean()) for t in TRAITS}
    for llm, block in llm_blocks.items():
        for c in block.columns:
            out[c] = block[c]
        roles.llm_traits[llm] = list(block.columns)

    for target, src in schema.other_continuous.items():
        out[target] = numeric_column(frame[src], src, where)
        roles.other_continuous.append(target)
    for target, src in schema.other_categorical.items():
        out[target], codes[target] = categorical_column(frame[src], src, where, schema.labels.get(target))
        roles.other_categorical.append(target)

    mapped = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    if embeddings and schema.embeddings:
        blocks = []
        dims = {}
        for mod, src in schema.embeddings.items():
            mat = _embedding_matrix(frame, src, mod, where)
            names = [f"{mod}_emb_{i}" for i in range(mat.shape[1])]
            blocks.append(pd.DataFrame(mat, columns=names))
            roles.embeddings[mod] = names
            dims[mod] = int(mat.shape[1])
        mapped = pd.concat([mapped, *blocks], axis=1)
        info["embedding_dims"] = dims

    ids = None
    if schema.id:
        ids = frame[schema.id].reset_index(drop=True)
        dup = int(ids.duplicated().sum())
        if dup:
            info["duplicate_ids"] = dup
        if info.get("aggregate_disagreement_rows"):
            info["aggregate_disagreement_ids"] = [str(ids.iloc[r]) for r in info["aggregate_disagreement_rows"]]
    if name in EXPECTED:
        absent = [c for role, names in EXPECTED[name].items() for c in names if c not in getattr(roles, role)]
        if absent:
            info["absent"] = absent
    if schema.unused:
        info["unused_columns"] = list(schema.unused)
    return Dataset(name=name, frame=mapped, roles=roles, llms=list(llm_blocks), codes=codes, source=where,
                   ids=ids, info=info)


def _plausible(target: str, vals: pd.Series) -> tuple[pd.Series, int]:
    """Values outside the plausible range of a biographical variable become NaN (a missing code)."""
    lo, hi = _BIO_VALID.get(target, (None, None))
    bad = pd.Series(False, index=vals.index)
    if lo is not None:
        bad |= vals < lo
    if hi is not None:
        bad |= vals > hi
    return vals.mask(bad), int(bad.sum())


def _binary(s: pd.Series, col: str, where: str) -> pd.Series:
    """Face attribute as 1 / 0: accepts +1/-1, 1/0, true/false, yes/no."""
    obj = s.reset_index(drop=True)
    if not pd.api.types.is_numeric_dtype(obj):
        words = {"true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}
        obj = obj.map(lambda v: words.get(v.strip().lower(), v) if isinstance(v, str) else v)
    vals = numeric_column(obj, col, where)
    present = set(np.unique(vals.dropna().to_numpy()))
    if present <= {0.0, 1.0}:
        return vals
    if present <= {-1.0, 1.0}:
        return (vals > 0).astype("float64").mask(vals.isna())
    shown = ", ".join(f"{v:g}" for v in sorted(present)[:6])
    raise DataError(f"{where}: face attribute column '{col}' holds {shown}; expected +1/-1 or 1/0 "
                    "(with -1, 0 and 1 together it is unclear whether 0 means absent or missing)")


def _trait_block(frame: pd.DataFrame, src: Any, what: str, where: str, schema: Schema,
                 aggregate: bool) -> pd.DataFrame:
    """Five float columns of scores, 0 ("insufficient information") -> NaN, range-checked."""
    if isinstance(src, str):
        rows = []
        cache: dict[str, Any] = {}
        for i, cell in enumerate(frame[src].tolist()):
            try:
                if isinstance(cell, str):
                    if cell not in cache:
                        cache[cell] = parse_scores(cell)
                    r = cache[cell]
                else:
                    r = parse_scores(cell)
            except (ValueError, TypeError) as e:
                raise DataError(f"{where}: column '{src}' ({what} Big Five) row {i + 1} holds {_short(cell)}: {e}; "
                                "expected five scores, e.g. [1,2,0,3,2] or {\"O\": 1, ...}") from None
            rows.append(r if r is not None else [np.nan] * 5)
        block = pd.DataFrame(np.array(rows, dtype=np.float64).reshape(len(rows), 5), columns=list(TRAITS))
        sources = {t: f"{src}[{t[0]}]" for t in TRAITS}
    else:
        block = pd.DataFrame({t: numeric_column(frame[c], c, where) for t, c in src.items()})
        sources = dict(src)
    if schema.trait_missing is not None:
        block = block.mask(block == schema.trait_missing)
    lo, hi = schema.trait_range
    for t in TRAITS:
        v = block[t].dropna().to_numpy()
        step = 0.5 if aggregate else 1.0  # a median of two scores may be a half level
        bad = v[(v < lo) | (v > hi) | ~np.isclose(v / step, np.round(v / step))]
        if bad.size:
            shown = ", ".join(f"{x:g}" for x in np.unique(bad)[:5])
            zero = f", {schema.trait_missing:g} = insufficient information" if schema.trait_missing is not None else ""
            raise DataError(
                f"{where}: column '{sources[t]}' ({what} {t}) holds {shown}; expected "
                f"{'levels' if not aggregate else 'medians'} {lo:g}..{hi:g}{zero}; declare another scale with "
                "\"trait_range\" in a --schema FILE"
            )
    return block


def _short(v: Any) -> str:
    t = repr(v)
    return t if len(t) <= 60 else t[:57] + "..."


def _median_of(blocks: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Median over LLMs of the non-missing scores, per row and trait (NaN when all are missing)."""
    out = {}
    for t in TRAITS:
        stack = np.column_stack([b.iloc[:, TRAITS.index(t)].to_numpy() for b in blocks.values()])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as intended
            out[t] = np.nanmedian(stack, axis=1)
    return pd.DataFrame(out)


def _compare_aggregate(released: pd.DataFrame, recomputed: pd.DataFrame) -> dict[str, Any]:
    """Rows where the released aggregate differs from the median of the LLM scores.

    A median of two scores one level apart (e.g. 1.5) matched by either neighbour is a tie-break,
    counted separately, not a disagreement.
    """
    disagree = np.zeros(len(released), dtype=bool)
    ties = np.zeros(len(released), dtype=bool)
    by_trait = {}
    for t in TRAITS:
        a = released[t].to_numpy()
        m = recomputed[t].to_numpy()
        both_nan = np.isnan(a) & np.isnan(m)
        equal = np.isclose(a, m) | both_nan
        half = ~np.isnan(m) & ~np.isclose(m, np.round(m))
        tie = half & ~np.isnan(a) & (np.isclose(a, np.floor(m)) | np.isclose(a, np.ceil(m)))
        bad = ~equal & ~tie
        by_trait[t] = int(bad.sum())
        disagree |= bad
        ties |= tie
    rows = np.flatnonzero(disagree)
    return {
        "aggregate_disagreements": int(disagree.sum()),
        "aggregate_disagreements_by_trait": by_trait,
        "aggregate_disagreement_rows": [int(r) for r in rows[:50]],
        "aggregate_tie_breaks": int(ties.sum()),
    }


def _embedding_matrix(frame: pd.DataFrame, src: Any, mod: str, where: str) -> np.ndarray:
    if isinstance(src, list):
        return np.column_stack([numeric_column(frame[c], c, where).to_numpy() for c in src])
    fast = _string_vectors_fast(frame[src])
    if fast is not None:
        return fast
    vecs = []
    dim = None
    for i, cell in enumerate(frame[src].tolist()):
        try:
            v = parse_vector(cell)
        except (ValueError, TypeError):
            raise DataError(f"{where}: column '{src}' (embedding {mod}) row {i + 1} holds {_short(cell)}; "
                            "expected a list of numbers") from None
        if v is not None:
            if dim is None:
                dim = v.size
            elif v.size != dim:
                raise DataError(f"{where}: column '{src}' (embedding {mod}) row {i + 1} has {v.size} values, "
                                f"earlier rows {dim}; all embeddings of a modality must have one dimension")
        vecs.append(v)
    if dim is None:
        raise DataError(f"{where}: column '{src}' (embedding {mod}) has no values (all missing)")
    mat = np.full((len(vecs), dim), np.nan)
    for i, v in enumerate(vecs):
        if v is not None:
            mat[i] = v
    return mat


def _string_vectors_fast(col: pd.Series) -> np.ndarray | None:
    """Vectors written as text ("[0.1, 0.2, ...]") parsed in one pass of pandas' C reader.

    Returns None (the caller then parses cell by cell, with precise errors) unless every
    non-missing cell is a plain comma-separated list of the same length without NaN.
    """
    if pd.api.types.is_numeric_dtype(col):
        return None
    cells = col.reset_index(drop=True)
    present = cells.map(lambda v: isinstance(v, str) and v.strip().lower() not in NA_STRINGS and v.strip() != "[]")
    if not present.any() or not cells[~present].map(lambda v: v is None or isinstance(v, (str, float))).all():
        return None
    text = cells[present].astype(str).str.strip().str.strip("[]")
    commas = text.str.count(",")
    if commas.nunique() != 1 or int(commas.iloc[0]) == 0:
        return None
    import io

    try:
        block = pd.read_csv(io.StringIO("\n".join(text.tolist())), header=None, dtype=np.float64,
                            engine="c", skip_blank_lines=False).to_numpy()
    except (ValueError, pd.errors.ParserError):
        return None
    if block.shape != (int(present.sum()), int(commas.iloc[0]) + 1) or np.isnan(block).any():
        return None
    out = np.full((len(cells), block.shape[1]), np.nan)
    out[present.to_numpy()] = block
    return out


# ---------------------------------------------------------------------------------- fetching
def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, data_dir: str | os.PathLike | None = None, *, revision: str = "main",
          force: bool = False) -> dict[str, Any]:
    """Download a released dataset from the Hugging Face hub into ``<data root>/<name>``.

    The files go to a temporary directory beside the target, are hashed (sha256, recorded in
    ``fetch.json``) and only then renamed into place, so an interrupted download leaves the
    previous copy (if any) intact. The hub address honours ``HF_ENDPOINT``. A copy of the same
    commit whose files still match their recorded hashes is kept (``up_to_date``) unless ``force``.

    Returns
    -------
    dict
        the manifest: ``repo``, ``commit``, ``path``, ``files`` (relative path -> sha256 and
        bytes), ``licence`` (the terms the caller must show the user) and ``up_to_date``.
    """
    key = _check_name(name)
    repo = HUB_REPOS[key]
    target = dataset_dir(key, data_dir)
    endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    try:
        from huggingface_hub import HfApi, snapshot_download
    except ImportError:  # pragma: no cover - a declared dependency
        raise DatasetNotFound("fetching needs the huggingface_hub package (pip install huggingface_hub)") from None

    def failed(e: Exception) -> DatasetNotFound:
        if type(e).__name__ in ("RepositoryNotFoundError", "GatedRepoError"):
            why = ("repository not found or not accessible (if it is gated, accept its terms on the hub "
                   "and log in with 'hf auth login')")
        else:
            why = f"{type(e).__name__}: {_first_line(e)}"
        return DatasetNotFound(
            f"could not download {repo} (revision {revision}) from {endpoint}: {why}; "
            f"check the network connection (or HF_ENDPOINT); '{key}-demo' runs offline"
        )

    try:
        commit = HfApi(endpoint=endpoint).repo_info(repo, repo_type="dataset", revision=revision).sha
    except Exception as e:  # noqa: BLE001 - network/hub failures of many types become one line
        raise failed(e) from None
    if not force:
        current = _read_manifest(target)
        if current and current.get("commit") == commit and not verify(key, data_dir):
            return {**current, "path": str(target), "up_to_date": True}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetNotFound(f"cannot create {target.parent}: {e.strerror}; choose another --data-dir") from None
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.partial-", dir=target.parent))
    try:
        try:
            snapshot_download(repo, repo_type="dataset", revision=commit, local_dir=staging, endpoint=endpoint)
        except Exception as e:  # noqa: BLE001
            raise failed(e) from None
        shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
        files = {}
        for f in sorted(p for p in staging.rglob("*") if p.is_file()):
            files[f.relative_to(staging).as_posix()] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
        if not any(is_data_file(Path(f)) for f in files):
            raise DatasetNotFound(f"{repo} at {commit} holds no CSV or parquet table (files: {preview(files)})")
        manifest = {
            "dataset": key,
            "repo": repo,
            "repo_type": "dataset",
            "revision": revision,
            "commit": commit,
            "endpoint": endpoint,
            "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "files": files,
            "licence": LICENCE_TERMS,
        }
        from causaltraits.runs import publish_dir, write_json

        write_json(staging / MANIFEST, manifest)
        publish_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {**manifest, "path": str(target), "up_to_date": False}


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        m = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return m if isinstance(m, dict) else None


def verify(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Files of a fetched dataset that are missing or differ from their sha256 in ``fetch.json``.

    An empty list means the copy is intact; a copy without ``fetch.json`` gives ``["fetch.json"]``.
    """
    target = dataset_dir(name, data_dir)
    m = _read_manifest(target)
    if not m or not isinstance(m.get("files"), dict):
        return [MANIFEST]
    bad = []
    for rel, meta in sorted(m["files"].items()):
        f = target / rel
        if not f.is_file() or f.stat().st_size != meta.get("bytes") or sha256_file(f) != meta.get("sha256"):
            bad.append(rel)
    return bad


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= 200 else text[:197] + "..."


def status(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Whether a released dataset is on disk: ``{"on_disk", "path", "files", "commit"}`` (no hashing)."""
    key = _check_name(name)
    try:
        path = locate(key, data_dir)
    except DatasetNotFound:
        return {"name": key, "on_disk": False, "path": str(dataset_dir(key, data_dir)), "files": []}
    files = [str(f.relative_to(path)) for f in table_files(path)] if path.is_dir() else [path.name]
    out = {"name": key, "on_disk": True, "path": str(path), "files": files}
    manifest = (path if path.is_dir() else path.parent) / MANIFEST
    if manifest.is_file():
        try:
            out["commit"] = json.loads(manifest.read_text()).get("commit")
        except (OSError, json.JSONDecodeError):
            pass
    return out


__all__ = ["load_personax", "load_released_path", "fetch", "verify", "locate", "status", "data_root", "dataset_dir",
           "map_frame", "parse_scores", "LICENCE_TERMS", "HUB_REPOS"]
