"""Any CSV / parquet table as a :class:`~causaltraits.data.Dataset`, and the readers and column
converters the released-table loader shares.

A generic table has no PersonaX meaning: every column (or those named by ``columns``) is a
variable, numeric columns are continuous, columns named in ``categorical`` become integer codes
with their labels in ``Dataset.codes``. Text columns must be declared categorical. A ``schema``
file (see :mod:`causaltraits.data.schema`) maps a generic table to PersonaX roles instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from causaltraits.data.dataset import Dataset, Roles
from causaltraits.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
JSON_SUFFIXES = (".jsonl", ".json")
#: cell text that means "missing" in a CSV
NA_STRINGS = frozenset({"", "na", "n/a", "nan", "none", "null", "-", "?", "missing", "#n/a"})


def table_suffix(path: str | os.PathLike) -> str | None:
    """The recognised table suffix of ``path`` (``.csv``, ``.parquet`` ...), or None."""
    name = str(path).lower()
    for suf in (*CSV_SUFFIXES[2:], *CSV_SUFFIXES[:2], *PARQUET_SUFFIXES, *JSON_SUFFIXES):
        if name.endswith(suf):
            return suf
    return None


def read_columns(path: str | os.PathLike) -> list[str]:
    """Column names of a table file without reading its rows."""
    p = Path(path)
    suf = table_suffix(p)
    try:
        if suf in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            return [str(c) for c in pq.read_schema(p).names if not str(c).startswith("__index_level")]
        if suf in JSON_SUFFIXES:
            return [str(c) for c in read_table(p).columns]
        sep = "\t" if suf and suf.startswith(".tsv") else ","
        return [str(c) for c in pd.read_csv(p, sep=sep, nrows=0).columns]
    except Exception as e:  # noqa: BLE001 - any reader failure is a user-file problem here
        raise DataError(f"{p}: cannot read the header ({_reason(e)}); expected a CSV or parquet table") from None


def read_table(path: str | os.PathLike, columns: Sequence[str] | None = None,
               nrows: int | None = None) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.tsv``, ``.csv.gz``), parquet or JSON-lines file.

    ``columns`` reads only those columns (parquet and CSV skip the others while reading);
    ``nrows`` reads only the first rows. Unreadable files raise a one-line :class:`DataError`.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found (expected a CSV or parquet table)")
    if p.is_dir():
        raise DataError(f"{p} is a directory; expected a CSV or parquet file")
    suf = table_suffix(p)
    if suf is None:
        raise DataError(f"{p}: unsupported file type; expected .csv, .tsv, .csv.gz, .parquet, .pq, .jsonl or .json")
    if suf in PARQUET_SUFFIXES:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            if nrows is not None:
                pf = pq.ParquetFile(p)
                batch = next(pf.iter_batches(batch_size=nrows, columns=columns), None)
                table = pa.Table.from_batches([batch]) if batch is not None else pf.schema_arrow.empty_table()
            else:
                table = pq.read_table(p, columns=list(columns) if columns is not None else None)
        except (pa.ArrowException, OSError, ValueError) as e:
            raise DataError(f"{p}: cannot read as parquet (truncated or not a parquet file: {_reason(e)})") from None
        frame = table.to_pandas()
        if isinstance(frame.index, pd.RangeIndex):
            return frame
        return frame.reset_index(drop=frame.index.name is None)
    if suf in JSON_SUFFIXES:
        try:
            frame = pd.read_json(p, lines=suf == ".jsonl", orient=None if suf == ".jsonl" else "records",
                                 precise_float=True, dtype=False)
        except ValueError as e:
            raise DataError(f"{p}: cannot parse as {'JSON lines' if suf == '.jsonl' else 'a JSON list of records'} "
                            f"({_reason(e)})") from None
        if frame.shape[1] == 0:
            raise DataError(f"{p}: no columns found (expected one JSON object per row)")
        if columns is not None:
            frame = frame[[c for c in frame.columns if c in set(columns)]]
        return frame if nrows is None else frame.head(nrows)
    if not suf.endswith(".gz"):
        with open(p, "rb") as fh:
            head = fh.read(8192)
        if b"\0" in head:
            raise DataError(f"{p}: binary content, not a text {suf} file (expected comma-separated text)")
    sep = "\t" if suf.startswith(".tsv") else ","
    try:
        frame = pd.read_csv(p, sep=sep, low_memory=False, nrows=nrows,
                            usecols=(lambda c: c in set(columns)) if columns is not None else None)
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: the file is empty (expected a header line and rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError, ValueError) as e:
        raise DataError(f"{p}: cannot parse as {suf} ({_reason(e)})") from None
    if frame.shape[1] == 0:
        raise DataError(f"{p}: no columns found (expected a header line)")
    return frame


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _show(v: Any) -> str:
    t = repr(v) if not isinstance(v, str) else repr(v.strip())
    return t if len(t) <= 60 else t[:57] + "..."


# ---------------------------------------------------------------------------------- converters
def numeric_column(s: pd.Series, col: str, where: str, hint: str = "") -> pd.Series:
    """float64 values of a column; text that is not a number or a missing marker is refused."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    if pd.api.types.is_numeric_dtype(s):
        out = s.astype("float64")
    else:
        obj = s.astype(object)
        cleaned = obj.map(lambda v: np.nan if isinstance(v, str) and v.strip().lower() in NA_STRINGS
                          else (v.strip() if isinstance(v, str) else v))
        out = pd.to_numeric(cleaned, errors="coerce").astype("float64")
        bad = cleaned.notna() & out.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{where}: column '{col}' holds text where numbers are expected "
                f"({_show(cleaned.iloc[i])} in row {i + 1}){hint}"
            )
    if np.isinf(out.to_numpy()).any():
        raise DataError(f"{where}: column '{col}' holds infinite values; expected finite numbers or missing")
    return out.reset_index(drop=True)


