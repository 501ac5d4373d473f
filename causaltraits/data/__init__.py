"""Data layer: every table becomes a :class:`~causaltraits.data.dataset.Dataset`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from causaltraits.data.dataset import TRAITS, Dataset, Roles
from causaltraits.errors import DataError

RELEASED = ("athle", "celeb")
DEMOS = ("athle-demo", "celeb-demo")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".tsv", ".csv.gz")


def _looks_like_path(name: str) -> bool:
    return (
        os.sep in name
        or name.startswith(".")
        or name.lower().endswith(TABLE_SUFFIXES)
        or Path(name).exists()
    )


def load_dataset(
    name: str,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    schema: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    embeddings: bool = True,
) -> Dataset:
    """Load a dataset by name or path.

    Parameters
    ----------
    name : ``athle`` | ``celeb`` (released tables, from the cache or ``data_dir``),
        ``athle-demo`` | ``celeb-demo`` (bundled, with a known truth), or a path to a
        CSV / parquet table (also a directory holding a released table).
    columns : for a generic table, the columns to use (default: all)
    categorical : for a generic table, the columns to treat as categorical
    schema : a mapping file (JSON) that says which source column plays which role
    data_dir : where released tables are looked for (default: ``$CAUSALTRAITS_DATA`` or the user cache)
    embeddings : for a released table, also read the embedding columns (set False when only the
        structured variables are analysed: it saves most of the memory and load time)

    Examples
    --------
    >>> ds = load_dataset("athle-demo")
    >>> ds.n
    4181
    """
    key = str(name).strip()
    if key.lower() in DEMOS:
        from causaltraits.data.demo import load_demo

        return load_demo(key.lower())
    if key.lower() in RELEASED:
        from causaltraits.data.personax import load_personax

        return load_personax(key.lower(), data_dir=data_dir, schema=schema, embeddings=embeddings)
    if _looks_like_path(key):
        from causaltraits.data.tables import load_table

        return load_table(key, columns=columns, categorical=categorical, schema=schema)
    known = ", ".join([*RELEASED, *DEMOS])
    raise DataError(f"unknown dataset '{key}': expected one of {known}, or a path to a CSV/parquet table")


__all__ = ["Dataset", "Roles", "TRAITS", "load_dataset", "RELEASED", "DEMOS"]
