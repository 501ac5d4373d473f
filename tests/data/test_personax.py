"""The released-table loader reads every plausible layout and maps it to the same values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from causaltraits.data import load_dataset
from causaltraits.data.dataset import TRAITS
from causaltraits.data.personax import LICENCE_TERMS, load_personax, load_released_path, parse_scores
from causaltraits.errors import DataError, DatasetNotFound


def nan_equal(a, b) -> bool:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def check_against_truth(ds, truth, px, *, aggregate_released=True, embeddings=True):
    """Every mapped value equals the truth the fixture was written from."""
    assert ds.n == truth["n"]
    assert list(ds.ids) == truth["ids"]
    assert ds.llms == list(truth["llms"])
    # aggregate: released integer levels, or the recomputed median; 0 never survives
    expected = truth["released"] if aggregate_released else truth["median"]
    assert nan_equal(ds.frame[list(TRAITS)].to_numpy(), expected)
    assert ds.roles.traits == list(TRAITS)
    for llm in truth["llms"]:
        raw = truth["raw"][llm].astype(float)
        raw[raw == 0] = np.nan
        cols = [f"{llm}_{t}" for t in TRAITS]
        assert ds.roles.llm_traits[llm] == cols
        assert nan_equal(ds.frame[cols].to_numpy(), raw)
    assert not (ds.frame[[*TRAITS, *[c for v in ds.roles.llm_traits.values() for c in v]]] == 0).any().any()
    for k, v in truth["bio"].items():
        assert nan_equal(ds.frame[k], v), k
    assert ds.roles.bio_continuous == list(truth["bio"])
    for k, names in truth["cat"].items():
        labels = ds.codes[k]
        decoded = [labels[int(c)] for c in ds.frame[k]]
        if labels[0].isdigit():  # released as integer codes: labels are the codes
            ref = px.LEAGUES if k == "League" else (px.OCCUPATIONS if k == "Occupation" else ["female", "male"])
            decoded = [ref[int(c)] for c in decoded]
        assert decoded == list(names), k
        assert set(ds.frame[k].unique()) == set(range(len(labels)))
    assert ds.roles.bio_categorical == list(truth["cat"])
    for a, v in truth.get("face", {}).items():
        assert nan_equal(ds.frame[a], v), a
        assert ds.kind(a) == "binary"
    if embeddings:
        assert set(ds.roles.embeddings) == set(truth["emb"])
        for mod, mat in truth["emb"].items():
            cols = ds.roles.embeddings[mod]
            assert cols == [f"{mod}_emb_{i}" for i in range(mat.shape[1])]
            np.testing.assert_allclose(ds.frame[cols].to_numpy(), mat, rtol=0, atol=1e-12)
    assert ds.licence == LICENCE_TERMS
    assert all(ds.frame[c].dtype == np.float64 for c in ds.frame.columns)


SCORE_LAYOUTS = ["columns", "arrow_list", "json", "dict", "pydict", "pylist", "comma"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("scores", SCORE_LAYOUTS)
@pytest.mark.parametrize("old", [False, True], ids=["new-prefixes", "old-prefixes"])
def test_athle_layouts_map_to_the_same_values(tmp_path, px, fmt, scores, old):
    truth = px.make_truth("athle", old=old, seed=1)
    path = px.write_layout(truth, tmp_path, fmt=fmt, scores=scores, old=old)
    ds = load_released_path(path, name="athle")
    check_against_truth(ds, truth, px)
    assert ds.info["aggregate"] == "released"
    assert ds.info["aggregate_disagreements"] == 0
    # every half-level median of two scores was released rounded down: tie-breaks, not disagreements
    half = ~np.isnan(truth["median"]) & (truth["median"] % 1 != 0)
    assert ds.info["aggregate_tie_breaks"] == int(half.any(axis=1).sum()) > 0


@pytest.mark.parametrize("fmt,scores,categorical,face", [
    ("parquet", "dict", "names", "pm1"),
    ("csv", "columns", "codes", "01"),
    ("csv", "fullnames", "names", "01"),
    ("parquet", "arrow_list", "codes", "pm1"),
])
def test_celeb_layouts(tmp_path, px, fmt, scores, categorical, face):
    truth = px.make_truth("celeb", seed=2)
    path = px.write_layout(truth, tmp_path, fmt=fmt, scores=scores, categorical=categorical, face=face)
    ds = load_released_path(path, name="celeb")
    check_against_truth(ds, truth, px)
    assert ds.roles.face == px.FACE


@pytest.mark.parametrize("scores", ["arrow_list", "dict", "columns"])
def test_json_lines_layout(tmp_path, px, scores):
    truth = px.make_truth("celeb", seed=19)
    path = px.write_layout(truth, tmp_path, fmt="jsonl", scores=scores)
    assert path.suffix == ".jsonl"
    check_against_truth(load_released_path(path, name="celeb"), truth, px)


def test_same_content_hash_from_csv_and_parquet(tmp_path, px):
    truth = px.make_truth("celeb", seed=3)
    a = load_released_path(px.write_layout(truth, tmp_path / "a", fmt="csv", scores="json"), name="celeb")
    b = load_released_path(px.write_layout(truth, tmp_path / "b", fmt="parquet", scores="columns"), name="celeb")
    assert a.content_hash == b.content_hash


@pytest.mark.parametrize("scores", ["columns", "json"])
def test_absent_aggregate_is_recomputed_as_median_of_nonzero_scores(tmp_path, px, scores):
    truth = px.make_truth("athle", seed=4)
    path = px.write_layout(truth, tmp_path, scores=scores, aggregate=False)
    ds = load_released_path(path, name="athle")
    check_against_truth(ds, truth, px, aggregate_released=False)
    assert ds.info["aggregate"].startswith("recomputed")
    assert "aggregate_disagreements" not in ds.info
    # row 1: every LLM said "insufficient information" -> missing, not 0 and not a low score
    assert ds.frame.loc[1, list(TRAITS)].isna().all()
    # the recomputation is the median of the non-zero scores, checked by hand on one row
    row = 10
    for j, t in enumerate(TRAITS):
        vals = [truth["raw"][llm][row, j] for llm in truth["llms"] if truth["raw"][llm][row, j] != 0]
        assert ds.frame.loc[row, t] == (np.median(vals) if vals else np.nan) or (not vals)


def test_disagreeing_aggregate_is_reported_not_replaced(tmp_path, px):
    truth = px.make_truth("athle", seed=5)
    frame = px.source_frame(truth, scores="columns")
    # make three rows disagree with the LLM median: set Openness to a level none of the medians has
    rows = [4, 11, 30]
    for r in rows:
        med = truth["median"][r, 0]
        frame.loc[r, "Openness"] = 3 if (np.isnan(med) or med < 2.5) else 1
    path = px.write_frame(frame, tmp_path / "athle.parquet")
    ds = load_released_path(path, name="athle")
    assert ds.info["aggregate_disagreements"] == 3
    assert ds.info["aggregate_disagreements_by_trait"]["Openness"] == 3
    assert ds.info["aggregate_disagreement_rows"] == rows
    assert ds.info["aggregate_disagreement_ids"] == [truth["ids"][r] for r in rows]
    # kept as released
    assert list(ds.frame.loc[rows, "Openness"]) == list(frame.loc[rows, "Openness"].astype(float))


def test_zero_is_missing_never_a_low_score(tmp_path, px):
    truth = px.make_truth("athle", seed=6)
    frame = px.source_frame(truth, scores="columns", fmt="csv")
    path = px.write_frame(frame, tmp_path / "athle.csv")
    ds = load_released_path(path, name="athle")
    zeros = int((frame["Chatgpt_Openness"] == 0).sum())
    assert zeros > 0
    assert int(ds.frame["chatgpt_Openness"].isna().sum()) == zeros
    assert ds.frame["chatgpt_Openness"].min() == 1


def test_implausible_bio_values_become_missing_and_are_counted(tmp_path, px):
    truth = px.make_truth("athle", seed=7)
    frame = px.source_frame(truth)
    frame.loc[[0, 1], "Height"] = 0
    frame.loc[2, "Birthmonth"] = 13
    frame.loc[3, ["Latitude", "Longitude"]] = 0.0
    ds = load_released_path(px.write_frame(frame, tmp_path / "a.parquet"), name="athle")
    assert ds.frame.loc[[0, 1], "Height"].isna().all()
    assert ds.frame["Height"].isna().sum() == 4  # two zeros + the two missing in the truth
    assert np.isnan(ds.frame.loc[2, "Birthmonth"])
    assert ds.frame.loc[3, ["Latitude", "Longitude"]].isna().all()
    assert ds.info["set_missing"] == {"Height": 2, "Birthmonth": 1, "Latitude/Longitude (0, 0)": 1}
    assert (ds.frame["Height"].dropna() > 0).all()


def test_integer_codes_with_labels_from_a_schema(tmp_path, px):
    truth = px.make_truth("athle", seed=8)
    path = px.write_layout(truth, tmp_path, categorical="codes")
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"labels": {"League": px.LEAGUES}}))
    ds = load_released_path(path, name="athle", schema=schema)
    assert ds.codes["League"] == px.LEAGUES
    assert [ds.codes["League"][int(c)] for c in ds.frame["League"]] == list(truth["cat"]["League"])


def test_face_attributes_with_minus_one_zero_and_one_are_refused(tmp_path, px):
    truth = px.make_truth("celeb", seed=9)
    frame = px.source_frame(truth, face="pm1")
    frame.loc[0, "Big_Nose"] = 0
    with pytest.raises(DataError, match=r"face attribute column 'Big_Nose' holds -1, 0, 1"):
        load_released_path(px.write_frame(frame, tmp_path / "c.parquet"), name="celeb")


def test_numbered_embedding_columns(tmp_path, px):
    truth = px.make_truth("athle", seed=10)
    path = px.write_layout(truth, tmp_path, fmt="csv", embeddings="columns")
    ds = load_released_path(path, name="athle")
    assert list(ds.roles.embeddings) == ["face"]
    np.testing.assert_allclose(ds.frame[ds.roles.embeddings["face"]].to_numpy(), truth["emb"]["face"], atol=1e-12)
    # and without embeddings at all
    ds2 = load_released_path(px.write_layout(truth, tmp_path / "none", embeddings=None), name="athle")
    assert ds2.roles.embeddings == {}
    ds3 = load_released_path(path, name="athle", embeddings=False)
    assert ds3.roles.embeddings == {} and ds3.info["embeddings"] == "not read (embeddings=False)"
    assert not any("emb" in c for c in ds3.frame.columns)


def test_ragged_embeddings_are_refused(tmp_path, px):
    truth = px.make_truth("athle", seed=10)
    frame = px.source_frame(truth)
    frame.at[5, "Profile_picture"] = [0.1, 0.2]
    path = px.write_frame(frame, tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"'Profile_picture' \(embedding face\) row 6 has 2 values, earlier rows 16"):
        load_released_path(path, name="athle")
    # without embeddings the embedding columns are not even read
    ds = load_released_path(path, name="athle", embeddings=False)
    assert ds.roles.embeddings == {} and not any("emb" in c for c in ds.frame.columns)
    check_against_truth(ds, truth, px, embeddings=False)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_without_embeddings_same_structured_values(tmp_path, px, fmt):
    truth = px.make_truth("celeb", seed=23)
    d = px.write_layout(truth, tmp_path, fmt=fmt, split="shards", scores="json")
    full = load_released_path(d, name="celeb")
    light = load_released_path(d, name="celeb", embeddings=False)
    emb = {c for cols in full.roles.embeddings.values() for c in cols}
    pd.testing.assert_frame_equal(light.frame, full.frame[[c for c in full.frame.columns if c not in emb]])
    assert light.info["files"] == full.info["files"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_split_files_train_shards_and_test_are_stacked_in_order(tmp_path, px, fmt):
    truth = px.make_truth("athle", seed=11)
    d = px.write_layout(truth, tmp_path, split="shards", fmt=fmt)
    ds = load_released_path(d, name="athle")
    check_against_truth(ds, truth, px)
    sfx = "parquet" if fmt == "parquet" else "csv"
    assert ds.info["files"] == [f"data/train-00000-of-00002.{sfx}", f"data/train-00001-of-00002.{sfx}",
                                f"data/test-00000-of-00001.{sfx}"]


def test_single_train_split(tmp_path, px):
    truth = px.make_truth("celeb", seed=12)
    d = px.write_layout(truth, tmp_path, split="train", scores="dict")
    ds = load_released_path(d, name="celeb")
    check_against_truth(ds, truth, px)
    assert ds.info["files"] == ["data/train-00000-of-00001.parquet"]


def test_embeddings_in_a_second_file_are_joined_on_id(tmp_path, px):
    truth = px.make_truth("celeb", seed=13)
    d = px.write_layout(truth, tmp_path, split="join", fmt="csv")
    ds = load_released_path(d, name="celeb")
    check_against_truth(ds, truth, px)
    assert ds.info["files"] == ["info.csv"] and ds.info["joined_files"] == ["embeddings.csv"]


def test_loads_from_cache_dir_env_and_file(tmp_path, px, monkeypatch):
    truth = px.make_truth("athle", seed=14)
    root = tmp_path / "root"
    px.write_layout(truth, root / "athle", split="train")
    check_against_truth(load_personax("athle", data_dir=root), truth, px)
    monkeypatch.setenv("CAUSALTRAITS_DATA", str(root))
    check_against_truth(load_personax("athle"), truth, px)
    check_against_truth(load_dataset("athle"), truth, px)
    light = load_dataset("athle", embeddings=False)
    assert light.roles.embeddings == {} and light.n == truth["n"]
    f = px.write_layout(truth, tmp_path / "elsewhere", fmt="csv")
    check_against_truth(load_personax("athle", data_dir=f), truth, px)
    check_against_truth(load_personax("athle", data_dir=f.parent), truth, px)


def test_not_on_disk_says_where_and_how_to_fetch(tmp_path):
    with pytest.raises(DatasetNotFound) as e:
        load_personax("celeb", data_dir=tmp_path / "nothing")
    msg = str(e.value)
    assert "\n" not in msg
    assert str(tmp_path / "nothing" / "celeb") in msg
    assert "causaltraits data fetch celeb" in msg and "celeb-demo" in msg


def test_unmappable_table_lists_columns_and_missing_roles(tmp_path):
    frame = pd.DataFrame({"ID": range(30), "foo": range(30), "bar": np.arange(30) * 2.0, "League": ["NBA"] * 30})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as e:
        load_released_path(path, name="athle")
    msg = str(e.value)
    assert "\n" not in msg
    assert "roles missing: traits" in msg
    assert "columns found: ID, foo, bar, League" in msg
    assert "--schema FILE" in msg


def test_incomplete_llm_columns_are_refused(tmp_path, px):
    truth = px.make_truth("athle", seed=15)
    frame = px.source_frame(truth, fmt="csv").drop(columns=["Gemini_Extraversion", "Gemini_Neuroticism"])
    with pytest.raises(DataError, match=r"gemini has .* but no Extraversion, Neuroticism"):
        load_released_path(px.write_frame(frame, tmp_path / "a.csv"), name="athle")


def test_scores_outside_the_scale_are_refused(tmp_path, px):
    truth = px.make_truth("athle", seed=16)
    frame = px.source_frame(truth)
    frame.loc[3, "Llama_Agreeableness"] = 5
    with pytest.raises(DataError, match=r"'Llama_Agreeableness' \(LLM 'llama' Agreeableness\) holds 5; expected"):
        load_released_path(px.write_frame(frame, tmp_path / "a.parquet"), name="athle")


def test_text_in_a_numeric_bio_column_is_refused(tmp_path, px):
    truth = px.make_truth("athle", seed=17)
    frame = px.source_frame(truth, fmt="csv")
    frame["Height"] = frame["Height"].astype(object)
    frame.loc[4, "Height"] = "185 cm"
    with pytest.raises(DataError, match=r"column 'Height' holds text where numbers are expected \('185 cm' in row 5\)"):
        load_released_path(px.write_frame(frame, tmp_path / "a.csv"), name="athle")


def test_unreadable_score_cell_names_row_and_column(tmp_path, px):
    truth = px.make_truth("athle", seed=18)
    frame = px.source_frame(truth, scores="json", fmt="csv")
    frame.loc[7, "Gemini_score"] = "[1, 2, 3]"
    with pytest.raises(DataError, match=r"column 'Gemini_score' \(LLM 'gemini' Big Five\) row 8 .* holds 3 values"):
        load_released_path(px.write_frame(frame, tmp_path / "a.csv"), name="athle")


@pytest.mark.parametrize("cell,expected", [
    ([1, 2, 0, 3, 2], [1, 2, 0, 3, 2]),
    (np.array([3, 3, 1, 1, 2]), [3, 3, 1, 1, 2]),
    ("[1,2,0,3,2]", [1, 2, 0, 3, 2]),
    ("(1, 2, 0, 3, 2)", [1, 2, 0, 3, 2]),
    ("1,2,0,3,2", [1, 2, 0, 3, 2]),
    ("1 2 0 3 2", [1, 2, 0, 3, 2]),
    ({"O": 1, "C": 2, "E": 0, "A": 3, "N": 2}, [1, 2, 0, 3, 2]),
    ('{"N": 2, "A": 3, "E": 0, "C": 2, "O": 1}', [1, 2, 0, 3, 2]),
    ("{'Openness': 1, 'Conscientiousness': 2, 'Extraversion': 0, 'Agreeableness': 3, 'Neuroticism': 2}",
     [1, 2, 0, 3, 2]),
    ("O: 1, C: 2, E: 0, A: 3, N: 2", [1, 2, 0, 3, 2]),
    ("{O: 1, C: 2, E: 0, A: 3, N: 2}", [1, 2, 0, 3, 2]),
])
def test_parse_scores_forms(cell, expected):
    assert parse_scores(cell) == expected


@pytest.mark.parametrize("cell", [None, float("nan"), "", "nan", "None"])
def test_parse_scores_missing(cell):
    assert parse_scores(cell) is None


@pytest.mark.parametrize("cell", ["[1,2]", "{'O': 1}", "hello", {"X": 1, "O": 1, "C": 1, "E": 1, "A": 1}])
def test_parse_scores_refuses(cell):
    with pytest.raises(ValueError):
        parse_scores(cell)


def test_same_table_in_two_formats_is_read_once(tmp_path, px):
    truth = px.make_truth("athle", seed=20)
    px.write_layout(truth, tmp_path, fmt="csv")
    px.write_layout(truth, tmp_path, fmt="parquet")
    ds = load_released_path(tmp_path, name="athle")
    check_against_truth(ds, truth, px)
    assert ds.info["files"] == ["athlepersona.parquet"]
    assert ds.info["ignored_files"] == ["athlepersona.csv (same table as athlepersona.parquet)"]


def test_split_files_sharing_ids_are_refused(tmp_path, px):
    truth = px.make_truth("athle", seed=21)
    frame = px.source_frame(truth)
    px.write_frame(frame, tmp_path / "data" / "train.parquet")
    px.write_frame(frame.iloc[:10], tmp_path / "data" / "test.parquet")
    with pytest.raises(DataError, match=r"files data/train\.parquet and data/test\.parquet share 10 id\(s\) in "
                                        r"column 'ID', so they are not parts of one table"):
        load_released_path(tmp_path, name="athle")


def test_bare_data_root_is_not_taken_for_the_other_dataset(tmp_path, px):
    truth = px.make_truth("celeb", seed=22)
    px.write_layout(truth, tmp_path)  # tmp_path/celebpersona.parquet, no celeb/ folder
    check_against_truth(load_personax("celeb", data_dir=tmp_path), truth, px)
    with pytest.raises(DatasetNotFound, match="athle: the released AthlePersona table is not on disk"):
        load_personax("athle", data_dir=tmp_path)