def categorical_column(s: pd.Series, col: str, where: str,
                       labels: Sequence[str] | None = None) -> tuple[pd.Series, list[str]]:
    """Integer codes 0..k-1 (float64, NaN for missing) and their labels.

    Names become codes in sorted label order. Integer codes are kept in their order (relabelled
    0..k-1, labels are the original codes) unless ``labels`` gives the names of codes 0..k-1
    (or 1..k).
    """
    obj = s.reset_index(drop=True).astype(object)
    obj = obj.map(lambda v: np.nan if (isinstance(v, str) and v.strip().lower() in NA_STRINGS) else
                  (v.strip() if isinstance(v, str) else v))
    nn = obj.dropna()
    numeric = pd.to_numeric(nn, errors="coerce")
    if len(nn) and numeric.notna().all() and not nn.map(lambda v: isinstance(v, bool)).all():
        vals = numeric.to_numpy(dtype=float)
        if not np.all(np.isclose(vals, np.round(vals))):
            bad = vals[~np.isclose(vals, np.round(vals))][0]
            raise DataError(f"{where}: categorical column '{col}' holds non-integer value {bad:g}; "
                            "expected category names or integer codes")
        ints = pd.to_numeric(obj, errors="coerce")
        uniq = sorted({int(round(v)) for v in vals})
        if labels is not None:
            k = len(labels)
            if set(uniq) <= set(range(k)):
                offset = 0
            elif set(uniq) <= set(range(1, k + 1)):
                offset = 1
            else:
                raise DataError(f"{where}: column '{col}' has codes {uniq[:10]} but the schema gives "
                                f"{k} labels (codes 0..{k - 1} or 1..{k} expected)")
            return (ints - offset).astype("float64"), list(labels)
        pos = {v: i for i, v in enumerate(uniq)}
        codes = ints.map(lambda v: np.nan if pd.isna(v) else pos[int(round(v))]).astype("float64")
        return codes, [str(v) for v in uniq]
    names = obj.map(lambda v: np.nan if pd.isna(v) else str(v))
    uniq_names = sorted(set(names.dropna()))
    if labels is not None:
        unknown = [u for u in uniq_names if u not in labels]
        if unknown:
            raise DataError(f"{where}: column '{col}' has value {unknown[0]!r}, not among the schema labels "
                            f"({', '.join(labels)})")
        order = list(labels)
    else:
        order = uniq_names
    pos = {v: i for i, v in enumerate(order)}
    return names.map(lambda v: np.nan if pd.isna(v) else pos[v]).astype("float64"), order


# ---------------------------------------------------------------------------------- export
EXPORT_SUFFIXES = (".csv", ".parquet")
#: parquet key-value metadata key under which an export records roles, codes and LLM names
EXPORT_META_KEY = b"causaltraits"


def export_frame(ds: Dataset, path: str | os.PathLike, *, embeddings: bool = True) -> pd.DataFrame:
    """Write the mapped frame (numeric, categorical codes, NaN for missing) to ``.csv`` or ``.parquet``.

    The file is written under a temporary name and renamed when complete. A parquet export also
    records the roles, codes and LLM names in its metadata, so that loading it again gives the
    same Dataset (same content hash, same roles).

    Returns
    -------
    pandas.DataFrame
        the frame written.
    """
    from causaltraits.errors import OutputError
    from causaltraits.runs import atomic_path

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise OutputError(f"cannot export to {p}: the file name must end in .csv or .parquet")
    frame = ds.frame
    roles = ds.roles.to_dict()
    if not embeddings:
        emb = {c for cols in ds.roles.embeddings.values() for c in cols}
        frame = frame[[c for c in frame.columns if c not in emb]]
        roles["embeddings"] = {}
    try:
        with atomic_path(p) as tmp:
            if suffix == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                import json

                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                meta = {"name": ds.name, "source": ds.source, "roles": roles, "llms": list(ds.llms),
                        "codes": ds.codes, "licence": ds.licence}
                table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                                       EXPORT_META_KEY: json.dumps(meta).encode("utf-8")})
                pq.write_table(table, tmp)
    except OSError as e:
        raise OutputError(f"cannot write {p}: {e.strerror or e}") from None
    return frame


