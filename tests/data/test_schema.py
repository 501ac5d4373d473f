"""Layout detection from column names, and the ``--schema`` mapping file with its validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from causaltraits.data.dataset import TRAITS
from causaltraits.data.personax import load_released_path
from causaltraits.data.schema import infer_schema, load_schema, schema_from_dict
from causaltraits.errors import DataError


def cols(*names, n=3):
    return pd.DataFrame({c: np.arange(n, dtype=float) for c in names})


def test_detects_new_release_names():
    s = infer_schema(cols("ID", "League", "Birthyear", "Chatgpt_score", "Gemini_score", "Llama_score",
                          "Aggregated_BigFive_score", "Height", "Weight"))
    assert s.id == "ID"
    assert s.traits == "Aggregated_BigFive_score"
    assert s.llm_scores == {"chatgpt": "Chatgpt_score", "gemini": "Gemini_score", "llama": "Llama_score"}
    assert s.bio_categorical == {"League": "League"}
    assert s.bio_continuous == {"Birthyear": "Birthyear", "Height": "Height", "Weight": "Weight"}


def test_detects_old_prefixes_and_final_aggregate():
    names = [f"{p}_{t}" for p in ("4o", "DS", "gemini") for t in "OCEAN"] + [f"final_{t}" for t in "ocean"]
    s = infer_schema(cols("ID", *names))
    assert list(s.llm_scores) == ["4o", "ds", "gemini"]
    assert s.llm_scores["ds"] == {t: f"DS_{t[0]}" for t in TRAITS}
    assert s.traits == {t: f"final_{t[0].lower()}" for t in TRAITS}


@pytest.mark.parametrize("names,llm", [
    ([f"chatgpt_{t.lower()}" for t in TRAITS], "chatgpt"),
    ([f"{t}_GPT4o" for t in TRAITS], "gpt4o"),
    ([f"Llama-4 {t}" for t in TRAITS], "llama4"),
    ([f"DeepSeek_{t}" for t in TRAITS], "deepseek"),
])
def test_detects_other_spellings(names, llm):
    s = infer_schema(cols(*names))
    assert list(s.llm_scores) == [llm]
    assert list(s.llm_scores[llm]) == list(TRAITS)


def test_bio_face_and_id_spellings():
    s = infer_schema(cols("person_id", "birth_year", "Birth Month", "lat", "lng", "height_cm", "sex",
                          "Occupation", "pointy_nose", "HIGH_CHEEKBONES", "Vitamin_A"))
    assert s.id == "person_id"
    assert s.bio_continuous == {"Birthyear": "birth_year", "Birthmonth": "Birth Month", "Latitude": "lat",
                                "Longitude": "lng", "Height": "height_cm"}
    assert s.bio_categorical == {"Gender": "sex", "Occupation": "Occupation"}
    assert s.face == {"Pointy_Nose": "pointy_nose", "High_Cheekbones": "HIGH_CHEEKBONES"}
    assert s.traits is None and s.llm_scores == {}  # "Vitamin_A" is not Agreeableness


def test_numbered_embedding_columns_grouped_by_modality():
    names = [f"face_emb_{i}" for i in range(10)] + [f"chatgpt_desc_emb{i}" for i in range(9)] + ["x_1", "x_2"]
    s = infer_schema(cols(*names))
    assert s.embeddings["face"] == [f"face_emb_{i}" for i in range(10)]
    assert s.embeddings["text_chatgpt"] == [f"chatgpt_desc_emb{i}" for i in range(9)]
    assert "x_1" in s.unused  # two numbered columns are not an embedding


def test_schema_file_full_example(tmp_path, px):
    truth = px.make_truth("celeb", seed=40)
    frame = px.source_frame(truth, scores="columns", embeddings="columns", fmt="csv")
    frame = frame.rename(columns={f"Gemini_{t}": f"g{j}" for j, t in enumerate(TRAITS)})
    frame = frame.rename(columns={"Gender": "who", "Pointy_Nose": "pn"})
    path = tmp_path / "celeb.csv"
    frame.to_csv(path, index=False)
    spec = {
        "llm_scores": {"Gemini": ["g0", "g1", "g2", "g3", "g4"],
                       "chatgpt": {t: f"Chatgpt_{t}" for t in TRAITS},
                       "llama": {t[0]: f"Llama_{t}" for t in TRAITS}},
        "bio_categorical": {"Gender": "who", "Occupation": "Occupation"},
        "face": {"Pointy_Nose": "pn", "Big_Nose": "Big_Nose"},
        "embeddings": {"face": [f"face_emb_{i}" for i in range(16)]},
    }
    sp = tmp_path / "s.json"
    sp.write_text(json.dumps(spec))
    ds = load_released_path(path, name="celeb", schema=sp)
    assert ds.llms == ["gemini", "chatgpt", "llama"]
    raw = truth["raw"]["gemini"].astype(float)
    raw[raw == 0] = np.nan
    np.testing.assert_array_equal(np.nan_to_num(ds.frame[ds.trait_columns("gemini")].to_numpy(), nan=-1),
                                  np.nan_to_num(raw, nan=-1))
    assert ds.roles.face == ["Pointy_Nose", "Big_Nose"]
    assert [ds.codes["Gender"][int(c)] for c in ds.frame["Gender"]] == list(truth["cat"]["Gender"])
    assert ds.roles.bio_continuous == list(truth["bio"])  # inferred, not named in the file
    assert ds.info["schema"] == str(sp)
    assert ds.roles.embeddings["face"] == [f"face_emb_{i}" for i in range(16)]
    light = load_released_path(path, name="celeb", schema=sp, embeddings=False)
    assert light.roles.embeddings == {} and "face_emb_0" not in light.frame.columns


def test_trait_range_and_missing_code_from_schema(tmp_path):
    rng = np.random.default_rng(1)
    n = 30
    frame = pd.DataFrame({"id": range(n), "age": rng.integers(20, 60, n)})
    for t in TRAITS:
        frame[f"gpt_{t}"] = rng.integers(1, 6, n)  # a 1..5 scale, -1 = missing
    frame.loc[0, "gpt_Openness"] = -1
    path = tmp_path / "five.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"holds -1, 4, 5; expected levels 1\.\.3, 0 = insufficient information"):
        load_released_path(path, name="five")
    sp = tmp_path / "s.json"
    sp.write_text(json.dumps({"trait_range": [1, 5], "trait_missing": -1, "other_continuous": ["age"]}))
    ds = load_released_path(path, name="five", schema=sp)
    assert np.isnan(ds.frame.loc[0, "gpt_Openness"])
    assert ds.frame["gpt_Openness"].max() <= 5 and ds.frame["gpt_Openness"].min() >= 1
    assert ds.roles.other_continuous == ["age"]


@pytest.mark.parametrize("spec,pattern", [
    ([1, 2], r"expected a JSON object"),
    ({"trait": "x"}, r"unknown key 'trait'; allowed keys: id, traits"),
    ({"traits": ["a", "b"]}, r"'traits': a list must name 5 columns in O, C, E, A, N order"),
    ({"traits": {"O": "a", "X": "b"}}, r"key 'X' is not a Big Five trait"),
    ({"traits": {"O": "a", "C": "b"}}, r"no column for Extraversion, Agreeableness, Neuroticism"),
    ({"llm_scores": "chatgpt"}, r"'llm_scores' must be an object"),
    ({"llm_scores": {"ChatGPT": "a", "chatgpt": "b"}}, r"names LLM 'chatgpt' twice"),
    ({"face": 3}, r"'face' must be a list of column names or an object"),
    ({"embeddings": {"face": 7}}, r"'embeddings.face' must be a column name or a list"),
    ({"trait_range": [3, 1]}, r"'trait_range' must be \[low, high\]"),
    ({"trait_missing": "zero"}, r"'trait_missing' must be a number"),
    ({"infer": "no"}, r"'infer' must be true or false"),
    ({"face": ["A"], "bio_categorical": ["A"]}, r"column name 'A' is given two roles"),
])
def test_schema_validation_messages(tmp_path, spec, pattern):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(spec))
    with pytest.raises(DataError, match=pattern) as e:
        load_schema(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_schema_file_errors(tmp_path):
    with pytest.raises(DataError, match=r"schema file .*nope\.json not found"):
        load_schema(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{traits: x")
    with pytest.raises(DataError, match=r"not valid JSON"):
        load_schema(bad)


def test_schema_naming_an_absent_column(tmp_path, px):
    truth = px.make_truth("athle", seed=41)
    path = px.write_layout(truth, tmp_path)
    s = schema_from_dict({"bio_continuous": {"Height": "height_in_cm"}}, origin="m.json")
    with pytest.raises(DataError, match=r"schema m\.json maps column 'height_in_cm' to bio_continuous\.Height, "
                                        r"but the table has no such column; columns found: ID, League"):
        load_released_path(path, name="athle", schema=s)


def test_directory_with_two_score_tables_needs_files(tmp_path, px):
    a = px.make_truth("athle", seed=42)
    c = px.make_truth("celeb", seed=43)
    px.write_layout(a, tmp_path, fmt="csv")
    px.write_layout(c, tmp_path, fmt="csv")
    with pytest.raises(DataError, match=r"several tables hold trait scores .*name the one\(s\) to read with \"files\""):
        load_released_path(tmp_path, name="athle")
    sp = tmp_path / "s.json"
    sp.write_text(json.dumps({"files": ["celebpersona.csv"]}))
    ds = load_released_path(tmp_path, name="celeb", schema=sp)
    assert ds.info["files"] == ["celebpersona.csv"] and ds.roles.face == px.FACE
