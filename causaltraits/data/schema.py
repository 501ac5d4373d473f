"""Which source column plays which role: the ``--schema`` mapping file and layout detection.

A released PersonaX table (or any table like it) is mapped to the :class:`~causaltraits.data.Dataset`
conventions by a :class:`Schema`. The loader infers one from the column names
(:func:`infer_schema`); a user whose table is laid out differently writes the mapping as a JSON
file and passes it with ``--schema FILE`` (:func:`load_schema`). Roles named in the file replace
the inferred ones; roles not named are still inferred unless ``"infer": false``.

Mapping file format
-------------------
A JSON object; every key is optional::

    {
      "id": "ID",
      "traits": "Aggregated_BigFive_score",
      "llm_scores": {
        "chatgpt": "ChatGPT_score",
        "gemini": {"O": "gem_o", "C": "gem_c", "E": "gem_e", "A": "gem_a", "N": "gem_n"},
        "llama": ["ll_1", "ll_2", "ll_3", "ll_4", "ll_5"]
      },
      "bio_continuous": {"Birthyear": "year_of_birth", "Height": "height_cm"},
      "bio_categorical": ["League"],
      "face": ["Pointy_Nose", "High_Cheekbones"],
      "embeddings": {"face": "face_embedding", "text_chatgpt": ["t0", "t1", "t2"]},
      "other_continuous": ["Age"],
      "other_categorical": {"Team": "team_name"},
      "labels": {"League": ["PGA", "Bundesliga", "PremierLeague", "NBA", "NFL", "NHL", "ATP"]},
      "trait_missing": 0,
      "trait_range": [1, 3],
      "files": ["data/train-00000-of-00001.parquet"],
      "infer": true
    }

``id``
    the column holding person identifiers (kept in ``Dataset.ids``, not a variable).
``traits``
    the aggregated Big Five: either one column whose cells hold all five scores (a list, a JSON
    string such as ``"[1,2,0,3,2]"``, a dict with ``O/C/E/A/N`` keys, ``"1,2,0,3,2"``), or five
    columns given as an object keyed by trait (``O`` or ``Openness``, case-insensitive) or as a
    list in O, C, E, A, N order.
``llm_scores``
    per-LLM scores, keyed by LLM name (normalised to lower case: ``chatgpt``, ``4o``, ``ds``);
    each value has the same forms as ``traits``.
``bio_continuous``, ``bio_categorical``, ``face``, ``other_continuous``, ``other_categorical``
    a list of column names (kept as they are) or an object ``{"NewName": "source column"}``.
``embeddings``
    object keyed by modality (``face``, ``text_<llm>``); each value is one list-valued column or a
    list of numeric columns. Output columns are ``<modality>_emb_<i>``.
``labels``
    labels of integer-coded categorical columns, ``labels[col][code]`` (codes 0..k-1, or 1..k).
``trait_missing``
    the score that means "insufficient information" (default 0; ``null`` for none).
``trait_range``
    the valid score range of the per-LLM scores (default ``[1, 3]``).
``files``
    for a directory holding several tables, the file(s) to read (relative to the directory);
    files with the same columns are stacked, others joined on ``id``.
``infer``
    whether roles not named here are still detected from the column names (default true).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Union

import numpy as np
import pandas as pd

from causaltraits.data.dataset import TRAIT_LETTERS, TRAITS
from causaltraits.errors import DataError

#: a trait source: one list-valued column, or trait -> column for the five traits
TraitSource = Union[str, dict]
#: an embedding source: one list-valued column, or a list of numeric columns
EmbeddingSource = Union[str, list]

BIO_CONTINUOUS = ("Birthyear", "Birthmonth", "Birthday", "Latitude", "Longitude", "Height", "Weight")
BIO_CATEGORICAL = ("League", "Occupation", "Gender")

#: the 40 CelebA attribute names (face attributes are matched against these)
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin",
    "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)

#: what each dataset is expected to hold (absent ones are noted in ``Dataset.info``)
EXPECTED = {
    "athle": {"bio_continuous": BIO_CONTINUOUS, "bio_categorical": ("League",)},
    "celeb": {"bio_continuous": BIO_CONTINUOUS, "bio_categorical": ("Occupation", "Gender")},
}

_ID_NAMES = ("id", "personid", "celebid", "athleteid", "identity", "identityid", "uid")
_BIO_ALIASES = {
    "Birthyear": ("birthyear", "yearofbirth", "byear", "birthyr", "yob"),
    "Birthmonth": ("birthmonth", "monthofbirth", "bmonth"),
    "Birthday": ("birthday", "dayofbirth", "bday"),
    "Latitude": ("latitude", "lat", "birthlatitude", "birthplacelatitude", "birthlat"),
    "Longitude": ("longitude", "lon", "lng", "long", "birthlongitude", "birthplacelongitude", "birthlon"),
    "Height": ("height", "heightcm", "heightm", "heightin"),
    "Weight": ("weight", "weightkg", "weightlb", "weightlbs"),
    "League": ("league", "leaguename"),
    "Occupation": ("occupation", "profession", "job"),
    "Gender": ("gender", "sex"),
}
#: prefixes that mark the aggregate (majority / median) score
_AGG_PREFIXES = ("final", "aggregate", "agg", "median", "majority", "consensus", "combined", "overall")
#: LLM name stems: a prefix must start with one of these for single-letter trait suffixes (``DS_O``)
_LLM_STEMS = ("chatgpt", "gpt", "4o", "o1", "o3", "openai", "ds", "deepseek", "gemini", "llama",
              "claude", "mistral", "qwen", "grok")
_SCORE_WORDS = ("score", "scores", "bigfive", "big5", "ocean", "bigfivescore", "traits", "personality")
_DESCRIPTION_WORDS = ("description", "desc", "text", "textembedding", "descriptionembedding")
_FACE_WORDS = ("face", "image", "img", "picture", "photo", "profile", "imagebind", "portrait")
_EMB_WORDS = ("embedding", "embeddings", "emb", "embed", "vector", "vec", "feature", "features", "feat")

_TOP_KEYS = ("id", "traits", "llm_scores", "bio_continuous", "bio_categorical", "face", "embeddings",
             "other_continuous", "other_categorical", "labels", "trait_missing", "trait_range", "files",
             "infer")


def norm(name: Any) -> str:
    """Lower-case a column name and drop everything but letters and digits (``Birth_Year`` -> ``birthyear``)."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def tokens(name: Any) -> list[str]:
    """Split a column name at ``_``, ``-``, ``.``, spaces and lower-to-upper case changes."""
    s = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", str(name))
    return [t for t in re.split(r"[_\-\s.:/]+", s) if t]


