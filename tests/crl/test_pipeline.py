"""fit_dataset on a small Dataset with known latents: files written, read back, scored."""

import json

import numpy as np
import pandas as pd
import pytest

from causaltraits.crl.model import MultiMeasurementCRL
from causaltraits.crl.pipeline import fit_dataset, modalities_of
from causaltraits.data.dataset import Dataset, Roles
from causaltraits.errors import DataError
from causaltraits.runs import open_run


def _dataset(n=240, seed=0):
    rng = np.random.default_rng(seed)
    text_z = rng.uniform(-1.7, 1.7, size=(n, 2))
    face_z = rng.laplace(size=(n, 1))
    cols, emb = {}, {}
    for key, z, dim in (("text_a", text_z, 6), ("text_b", text_z, 6), ("face", face_z, 4)):
        x = z @ rng.normal(size=(z.shape[1], dim)) + 0.05 * rng.normal(size=(n, dim))
        names = [f"{key}_emb_{i}" for i in range(dim)]
        emb[key] = names
        cols.update(dict(zip(names, x.T)))
    frame = pd.DataFrame(cols)
    frame.iloc[3, 0] = np.nan  # one row with a missing embedding value
    lat = pd.DataFrame(np.column_stack([text_z, face_z]), columns=["text_z0", "text_z1", "face_z0"])
    return Dataset(name="tiny", frame=frame, roles=Roles(embeddings=emb), ids=pd.Series([f"P{i}" for i in range(n)]),
                   latents=lat, source="test")


def test_modalities_of_groups_text_measurements():
    names, mods = modalities_of(_dataset(30))
    assert names == ["text", "face"] and mods == [["text_a", "text_b"], ["face"]]


def test_fit_dataset_writes_and_scores(tmp_path):
    ds = _dataset()
    out = tmp_path / "run"
    with open_run(out, "tiny") as run:
        m = fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 1}, epochs=30, hidden=[32])
    assert m["rows_used"] == 239 and m["rows_dropped_missing_embedding"] == 1
    lat = pd.read_parquet(out / "latents.parquet")
    assert list(lat.columns) == ["ID", "split", "text_latent_1", "text_latent_2", "face_latent_1"]
    assert "P3" not in set(lat["ID"]) and (lat["split"] == "test").sum() == 48
    back = json.loads((out / "metrics.json").read_text())
    # linear, non-Gaussian toy (tiny, so only a loose bound): the latents are recovered
    assert back["truth"]["mcc_pearson"] > 0.6  # random latents give about 0.2 here
    assert json.loads((out / "graph.json").read_text())["nodes"] == ["text_latent_1", "text_latent_2", "face_latent_1"]
    model = MultiMeasurementCRL.load(out / "model")
    X = [[ds.matrix(ds.roles.embeddings[k])[4:10] for k in ("text_a", "text_b")],
         [ds.matrix(ds.roles.embeddings["face"])[4:10]]]
    assert np.allclose(model.transform(X), lat[["text_latent_1", "text_latent_2", "face_latent_1"]].to_numpy()[3:9])


def test_fit_dataset_records_the_refit_when_asked(tmp_path):
    ds = _dataset(n=160)
    with open_run(tmp_path / "on", "tiny") as run:
        fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 1}, epochs=5, hidden=[16], refine=True,
                    refine_iter=40)
    ref = json.loads((tmp_path / "on" / "metrics.json").read_text())["refit"]
    assert isinstance(ref["accepted"], bool)
    assert ref["accepted"] == (ref["val_objective_after"] < ref["val_objective_before"])
    with open_run(tmp_path / "off", "tiny") as run:
        fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 1}, epochs=5, hidden=[16])
    assert "refit" not in json.loads((tmp_path / "off" / "metrics.json").read_text())


def test_fit_dataset_records_the_restarts(tmp_path):
    ds = _dataset(n=160)
    with open_run(tmp_path / "r", "tiny") as run:
        m = fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 1}, epochs=3, hidden=[16],
                        restarts=2, restart_select="crossmodal")
    rec = json.loads((tmp_path / "r" / "metrics.json").read_text())["restarts"]
    assert rec["select"] == "crossmodal" and len(rec["scores"]) == 2
    assert rec["chosen"] == int(np.argmax(rec["scores"])) and rec["epochs_trained"] == 6
    assert m["epochs_run"] == 3  # the kept initialisation's
    with open_run(tmp_path / "one", "tiny") as run:
        assert "restarts" not in fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 1}, epochs=1,
                                             hidden=[8])


def test_fit_dataset_records_the_content_correction(tmp_path):
    ds = _dataset(n=160)
    with open_run(tmp_path / "c", "tiny") as run:
        m = fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 2}, epochs=3, hidden=[16],
                        content_correction=True)
    rec = json.loads((tmp_path / "c" / "metrics.json").read_text())["content_correction"]
    # one column per modality, named as in latents.parquet, sharing at least as much after
    assert [c["column"].split("_latent_")[0] for c in rec] == ["text", "face"]
    assert all(c["column"] in m["latent_columns"] for c in rec)
    assert all(c["residual_correlation_after"] <= c["residual_correlation_before"] for c in rec)
    assert all(c["residual_correlation_null"] > 0 and isinstance(c["one_latent_shares"], bool) for c in rec)
    assert all(0 < c["residual_p_value"] <= 1 for c in rec)
    with open_run(tmp_path / "off", "tiny") as run:
        assert "content_correction" not in fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 1},
                                                       epochs=1, hidden=[8])


def test_fit_dataset_pc_test_gcm(tmp_path):
    from causaltraits.crl import metrics as M
    from causaltraits.discovery.graph import Graph
    from causaltraits.errors import ParameterError

    ds = _dataset(n=200)
    with open_run(tmp_path / "g", "tiny") as run:
        m = fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 1}, epochs=5, hidden=[16], pc_test="gcm")
    assert m["pc"]["test"] == "gcm"
    lat = pd.read_parquet(tmp_path / "g" / "latents.parquet")
    cols = ["text_latent_1", "text_latent_2", "face_latent_1"]
    expect = M.pc_graph(lat.loc[lat["split"] == "test", cols].to_numpy(), cols, test="gcm")
    assert Graph.from_dict(json.loads((tmp_path / "g" / "graph.json").read_text())).to_dict() == expect.to_dict()
    with pytest.raises(ParameterError, match="pc_test"):
        with open_run(tmp_path / "bad", "tiny") as run:
            fit_dataset(ds, run, seed=0, latent_dims={"text": 2, "face": 1}, epochs=1, pc_test="kci")


def test_fit_dataset_same_seed_same_files(tmp_path):
    ds = _dataset(n=120)
    for name in ("a", "b"):
        with open_run(tmp_path / name, "tiny") as run:
            fit_dataset(ds, run, seed=2, latent_dims={"text": 2, "face": 1}, epochs=3, hidden=[8])
    for f in ("metrics.json", "history.json", "graph.json", "learned_graph.json", "model.json", "model.npz",
              "latents.parquet"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_no_embeddings_is_a_data_error(tmp_path):
    ds = Dataset(name="plain", frame=pd.DataFrame({"a": [1.0, 2.0]}), roles=Roles())
    with pytest.raises(DataError, match="no embedding columns"):
        modalities_of(ds)