def _exported_dataset(p: Path, stem: str) -> Dataset | None:
    """A parquet file written by :func:`export_frame`, restored with its roles (None otherwise)."""
    import json

    import pyarrow.parquet as pq

    try:
        meta = (pq.read_schema(p).metadata or {}).get(EXPORT_META_KEY)
    except Exception:  # noqa: BLE001 - unreadable files are reported by read_table
        return None
    if not meta:
        return None
    try:
        m = json.loads(meta.decode("utf-8"))
        roles = Roles.from_dict(m["roles"])
    except (ValueError, KeyError, TypeError):
        return None
    frame = read_table(p)
    named = [*roles.traits, *roles.bio_continuous, *roles.bio_categorical, *roles.face, *roles.other_continuous,
             *roles.other_categorical, *(c for v in roles.llm_traits.values() for c in v),
             *(c for v in roles.embeddings.values() for c in v)]
    if any(c not in frame.columns for c in named):
        return None  # edited after export: read as a generic table
    where = str(p)
    frame = pd.DataFrame({c: numeric_column(frame[c], c, where) for c in frame.columns})
    return Dataset(name=m.get("name") or stem, frame=frame, roles=roles, llms=list(m.get("llms", [])),
                   codes={k: list(v) for k, v in (m.get("codes") or {}).items()}, source=where,
                   info={"files": [where], "roles_from": "causaltraits export metadata",
                         "exported_from": m.get("source")}, licence=m.get("licence"))


# ---------------------------------------------------------------------------------- generic loader
def load_table(
    path: str | os.PathLike,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    schema: str | os.PathLike | None = None,
    name: str | None = None,
) -> Dataset:
    """Load any CSV / parquet table as a Dataset of generic variables.

    Parameters
    ----------
    path : a ``.csv``, ``.tsv``, ``.csv.gz``, ``.parquet``, ``.jsonl`` file (or a directory holding a
        PersonaX-like table, mapped as a released table)
    columns : the columns to use (default: all); categorical columns are added if not listed
    categorical : columns to encode as integer codes with labels
    schema : a mapping file (JSON, see :mod:`causaltraits.data.schema`) assigning PersonaX roles
    name : dataset name (default: the file stem)

    A parquet file written by ``causaltraits data export`` (:func:`export_frame`) is read back
    with its roles, codes and LLM names unless ``columns`` or ``categorical`` are given.

    Returns
    -------
    Dataset
        roles ``other_continuous`` / ``other_categorical`` (or PersonaX roles with a schema).

    Examples
    --------
    >>> ds = load_table("survey.csv", categorical=["country"])  # doctest: +SKIP
    """
    p = Path(path)
    stem = name or re.sub(r"(\.csv|\.tsv)?(\.gz)?$|\.parquet$|\.pq$", "", p.name, flags=re.I) or p.name
    if p.is_dir() or schema is not None:
        if columns or categorical:
            raise DataError(f"{p}: --columns/--categorical apply to generic tables without --schema; "
                            "name the roles in the schema file instead")
        from causaltraits.data.personax import load_released_path

        return load_released_path(p, name=stem, schema=schema)
    if not columns and not categorical and table_suffix(p) in PARQUET_SUFFIXES and p.is_file():
        restored = _exported_dataset(p, stem)
        if restored is not None:
            return restored
    frame = read_table(p)
    where = str(p)
    have = list(map(str, frame.columns))
    frame.columns = have
    cats = list(dict.fromkeys(categorical or []))
    if columns:
        use = list(dict.fromkeys(columns))
        use += [c for c in cats if c not in use]
    else:
        use = have
    from causaltraits.data.schema import preview

    missing = [c for c in use if c not in have]
    if missing:
        raise DataError(f"{where}: required column '{missing[0]}' not found; columns found: {preview(have)}")
    hint = "; declare it categorical (--categorical {col}) or leave it out with --columns"
    out: dict[str, pd.Series] = {}
    codes: dict[str, list[str]] = {}
    for c in use:
        if c in cats:
            out[c], codes[c] = categorical_column(frame[c], c, where)
        else:
            out[c] = numeric_column(frame[c], c, where, hint=hint.replace("{col}", c))
    mapped = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    ds = Dataset(
        name=stem,
        frame=mapped,
        roles=Roles(other_continuous=[c for c in use if c not in cats], other_categorical=[c for c in use if c in cats]),
        codes=codes,
        source=str(p),
        info={"files": [str(p)], "rows_read": int(len(frame))},
    )
    ds.check_variables(use)
    return ds


__all__ = ["load_table", "export_frame", "read_table", "read_columns", "numeric_column", "categorical_column", "table_suffix"]
