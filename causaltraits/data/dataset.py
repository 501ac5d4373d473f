"""The one dataset type: a numeric DataFrame plus column roles.

Every loader (released PersonaX tables, bundled demo tables, any CSV/parquet table) returns a
:class:`Dataset`. Analyses take a Dataset and never look at file layouts.

Conventions of the mapped frame (what ``data export`` writes and what the analyses see):

- every column is numeric (float64), missing is NaN, never 0;
- aggregated traits are named ``Openness, Conscientiousness, Extraversion, Agreeableness,
  Neuroticism`` (:data:`TRAITS`); per-LLM traits ``<llm>_<Trait>``, e.g. ``chatgpt_Openness``;
- categorical columns hold integer codes 0..k-1, with the labels in ``Dataset.codes[col]``;
- face attributes are 1 (present) / 0 (absent);
- embedding columns are ``<modality>_emb_<i>``, grouped by modality in ``roles.embeddings``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from causaltraits.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from causaltraits.discovery.graph import Graph

TRAITS = ("Openness", "Conscientiousness", "Extraversion", "Agreeableness", "Neuroticism")
TRAIT_LETTERS = dict(zip("OCEAN", TRAITS))

#: variable kinds understood by the CI-test chooser
KINDS = ("continuous", "ordinal", "binary", "categorical")

MIN_ROWS = 20


def llm_trait_column(llm: str, trait: str) -> str:
    return f"{llm}_{trait}"


@dataclass
class Roles:
    """Which column plays which part. All lists hold column names of ``Dataset.frame``."""

    traits: list[str] = field(default_factory=list)
    llm_traits: dict[str, list[str]] = field(default_factory=dict)
    bio_continuous: list[str] = field(default_factory=list)
    bio_categorical: list[str] = field(default_factory=list)
    face: list[str] = field(default_factory=list)
    embeddings: dict[str, list[str]] = field(default_factory=dict)
    #: variables of a generic table (no PersonaX meaning; no tier knowledge)
    other_continuous: list[str] = field(default_factory=list)
    other_categorical: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "traits": list(self.traits),
            "llm_traits": {k: list(v) for k, v in self.llm_traits.items()},
            "bio_continuous": list(self.bio_continuous),
            "bio_categorical": list(self.bio_categorical),
            "face": list(self.face),
            "embeddings": {k: list(v) for k, v in self.embeddings.items()},
            "other_continuous": list(self.other_continuous),
            "other_categorical": list(self.other_categorical),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Roles":
        return cls(**{k: d.get(k, type(getattr(cls(), k))()) for k in cls().to_dict()})

    @property
    def categorical(self) -> list[str]:
        return [*self.bio_categorical, *self.other_categorical]


@dataclass
class Dataset:
    """A table mapped to the causaltraits schema.

    Parameters
    ----------
    name : short name (``athle``, ``celeb-demo``, or the file stem of a generic table)
    frame : numeric DataFrame, one row per person (see module docstring for conventions)
    roles : column roles
    llms : LLM names, in the order of the source table
    codes : labels of categorical codes, ``codes[col][code] == label``
    source : where the table came from (path, hub repo, or ``generated:<seed>``)
    ids : optional person identifiers, aligned with ``frame``
    truth : the true causal graph over the analysis variables, when known (demo data)
    latents : the true latent values, when known (demo data), aligned with ``frame``
    info : loader notes (e.g. rows whose released aggregate disagrees with the recomputation)
    """

    name: str
    frame: pd.DataFrame
    roles: Roles
    llms: list[str] = field(default_factory=list)
    codes: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""
    ids: pd.Series | None = None
    truth: "Graph | None" = None
    latents: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)
    licence: str | None = None

    # ------------------------------------------------------------------ identity
    @property
    def content_hash(self) -> str:
        """sha256 over column names and float64 values (NaN-canonical), independent of file format."""
        h = hashlib.sha256()
        for col in self.frame.columns:
            h.update(str(col).encode("utf-8") + b"\0")
            v = np.ascontiguousarray(self.frame[col].to_numpy(dtype=np.float64, na_value=np.nan))
            v = np.where(np.isnan(v), np.nan, v)  # one NaN bit pattern
            h.update(v.tobytes())
        return h.hexdigest()

    @property
    def n(self) -> int:
        return int(len(self.frame))

    # ------------------------------------------------------------------ variables
    def trait_columns(self, llm: str = "aggregate") -> list[str]:
        """The five trait columns of the aggregate (``llm='aggregate'``) or of one LLM."""
        if llm == "aggregate":
            return list(self.roles.traits)
        key = self._llm_key(llm)
        return list(self.roles.llm_traits[key])

    def _llm_key(self, llm: str) -> str:
        for k in self.roles.llm_traits:
            if k.lower() == llm.lower():
                return k
        known = ", ".join(["aggregate", *self.roles.llm_traits]) or "aggregate"
        raise DataError(f"dataset {self.name}: unknown LLM '{llm}'; expected one of {known}")

    def attribute_columns(self) -> list[str]:
        """Biographical (continuous then categorical) and face attributes."""
        return [*self.roles.bio_continuous, *self.roles.bio_categorical, *self.roles.face]

    def analysis_variables(self, llm: str = "aggregate") -> list[str]:
        """Variables of a discovery run: attributes then traits, or a generic table's columns."""
        if self.roles.other_continuous or self.roles.other_categorical:
            other = set(self.roles.other_continuous) | set(self.roles.other_categorical)
            return [c for c in self.frame.columns if c in other]
        return [*self.attribute_columns(), *self.trait_columns(llm)]

    def kind(self, col: str) -> str:
        """``categorical`` | ``binary`` | ``ordinal`` | ``continuous`` for the test chooser."""
        if col in self.roles.bio_categorical or col in self.roles.other_categorical:
            return "categorical"
        if col in self.roles.face:
            return "binary"
        if col in self.roles.traits or any(col in v for v in self.roles.llm_traits.values()):
            return "ordinal"
        return "continuous"

    def kinds(self, cols: Sequence[str]) -> list[str]:
        return [self.kind(c) for c in cols]

    def tiers(self, cols: Sequence[str]) -> list[list[str]] | None:
        """Temporal tiers of ``cols``: biography, then face and traits (which never cause biography).

        None for a generic table (no knowledge).
        """
        if self.roles.other_continuous or self.roles.other_categorical:
            return None
        bio = set(self.roles.bio_continuous) | set(self.roles.bio_categorical)
        t0 = [c for c in cols if c in bio]
        t1 = [c for c in cols if c not in bio]
        return [t for t in (t0, t1) if t]

    def matrix(self, cols: Sequence[str]) -> np.ndarray:
        """float64 array (n x len(cols)) with NaN for missing values."""
        missing = [c for c in cols if c not in self.frame.columns]
        if missing:
            raise DataError(f"dataset {self.name}: no column(s) {', '.join(missing)}")
        return self.frame.loc[:, list(cols)].to_numpy(dtype=np.float64, na_value=np.nan)

    # ------------------------------------------------------------------ checks
    def check_variables(self, cols: Sequence[str], min_rows: int = MIN_ROWS) -> None:
        """Refuse all-missing or constant variables and fewer than ``min_rows`` usable rows."""
        where = self.source or self.name
        for c in cols:
            s = self.frame[c]
            nn = s.dropna()
            if nn.empty:
                raise DataError(f"{where}: column '{c}' has no values (all missing)")
            if nn.nunique() < 2:
                raise DataError(
                    f"{where}: column '{c}' is constant ({nn.iloc[0]!r}); a variable needs at least two values"
                )
        complete = int(self.frame.loc[:, list(cols)].notna().all(axis=1).sum())
        if complete < min_rows:
            raise DataError(
                f"{where}: only {complete} rows have all of {len(cols)} variables; at least {min_rows} needed"
            )

    # ------------------------------------------------------------------ helpers
    def subset(self, rows: np.ndarray | Sequence[int], name: str | None = None) -> "Dataset":
        """A dataset with the given rows (positional), e.g. for a bootstrap resample."""
        rows = np.asarray(rows)
        return Dataset(
            name=name or self.name,
            frame=self.frame.iloc[rows].reset_index(drop=True),
            roles=self.roles,
            llms=list(self.llms),
            codes=dict(self.codes),
            source=self.source,
            ids=None if self.ids is None else self.ids.iloc[rows].reset_index(drop=True),
            truth=self.truth,
            latents=None if self.latents is None else self.latents.iloc[rows].reset_index(drop=True),
            info=dict(self.info),
            licence=self.licence,
        )

    def summary(self) -> dict[str, Any]:
        r = self.roles
        return {
            "name": self.name,
            "source": self.source,
            "rows": self.n,
            "content_hash": self.content_hash,
            "llms": list(self.llms),
            "traits": len(r.traits),
            "bio_continuous": len(r.bio_continuous),
            "bio_categorical": len(r.bio_categorical),
            "face": len(r.face),
            "embeddings": {k: len(v) for k, v in r.embeddings.items()},
            "other": len(r.other_continuous) + len(r.other_categorical),
        }

    def __repr__(self) -> str:  # short: frames can be large
        return f"Dataset(name={self.name!r}, rows={self.n}, columns={self.frame.shape[1]}, source={self.source!r})"
