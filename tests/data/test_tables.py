"""Generic CSV / parquet tables: every column a variable; one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from causaltraits.data import load_dataset
from causaltraits.data.tables import load_table, read_table
from causaltraits.errors import DataError


@pytest.fixture
def survey():
    rng = np.random.default_rng(0)
    n = 50
    return pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.normal(50, 10, n).round(2),
        "country": rng.choice(["DE", "FR", "IT"], n),
        "score": rng.integers(0, 4, n),  # 0 is a real value in a generic table
        "group": rng.integers(1, 4, n),
    })


def test_numeric_and_categorical_columns(tmp_path, survey):
    path = tmp_path / "survey.csv"
    survey.to_csv(path, index=False)
    ds = load_table(path, categorical=["country", "group"])
    assert ds.name == "survey" and ds.n == 50
    assert ds.roles.other_continuous == ["age", "income", "score"]
    assert ds.roles.other_categorical == ["country", "group"]
    assert ds.codes["country"] == ["DE", "FR", "IT"]
    assert [ds.codes["country"][int(c)] for c in ds.frame["country"]] == list(survey["country"])
    assert ds.codes["group"] == ["1", "2", "3"]
    assert list(ds.frame["group"]) == list(survey["group"] - 1.0)
    np.testing.assert_array_equal(ds.frame["score"], survey["score"].astype(float))  # zeros stay zeros
    np.testing.assert_array_equal(ds.frame["income"], survey["income"])
    assert ds.kind("country") == "categorical" and ds.kind("age") == "continuous"
    assert ds.tiers(["age", "income"]) is None
    assert ds.analysis_variables() == ["age", "income", "country", "score", "group"]


def test_columns_subset_and_parquet_gives_same_hash(tmp_path, survey):
    survey.to_csv(tmp_path / "s.csv", index=False)
    survey.to_parquet(tmp_path / "s.parquet", index=False)
    a = load_table(tmp_path / "s.csv", columns=["age", "income"], categorical=["country"])
    b = load_table(tmp_path / "s.parquet", columns=["age", "income"], categorical=["country"])
    assert list(a.frame.columns) == ["age", "income", "country"]
    assert a.content_hash == b.content_hash
    c = load_dataset(str(tmp_path / "s.parquet"), columns=["age", "income"], categorical=["country"])
    assert c.content_hash == a.content_hash


def test_missing_markers_become_nan(tmp_path):
    text = "a,b\n" + "\n".join(f"{i},{'NA' if i % 7 == 0 else i * 2}" for i in range(30)) + "\n1,\n"
    (tmp_path / "m.csv").write_text(text)
    ds = load_table(tmp_path / "m.csv")
    assert int(ds.frame["b"].isna().sum()) == 5 + 1
    assert ds.frame["b"].dtype == np.float64


def test_text_column_must_be_declared_categorical(tmp_path, survey):
    path = tmp_path / "survey.csv"
    survey.to_csv(path, index=False)
    with pytest.raises(DataError) as e:
        load_table(path)
    msg = str(e.value)
    assert str(path) in msg and "column 'country' holds text where numbers are expected" in msg
    assert "--categorical country" in msg and "\n" not in msg


@pytest.mark.parametrize("make,pattern", [
    (lambda p: None, r"file not found"),
    (lambda p: p.write_bytes(b"\x00\x01\x02PAR1\xff\xfe" * 100), r"binary content, not a text \.csv file"),
    (lambda p: p.write_text(""), r"the file is empty"),
])
def test_unreadable_csv(tmp_path, make, pattern):
    path = tmp_path / "bad.csv"
    make(path)
    with pytest.raises(DataError, match=pattern) as e:
        load_table(path)
    assert str(path) in str(e.value)


def test_truncated_parquet(tmp_path, survey):
    full = tmp_path / "full.parquet"
    survey.to_parquet(full, index=False)
    data = full.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.parquet: cannot read as parquet \(truncated or not a parquet file"):
        load_table(cut)
    notpq = tmp_path / "text.parquet"
    notpq.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"cannot read as parquet"):
        read_table(notpq)


def test_unsupported_suffix(tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_text("whatever")
    with pytest.raises(DataError, match=r"unsupported file type; expected \.csv"):
        read_table(p)


def test_required_column_missing(tmp_path, survey):
    survey.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(DataError, match=r"required column 'height' not found; columns found: age, income, country"):
        load_table(tmp_path / "s.csv", columns=["age", "height"])


def test_constant_all_missing_and_too_few_rows(tmp_path, survey):
    df = survey[["age", "income"]].copy()
    df["const"] = 1.0
    df.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(DataError, match=r"column 'const' is constant"):
        load_table(tmp_path / "c.csv")
    df = survey[["age", "income"]].copy()
    df["empty"] = np.nan
    df.to_parquet(tmp_path / "e.parquet", index=False)
    with pytest.raises(DataError, match=r"column 'empty' has no values \(all missing\)"):
        load_table(tmp_path / "e.parquet")
    survey[["age", "income"]].head(15).to_csv(tmp_path / "few.csv", index=False)
    with pytest.raises(DataError, match=r"only 15 rows have all of 2 variables; at least 20 needed"):
        load_table(tmp_path / "few.csv")


def test_non_integer_codes_in_a_categorical_column(tmp_path, survey):
    survey.assign(age=survey["age"] + 0.5).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(DataError, match=r"categorical column 'age' holds non-integer value"):
        load_table(tmp_path / "s.csv", columns=["income"], categorical=["age"])


def test_schema_maps_a_generic_table_to_personax_roles(tmp_path, px):
    truth = px.make_truth("athle", seed=30)
    frame = px.source_frame(truth, fmt="csv", scores="columns", embeddings=None)
    # a user's own spelling of everything
    rename = {"ID": "person", "League": "sport_league", "Height": "cm", "Openness": "agg_O_level"}
    frame = frame.rename(columns=rename)
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    schema = tmp_path / "map.json"
    schema.write_text(json.dumps({
        "id": "person",
        "bio_categorical": {"League": "sport_league"},
        "bio_continuous": {"Height": "cm", "Weight": "Weight"},
        "traits": {"O": "agg_O_level", "C": "Conscientiousness", "E": "Extraversion", "A": "Agreeableness",
                   "N": "Neuroticism"},
        "llm_scores": {"ChatGPT": [f"Chatgpt_{t}" for t in px.TRAITS]},
        "infer": False,
    }))
    ds = load_table(path, schema=schema)
    assert ds.name == "mine"
    assert ds.roles.bio_continuous == ["Height", "Weight"] and ds.roles.bio_categorical == ["League"]
    assert ds.llms == ["chatgpt"]
    assert list(ds.ids) == truth["ids"]
    np.testing.assert_array_equal(np.nan_to_num(ds.frame["Height"].to_numpy(), nan=-1),
                                  np.nan_to_num(truth["bio"]["Height"], nan=-1))
    assert "Birthyear" not in ds.frame.columns  # infer: false
    assert ds.licence is None  # a user's table, not the released data
    with pytest.raises(DataError, match=r"--columns/--categorical apply to generic tables without --schema"):
        load_table(path, schema=schema, columns=["cm"])


def test_schema_with_generic_roles_only(tmp_path, survey):
    survey.to_csv(tmp_path / "s.csv", index=False)
    sp = tmp_path / "m.json"
    sp.write_text(json.dumps({"other_continuous": {"Age": "age", "Income": "income"},
                              "other_categorical": ["country"], "labels": {"country": ["DE", "FR", "IT"]}}))
    ds = load_table(tmp_path / "s.csv", schema=sp)
    assert ds.roles.other_continuous == ["Age", "Income"] and ds.roles.other_categorical == ["country"]
    assert ds.roles.traits == [] and ds.analysis_variables() == ["Age", "Income", "country"]
    np.testing.assert_array_equal(ds.frame["Age"], survey["age"])
    assert [ds.codes["country"][int(c)] for c in ds.frame["country"]] == list(survey["country"])
