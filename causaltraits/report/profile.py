"""What a report says about the data, computed when a run is made (the report reads only the run).

Every analysis writes ``data_profile.json = profile_dataset(ds)`` into its run directory. The
profile is plain JSON (numbers, strings, lists, dicts; undefined statistics are ``null``) so
the PDF can be rebuilt later without the data.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from causaltraits.report.agreement import krippendorff_alpha, weighted_kappa

#: bump when the layout of the profile changes
PROFILE_VERSION = 2
#: the disagreement weights of Cohen's kappa and the metric of Krippendorff's alpha in profiles
KAPPA_WEIGHTS = "quadratic"
ALPHA_LEVEL = "ordinal"

PERSONAX_LICENCE = (
    "PersonaX data (AthlePersona, CelebPersona; Persona-X on the Hugging Face hub) are released "
    "for non-commercial academic research only. Prohibited uses include high-stakes decisions "
    "about individuals, surveillance and automated personality profiling."
)

_COMMON_BIASES = [
    "Traits are inferred by LLMs from static public information about each person, not measured "
    "with a personality questionnaire; they describe public personas.",
    "LLM inference is subjective: the three LLMs disagree on many people (see the agreement "
    "table), and a score of 0 ('insufficient information') is treated as missing, so the persons "
    "scored are not a random sample of the table.",
]
_BIASES = {
    "athle": ["AthlePersona holds male professional athletes only (7 leagues); no finding "
              "generalises to women or to non-athletes."],
    "celeb": ["CelebPersona is skewed toward wealth and visibility (public figures of CelebA); "
              "occupation and gender groups are unbalanced."],
}


def _family(name: str) -> str | None:
    n = (name or "").lower()
    if n.startswith("athle"):
        return "athle"
    if n.startswith("celeb"):
        return "celeb"
    return None


def known_biases(name: str) -> list[str]:
    """The known biases a report should state for a dataset name (PersonaX tables and their demos)."""
    fam = _family(name)
    if fam is None:
        return []
    out = list(_BIASES[fam]) + list(_COMMON_BIASES)
    if (name or "").lower().endswith("-demo"):
        out.insert(0, "This is bundled synthetic demo data generated to resemble the released table; "
                      "it describes no real person, and its findings say nothing about the real data.")
    return out


def licence_text(ds) -> str | None:
    """``ds.licence`` if set, else the PersonaX terms for PersonaX tables, else None."""
    lic = getattr(ds, "licence", None)
    if lic:
        return str(lic)
    fam = _family(getattr(ds, "name", ""))
    if fam is not None and not str(getattr(ds, "name", "")).lower().endswith("-demo"):
        return PERSONAX_LICENCE
    return None


def _value_key(v: float) -> str:
    return f"{v:g}"


def value_counts(s: pd.Series) -> dict[str, int]:
    """Counts of each observed value (keys like ``"1"``, ``"2.5"``) in value order, and ``missing``."""
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    ok = ~np.isnan(v)
    vals, counts = np.unique(v[ok], return_counts=True)
    out = {_value_key(float(a)): int(c) for a, c in zip(vals, counts)}
    out["missing"] = int((~ok).sum())
    return out


def _trait_name(col: str, llm: str | None, position: int, traits: list[str]) -> str:
    if llm and col.lower().startswith(llm.lower() + "_"):
        return col[len(llm) + 1:]
    if position < len(traits):
        return traits[position]
    return col


def _llm_keys(ds) -> list[str]:
    keys = list(ds.roles.llm_traits)
    order = {k.lower(): i for i, k in enumerate(ds.llms or [])}
    return sorted(keys, key=lambda k: order.get(k.lower(), len(order)))


def _finite_or_none(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _numeric_summary(s: pd.Series) -> dict[str, Any]:
    v = pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=np.float64)
    if v.size == 0:
        return {"n": 0, "unique": 0}
    return {"n": int(v.size), "unique": int(np.unique(v).size), "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)) if v.size > 1 else None, "min": float(v.min()),
            "median": float(np.median(v)), "max": float(v.max())}


def trait_agreement(ds) -> dict[str, Any]:
    """Agreement between the LLMs per trait: weighted kappa per pair and Krippendorff's alpha.

    Returns ``{"kappa_weights", "alpha_level", "pairs", "traits": {trait: {"kappa": {"a~b": k},
    "n_pairs": {"a~b": n}, "alpha": a, "n_units": u}}}``; undefined values are None.
    """
    llms = _llm_keys(ds)
    traits = list(ds.roles.traits)
    per_llm = {}
    for llm in llms:
        cols = ds.trait_columns(llm)
        per_llm[llm] = {_trait_name(c, llm, i, traits): c for i, c in enumerate(cols)}
    names = list(dict.fromkeys(t for m in per_llm.values() for t in m))
    pairs = [f"{a}~{b}" for a, b in itertools.combinations(llms, 2)]
    out: dict[str, Any] = {"kappa_weights": KAPPA_WEIGHTS, "alpha_level": ALPHA_LEVEL, "pairs": pairs,
                           "raters": llms, "traits": {}}
    for t in names:
        cols = {llm: per_llm[llm][t] for llm in llms if t in per_llm[llm]}
        x = {llm: ds.frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for llm, c in cols.items()}
        kappa, npair = {}, {}
        for a, b in itertools.combinations(llms, 2):
            key = f"{a}~{b}"
            if a in x and b in x:
                kappa[key] = _finite_or_none(weighted_kappa(x[a], x[b], weights=KAPPA_WEIGHTS))
                npair[key] = int((~np.isnan(x[a]) & ~np.isnan(x[b])).sum())
            else:
                kappa[key], npair[key] = None, 0
        if len(x) >= 2:
            r = np.vstack(list(x.values()))
            alpha = _finite_or_none(krippendorff_alpha(r, level=ALPHA_LEVEL))
            units = int(((~np.isnan(r)).sum(axis=0) >= 2).sum())
        else:
            alpha, units = None, 0
        out["traits"][t] = {"kappa": kappa, "n_pairs": npair, "alpha": alpha, "n_units": units}
    return out


def profile_dataset(ds) -> dict[str, Any]:
    """The data section of a report as a JSON-able dict.

    Parameters
    ----------
    ds : :class:`~causaltraits.data.dataset.Dataset`

    Returns
    -------
    dict
        ``name, source, rows, content_hash, roles, llms`` (identity); ``missing_share`` per
        non-embedding column and ``embeddings`` (per modality: dimensions and the share of rows
        with any missing dimension); ``summaries`` (n, unique, mean, sd, min, median, max per
        non-embedding column) and ``categories`` (labelled counts of categorical columns);
        ``trait_distribution[rater][trait]`` value counts for ``aggregate`` and each LLM (keys
        ``"1"``, ``"2"``, ``"3"`` ..., and ``"missing"``); ``insufficient_share[llm][trait]`` (share of
        missing per-LLM trait values: the 'insufficient information' answers, stored as missing);
        ``agreement`` (see :func:`trait_agreement`; quadratic-weighted kappa, ordinal alpha);
        ``licence`` (text or None) and ``biases`` (list of sentences).
    """
    frame = ds.frame
    roles = ds.roles
    emb = {c for cols in roles.embeddings.values() for c in cols}
    cols = [c for c in frame.columns if c not in emb]
    miss = {c: float(np.mean(frame[c].isna())) for c in cols}
    embeddings = {}
    for mod, ecols in roles.embeddings.items():
        present = [c for c in ecols if c in frame.columns]
        any_missing = frame[present].isna().any(axis=1) if present else pd.Series(dtype=bool)
        embeddings[mod] = {"dims": len(present),
                           "rows_missing_share": float(any_missing.mean()) if len(any_missing) else None}

    traits = list(roles.traits)
    llms = _llm_keys(ds)
    distribution: dict[str, dict[str, dict[str, int]]] = {}
    if traits:
        distribution["aggregate"] = {t: value_counts(frame[t]) for t in traits if t in frame.columns}
    insufficient: dict[str, dict[str, float]] = {}
    for llm in llms:
        lcols = ds.trait_columns(llm)
        distribution[llm] = {}
        insufficient[llm] = {}
        for i, c in enumerate(lcols):
            t = _trait_name(c, llm, i, traits)
            distribution[llm][t] = value_counts(frame[c])
            insufficient[llm][t] = float(frame[c].isna().mean())

    categories = {}
    for c in roles.categorical:
        if c not in frame.columns:
            continue
        labels = list(ds.codes.get(c, []))
        counts = value_counts(frame[c])
        named = {}
        for k, v in counts.items():
            if k == "missing":
                continue
            code = float(k)
            idx = int(code) if code.is_integer() else -1
            named[labels[idx] if 0 <= idx < len(labels) else k] = v
        named["missing"] = counts["missing"]
        categories[c] = named

    return {
        "profile_version": PROFILE_VERSION,
        "name": ds.name,
        "source": getattr(ds, "source", ""),
        "rows": ds.n,
        "columns": int(frame.shape[1]),
        "content_hash": ds.content_hash,
        "roles": roles.to_dict(),
        "llms": list(ds.llms),
        "missing_share": miss,
        # JSON objects are written with sorted keys: these lists keep the table's own order
        "column_order": cols,
        "trait_order": list(dict.fromkeys(t for per in distribution.values() for t in per)),
        "rater_order": list(distribution),
        "embeddings": embeddings,
        "summaries": {c: _numeric_summary(frame[c]) for c in cols},
        "categories": categories,
        "trait_distribution": distribution,
        "insufficient_share": insufficient,
        "agreement": trait_agreement(ds) if len(llms) >= 2 else None,
        "licence": licence_text(ds),
        "biases": known_biases(ds.name),
    }


__all__ = ["profile_dataset", "trait_agreement", "value_counts", "known_biases", "licence_text",
           "KAPPA_WEIGHTS", "ALPHA_LEVEL", "PERSONAX_LICENCE"]