def llm_name(prefix: str) -> str:
    """Normalised LLM name: lower case, letters and digits only (``DS`` -> ``ds``, ``Llama-4`` -> ``llama4``)."""
    return norm(prefix)


def is_llm_prefix(prefix: str) -> bool:
    n = norm(prefix)
    return bool(n) and any(n.startswith(s) for s in _LLM_STEMS)


def is_aggregate_prefix(prefix: str) -> bool:
    n = norm(prefix)
    return n == "" or any(n.startswith(s) for s in _AGG_PREFIXES)


def trait_of(token: str, letters: bool = True) -> str | None:
    """The trait named by a token (``Openness``, ``openness``, ``O`` when ``letters``), else None."""
    t = norm(token)
    for trait in TRAITS:
        if t == trait.lower():
            return trait
    if letters and len(t) == 1 and t.upper() in TRAIT_LETTERS:
        return TRAIT_LETTERS[t.upper()]
    return None


@dataclass
class Schema:
    """A mapping from source columns to roles (see the module docstring for the file format).

    Targets (dict keys) are names in the mapped frame; values are source column names.
    """

    id: str | None = None
    traits: TraitSource | None = None
    llm_scores: dict[str, TraitSource] = field(default_factory=dict)
    bio_continuous: dict[str, str] = field(default_factory=dict)
    bio_categorical: dict[str, str] = field(default_factory=dict)
    face: dict[str, str] = field(default_factory=dict)
    embeddings: dict[str, EmbeddingSource] = field(default_factory=dict)
    other_continuous: dict[str, str] = field(default_factory=dict)
    other_categorical: dict[str, str] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)
    trait_missing: float | None = 0
    trait_range: tuple[float, float] = (1, 3)
    files: list[str] | None = None
    infer: bool = True
    #: where the schema came from (a file path, or ``inferred``)
    origin: str = "inferred"
    #: source columns the schema does not use (e.g. text descriptions), for the loader's notes
    unused: list[str] = field(default_factory=list)
    #: keys given explicitly in a schema file (others may be inferred)
    given: set[str] = field(default_factory=set)

    def source_columns(self) -> list[tuple[str, str]]:
        """Every referenced source column with the role that references it."""
        out: list[tuple[str, str]] = []
        if self.id:
            out.append((self.id, "id"))
        for role, src in [("traits", self.traits), *[(f"llm_scores.{k}", v) for k, v in self.llm_scores.items()]]:
            if src is None:
                continue
            if isinstance(src, str):
                out.append((src, role))
            else:
                out.extend((c, f"{role}.{t}") for t, c in src.items())
        for role in ("bio_continuous", "bio_categorical", "face", "other_continuous", "other_categorical"):
            out.extend((c, f"{role}.{t}") for t, c in getattr(self, role).items())
        for mod, src in self.embeddings.items():
            if isinstance(src, str):
                out.append((src, f"embeddings.{mod}"))
            else:
                out.extend((c, f"embeddings.{mod}") for c in src)
        return out

    def check_columns(self, columns: Iterable[str], where: str) -> None:
        """Refuse a schema that names a column the table does not have (one line)."""
        have = list(map(str, columns))
        have_set = set(have)
        missing = [(c, r) for c, r in self.source_columns() if c not in have_set]
        if missing:
            c, r = missing[0]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DataError(
                f"{where}: schema {self.origin} maps column '{c}' to {r}, but the table has no such column{more}; "
                f"columns found: {preview(have)}"
            )

    def is_generic(self) -> bool:
        """True when the schema maps only generic variables (no PersonaX roles)."""
        return not (self.traits or self.llm_scores or self.bio_continuous or self.bio_categorical
                    or self.face or self.embeddings)

    def merged_over(self, inferred: "Schema") -> "Schema":
        """This (user) schema, with roles it does not name taken from ``inferred``."""
        out = Schema(**{f.name: getattr(self, f.name) for f in fields(self)})
        if not self.infer:
            return out
        for key in ("id", "traits", "llm_scores", "bio_continuous", "bio_categorical", "face", "embeddings"):
            if key not in self.given:
                setattr(out, key, getattr(inferred, key))
        # A column the user mapped explicitly is not also taken by an inferred role.
        taken = {c for c, _ in self.source_columns()}
        for key in ("bio_continuous", "bio_categorical", "face"):
            if key not in self.given:
                setattr(out, key, {t: c for t, c in getattr(out, key).items() if c not in taken})
        used = {c for c, _ in out.source_columns()}
        out.unused = [c for c in inferred.unused if c not in used]
        return out


