"""Small PersonaX-like tables in every plausible released layout, with the values they must map to.

``make_truth`` draws a table in the mapped conventions (what the loader must return);
``write_layout`` writes it in one source layout (file format, score encoding, LLM prefix
spelling, category and face encodings, embeddings, split files).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

TRAITS = ("Openness", "Conscientiousness", "Extraversion", "Agreeableness", "Neuroticism")
LEAGUES = ["PGA", "Bundesliga", "PremierLeague", "NBA", "NFL", "NHL", "ATP"]
OCCUPATIONS = ["actor", "athlete", "musician", "politician", "writer"]
FACE = ["Arched_Eyebrows", "Big_Nose", "Pointy_Nose", "High_Cheekbones"]
NEW_LLMS = {"chatgpt": "Chatgpt", "gemini": "Gemini", "llama": "Llama"}
OLD_LLMS = {"4o": "4o", "ds": "DS", "gemini": "gemini"}


def make_truth(kind: str = "athle", n: int = 60, seed: int = 0, old: bool = False) -> dict:
    """Values in the mapped conventions: raw LLM scores (0 = missing), mapped traits, bio, etc."""
    rng = np.random.default_rng(seed)
    llms = OLD_LLMS if old else NEW_LLMS
    raw = {llm: rng.integers(1, 4, size=(n, 5)) for llm in llms}
    for llm in llms:  # ~12% "insufficient information"
        raw[llm][rng.random((n, 5)) < 0.12] = 0
    raw[list(llms)[0]][0, :] = 0  # one LLM with nothing on row 0
    for llm in llms:  # row 1: no LLM has anything -> aggregate missing
        raw[llm][1, :] = 0
    stack = np.stack([raw[llm].astype(float) for llm in llms])  # (L, n, 5)
    stack[stack == 0] = np.nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(stack, axis=0)
    # The released aggregate is an integer level: a half-level median of two scores is rounded down.
    released = np.floor(median)
    bio = {
        "Birthyear": rng.integers(1950, 2001, n).astype(float),
        "Birthmonth": rng.integers(1, 13, n).astype(float),
        "Birthday": rng.integers(1, 29, n).astype(float),
        "Latitude": rng.uniform(-60, 70, n).round(4),
        "Longitude": rng.uniform(-170, 170, n).round(4),
        "Height": rng.normal(185, 10, n).round(1),
        "Weight": rng.normal(85, 12, n).round(1),
    }
    bio["Height"][[3, 7]] = np.nan
    bio["Weight"][5] = np.nan
    ids = [f"P{i:04d}" for i in range(n)]
    truth = {"kind": kind, "n": n, "ids": ids, "llms": llms, "raw": raw, "median": median,
             "released": released, "bio": bio}
    if kind == "athle":
        truth["cat"] = {"League": rng.choice(LEAGUES, n)}
    else:
        truth["cat"] = {"Occupation": rng.choice(OCCUPATIONS, n), "Gender": rng.choice(["female", "male"], n)}
        truth["face"] = {a: rng.integers(0, 2, n) for a in FACE}
    truth["emb"] = {"face": rng.normal(size=(n, 16)).round(6),
                    **{f"text_{llm}": rng.normal(size=(n, 12)).round(6) for llm in llms}}
    return truth


def _encode_scores(mat: np.ndarray, how: str, fmt: str) -> list:
    out = []
    for row in mat.astype(int).tolist():
        if how == "arrow_list":
            out.append(row if fmt != "csv" else json.dumps(row))
        elif how == "json":
            out.append(json.dumps(row))
        elif how == "dict":
            d = dict(zip("OCEAN", row))
            out.append(d if fmt != "csv" else json.dumps(d))
        elif how == "pydict":
            out.append(repr(dict(zip("OCEAN", row))))
        elif how == "pylist":
            out.append(repr(tuple(row)))
        elif how == "comma":
            out.append(",".join(map(str, row)))
        elif how == "fullnames":
            out.append(json.dumps(dict(zip(TRAITS, row))))
        else:
            raise ValueError(how)
    return out


def source_frame(truth: dict, *, fmt: str = "parquet", scores: str = "columns", aggregate: bool = True,
                 categorical: str = "names", face: str = "pm1", embeddings: str | None = "list",
                 old: bool = False) -> pd.DataFrame:
    """The table as released, in one layout."""
    n = truth["n"]
    cols: dict[str, object] = {"ID": truth["ids"]}
    if truth["kind"] == "athle":
        cols["League"] = (truth["cat"]["League"] if categorical == "names"
                          else [LEAGUES.index(v) for v in truth["cat"]["League"]])
    for k, v in truth["bio"].items():
        cols[k] = v
    if truth["kind"] == "celeb":
        if categorical == "names":
            cols.update(truth["cat"])
        else:
            cols["Occupation"] = [OCCUPATIONS.index(v) for v in truth["cat"]["Occupation"]]
            cols["Gender"] = [["female", "male"].index(v) for v in truth["cat"]["Gender"]]
        for a, v in truth["face"].items():
            cols[a] = np.where(v == 1, 1, -1) if face == "pm1" else v
    for llm, prefix in truth["llms"].items():
        mat = truth["raw"][llm]
        if embeddings == "list":
            e = truth["emb"][f"text_{llm}"]
            cols[f"{prefix}_description"] = [list(r) for r in e] if fmt != "csv" else [json.dumps(list(r)) for r in e]
        if scores == "columns":
            for j, t in enumerate(TRAITS):
                name = f"{prefix}_{t[0]}" if old else f"{prefix}_{t}"
                cols[name] = mat[:, j]
        else:
            cols[f"{prefix}_score"] = _encode_scores(mat, scores, fmt)
    if aggregate:
        agg = np.nan_to_num(truth["released"], nan=0).astype(int)
        if scores == "columns":
            for j, t in enumerate(TRAITS):
                cols[f"final_{t[0].lower()}" if old else t] = agg[:, j]
        else:
            cols["Aggregated_BigFive_score"] = _encode_scores(agg, scores, fmt)
    if embeddings == "list":
        e = truth["emb"]["face"]
        cols["Profile_picture"] = [list(r) for r in e] if fmt != "csv" else [json.dumps(list(r)) for r in e]
    elif embeddings == "columns":
        for i in range(truth["emb"]["face"].shape[1]):
            cols[f"face_emb_{i}"] = truth["emb"]["face"][:, i]
    frame = pd.DataFrame(cols)
    assert len(frame) == n
    return frame


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)
    return path


def write_layout(truth: dict, directory: Path, *, split: str | None = None, **kw) -> Path:
    """Write one layout under ``directory``; returns the directory (or the single file)."""
    fmt = kw.get("fmt", "parquet")
    frame = source_frame(truth, **kw)
    suffix = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}[fmt]
    if split is None:
        return write_frame(frame, directory / f"{truth['kind']}persona{suffix}")
    if split == "train":
        write_frame(frame, directory / "data" / f"train-00000-of-00001{suffix}")
    elif split == "shards":  # two train shards and a test split: all rows, in order
        a, b, c = np.array_split(np.arange(len(frame)), 3)
        write_frame(frame.iloc[a], directory / "data" / f"train-00000-of-00002{suffix}")
        write_frame(frame.iloc[b], directory / "data" / f"train-00001-of-00002{suffix}")
        write_frame(frame.iloc[c], directory / "data" / f"test-00000-of-00001{suffix}")
    elif split == "join":  # embeddings in a second table, rows shuffled, joined on ID
        emb_cols = [c for c in frame.columns if c.endswith("_description") or c == "Profile_picture"
                    or c.startswith("face_emb_")]
        write_frame(frame.drop(columns=emb_cols), directory / f"info{suffix}")
        other = frame[["ID", *emb_cols]].sample(frac=1.0, random_state=1)
        write_frame(other, directory / f"embeddings{suffix}")
    else:
        raise ValueError(split)
    (directory / "README.md").write_text("PersonaX fixture\n")
    return directory


def expected_traits(truth: dict, released: bool = True) -> np.ndarray:
    return truth["released"] if released else truth["median"]