def preview(names: Iterable[str], limit: int = 25) -> str:
    """Comma-separated names, shortened to ``limit`` with a count of the rest."""
    names = list(names)
    head = ", ".join(map(str, names[:limit]))
    return head + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


# ---------------------------------------------------------------------------------- schema files
def load_schema(path: str | os.PathLike) -> Schema:
    """Read and validate a JSON mapping file (format in the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"schema file {p} not found (expected a JSON mapping file, see 'causaltraits data --help')")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"schema file {p}: not valid JSON ({e})") from None
    return schema_from_dict(raw, origin=str(p))


def schema_from_dict(raw: Any, origin: str = "<dict>") -> Schema:
    """Validate a mapping (as read from JSON) and return a :class:`Schema`."""
    where = f"schema file {origin}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a JSON object with keys such as 'traits', 'llm_scores', 'id'")
    unknown = [k for k in raw if k not in _TOP_KEYS]
    if unknown:
        raise DataError(f"{where}: unknown key '{unknown[0]}'; allowed keys: {', '.join(_TOP_KEYS)}")
    s = Schema(origin=origin, given=set(raw))
    if raw.get("id") is not None:
        s.id = _string(raw["id"], f"{where}: 'id'")
    if raw.get("traits") is not None:
        s.traits = _trait_source(raw["traits"], f"{where}: 'traits'")
    if raw.get("llm_scores") is not None:
        if not isinstance(raw["llm_scores"], dict) or not raw["llm_scores"]:
            raise DataError(f"{where}: 'llm_scores' must be an object {{\"chatgpt\": \"column\", ...}}")
        for k, v in raw["llm_scores"].items():
            name = llm_name(k)
            if not name:
                raise DataError(f"{where}: 'llm_scores' key '{k}' is not a usable LLM name (letters/digits)")
            if name in s.llm_scores:
                raise DataError(f"{where}: 'llm_scores' names LLM '{name}' twice")
            s.llm_scores[name] = _trait_source(v, f"{where}: 'llm_scores.{k}'")
    for key in ("bio_continuous", "bio_categorical", "face", "other_continuous", "other_categorical"):
        if raw.get(key) is not None:
            setattr(s, key, _name_map(raw[key], f"{where}: '{key}'"))
    if raw.get("embeddings") is not None:
        emb = raw["embeddings"]
        if not isinstance(emb, dict):
            raise DataError(f"{where}: 'embeddings' must be an object {{\"face\": \"column\" or [columns]}}")
        for mod, v in emb.items():
            if not re.fullmatch(r"[A-Za-z0-9_]+", str(mod)):
                raise DataError(f"{where}: embedding modality '{mod}' must be letters, digits and _")
            if isinstance(v, str):
                s.embeddings[str(mod)] = v
            elif isinstance(v, list) and v and all(isinstance(c, str) for c in v):
                s.embeddings[str(mod)] = list(v)
            else:
                raise DataError(f"{where}: 'embeddings.{mod}' must be a column name or a list of column names")
    if raw.get("labels") is not None:
        lab = raw["labels"]
        if not isinstance(lab, dict) or not all(
            isinstance(v, list) and all(isinstance(x, (str, int, float)) for x in v) for v in lab.values()
        ):
            raise DataError(f"{where}: 'labels' must be an object {{\"League\": [\"PGA\", ...]}}")
        s.labels = {str(k): [str(x) for x in v] for k, v in lab.items()}
    if "trait_missing" in raw:
        tm = raw["trait_missing"]
        if tm is not None and not isinstance(tm, (int, float)):
            raise DataError(f"{where}: 'trait_missing' must be a number (default 0) or null")
        s.trait_missing = tm
    if raw.get("trait_range") is not None:
        tr = raw["trait_range"]
        if not (isinstance(tr, list) and len(tr) == 2 and all(isinstance(x, (int, float)) for x in tr)
                and tr[0] < tr[1]):
            raise DataError(f"{where}: 'trait_range' must be [low, high] with low < high, e.g. [1, 3]")
        s.trait_range = (float(tr[0]), float(tr[1]))
    if raw.get("files") is not None:
        fl = raw["files"]
        if isinstance(fl, str):
            fl = [fl]
        if not (isinstance(fl, list) and fl and all(isinstance(x, str) for x in fl)):
            raise DataError(f"{where}: 'files' must be a file name or a list of file names")
        s.files = list(fl)
    if "infer" in raw:
        if not isinstance(raw["infer"], bool):
            raise DataError(f"{where}: 'infer' must be true or false")
        s.infer = raw["infer"]
    targets = [t for key in ("bio_continuous", "bio_categorical", "face", "other_continuous", "other_categorical")
               for t in getattr(s, key)]
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        raise DataError(f"{where}: column name '{dup[0]}' is given two roles")
    return s


def _string(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v:
        raise DataError(f"{where} must be a column name (a string)")
    return v


def _trait_source(v: Any, where: str) -> TraitSource:
    if isinstance(v, str) and v:
        return v
    if isinstance(v, list):
        if len(v) != 5 or not all(isinstance(c, str) for c in v):
            raise DataError(f"{where}: a list must name 5 columns in O, C, E, A, N order")
        return dict(zip(TRAITS, v))
    if isinstance(v, dict):
        out: dict[str, str] = {}
        for k, c in v.items():
            t = trait_of(k)
            if t is None:
                raise DataError(f"{where}: key '{k}' is not a Big Five trait (O, C, E, A, N or the full name)")
            if not isinstance(c, str):
                raise DataError(f"{where}.{k} must be a column name")
            out[t] = c
        absent = [t for t in TRAITS if t not in out]
        if absent:
            raise DataError(f"{where}: no column for {', '.join(absent)} (all five traits are needed)")
        return {t: out[t] for t in TRAITS}
    raise DataError(f"{where} must be a column name, a list of 5 columns, or an object trait -> column")


def _name_map(v: Any, where: str) -> dict[str, str]:
    if isinstance(v, str):
        v = [v]
    if isinstance(v, list) and all(isinstance(c, str) and c for c in v):
        return {c: c for c in v}
    if isinstance(v, dict) and all(isinstance(k, str) and isinstance(c, str) and k and c for k, c in v.items()):
        return dict(v)
    raise DataError(f"{where} must be a list of column names or an object {{\"NewName\": \"source column\"}}")


# ---------------------------------------------------------------------------------- detection
def _first_value(s: pd.Series) -> Any:
    nn = s.dropna()
    return nn.iloc[0] if len(nn) else None


def is_list_valued(s: pd.Series) -> bool:
    """True if the column's cells hold several values (a list, array, dict or encoded string)."""
    v = _first_value(s)
    if isinstance(v, (list, tuple, np.ndarray, dict)):
        return True
    if isinstance(v, str):
        t = v.strip()
        return (t[:1] in "[({" and t[-1:] in "])}") or bool(re.fullmatch(r"-?\d+(\.\d+)?([,;\s]+-?\d+(\.\d+)?)+", t))
    return False


def list_length(s: pd.Series) -> int:
    """Number of values in the first non-missing cell of a list-valued column (0 if unknown)."""
    v = _first_value(s)
    if isinstance(v, (list, tuple, np.ndarray, dict)):
        return len(v)
    if isinstance(v, str):
        return len(re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", v))
    return 0


def _modality(prefix_tokens: list[str]) -> str | None:
    """``face`` / ``text_<llm>`` / ``text`` for embedding column-name tokens, None when unclear."""
    toks = [norm(t) for t in prefix_tokens if norm(t) and norm(t) not in _EMB_WORDS]
    llms = [t for t in toks if is_llm_prefix(t) and not is_aggregate_prefix(t)]
    if llms:
        return f"text_{llm_name(llms[0])}"
    if any(t in _FACE_WORDS for t in toks):
        return "face"
    if any(t in _DESCRIPTION_WORDS for t in toks):
        return "text"
    return None


def _generic_modality(toks: list[str]) -> str:
    rest = "_".join(norm(t) for t in toks if norm(t) and norm(t) not in _EMB_WORDS)
    return f"emb_{rest}" if rest else "emb"


def infer_schema(frame: pd.DataFrame, name: str | None = None) -> Schema:
    """Detect the roles of a PersonaX-like table from its column names (and a peek at the values).

    Recognised: ``ID``; aggregated scores (``Aggregated_BigFive_score``, ``final_o``, ``Openness``);
    per-LLM scores as one list-valued column (``Chatgpt_score``) or five columns (``4o_O``,
    ``DS_openness``, ``gemini_Openness``); biographical columns (``Birthyear`` ... ``Weight``,
    ``League``, ``Occupation``, ``Gender``, with common spellings); CelebA face attributes;
    embeddings as list-valued columns (``Profile_picture``, ``Chatgpt_description``,
    ``face_embedding``) or numbered numeric columns (``face_emb_0`` ...).
    """
    s = Schema(origin="inferred")
    agg_cols: dict[str, str] = {}
    agg_list: str | None = None
    llm_cols: dict[str, dict[str, str]] = {}
    llm_list: dict[str, str] = {}
    used: set[str] = set()
    face_lookup = {norm(a): a for a in CELEBA_ATTRIBUTES}
    bio_lookup = {alias: target for target, aliases in _BIO_ALIASES.items() for alias in aliases}
    numbered: dict[str, list[tuple[int, str]]] = {}
    text_like: list[str] = []

    for col in frame.columns:
        c = str(col)
        n = norm(c)
        toks = tokens(c)
        if s.id is None and n in _ID_NAMES:
            s.id = c
            used.add(c)
            continue
        if n.startswith("unnamed") or n in ("index", "levelo"):
            continue
        # --- Big Five scores
        if len(toks) == 1 and trait_of(toks[0], letters=False):
            agg_cols.setdefault(trait_of(toks[0], letters=False), c)
            used.add(c)
            continue
        if len(toks) >= 2:
            prefix, last = "_".join(toks[:-1]), toks[-1]
            t_full = trait_of(last, letters=False)
            t_letter = trait_of(last, letters=True)
            if t_full or (t_letter and (is_llm_prefix(prefix) or is_aggregate_prefix(prefix))):
                t = t_full or t_letter
                if is_aggregate_prefix(prefix):
                    agg_cols.setdefault(t, c)
                else:
                    llm_cols.setdefault(llm_name(prefix), {}).setdefault(t, c)
                used.add(c)
                continue
            first_trait = trait_of(toks[0], letters=False)
            rest = "_".join(toks[1:])
            if first_trait and is_llm_prefix(rest):
                llm_cols.setdefault(llm_name(rest), {}).setdefault(first_trait, c)
                used.add(c)
                continue
            # ``Chatgpt_score``, ``Aggregated_BigFive_score``, ``chatgpt_big5``
            k = len(toks)
            while k > 1 and norm(toks[k - 1]) in _SCORE_WORDS:
                k -= 1
            if k < len(toks):
                pre = "_".join(toks[:k])
                if is_aggregate_prefix(pre) or norm(pre) in _SCORE_WORDS:
                    agg_list = agg_list or c
                    used.add(c)
                    continue
                if is_llm_prefix(pre):
                    llm_list.setdefault(llm_name(pre), c)
                    used.add(c)
                    continue
        elif n in ("bigfive", "big5", "ocean", "bigfivescore", "aggregatedbigfivescore"):
            agg_list = agg_list or c
            used.add(c)
            continue
        # --- biography
        if n in bio_lookup:
            target = bio_lookup[n]
            role = "bio_categorical" if target in BIO_CATEGORICAL else "bio_continuous"
            if target not in getattr(s, role):
                getattr(s, role)[target] = c
                used.add(c)
                continue
        # --- face attributes
        if n in face_lookup and face_lookup[n] not in s.face:
            s.face[face_lookup[n]] = c
            used.add(c)
            continue
        # --- embeddings
        m = re.fullmatch(r"(.*?)[_\-.\s]*(\d+)", c)
        if m and m.group(1) and pd.api.types.is_numeric_dtype(frame[col]):
            numbered.setdefault(m.group(1), []).append((int(m.group(2)), c))
            continue
        if not pd.api.types.is_numeric_dtype(frame[col]) and is_list_valued(frame[col]) and list_length(frame[col]) >= 8:
            mod = _modality(toks) or _generic_modality(toks)
            if mod not in s.embeddings:
                s.embeddings[mod] = c
                used.add(c)
                continue
        text_like.append(c)

    for prefix, items in numbered.items():
        toks = tokens(prefix)
        mod = _modality(toks)
        looks_emb = any(norm(t) in _EMB_WORDS for t in toks)
        if (mod is not None or looks_emb) and len(items) >= 8:
            mod = mod or _generic_modality(toks)
            if mod not in s.embeddings:
                s.embeddings[mod] = [c for _, c in sorted(items)]
                used.update(c for _, c in items)
                continue
        text_like.extend(c for _, c in items)

    if agg_list is not None and len(agg_cols) < 5:
        s.traits = agg_list
    elif agg_cols:
        s.traits = {t: agg_cols[t] for t in TRAITS if t in agg_cols}
    for llm in sorted(set(llm_cols) | set(llm_list), key=lambda k: _order(frame, llm_cols.get(k), llm_list.get(k))):
        cols = llm_cols.get(llm, {})
        if len(cols) == 5:
            s.llm_scores[llm] = {t: cols[t] for t in TRAITS}
        elif llm in llm_list:
            s.llm_scores[llm] = llm_list[llm]
        else:
            s.llm_scores[llm] = dict(cols)  # incomplete; reported by the loader
    s.unused = [c for c in map(str, frame.columns) if c not in used and c in text_like]
    return s


def _order(frame: pd.DataFrame, cols: dict | None, lst: str | None) -> int:
    first = list(cols.values())[0] if cols else lst
    return list(map(str, frame.columns)).index(first)


def incomplete_trait_sources(s: Schema) -> list[str]:
    """Descriptions of trait sources that do not cover all five traits."""
    out = []
    for role, src in [("aggregate", s.traits), *s.llm_scores.items()]:
        if isinstance(src, dict) and len(src) < 5:
            have = ", ".join(f"{t}={c}" for t, c in src.items())
            lack = ", ".join(t for t in TRAITS if t not in src)
            out.append(f"{role} has {have} but no {lack}")
    return out


__all__ = [
    "Schema", "load_schema", "schema_from_dict", "infer_schema", "CELEBA_ATTRIBUTES", "BIO_CONTINUOUS",
    "BIO_CATEGORICAL", "EXPECTED", "norm", "tokens", "preview", "is_list_valued", "incomplete_trait_sources",
]
