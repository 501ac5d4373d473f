"""The bundled demo tables: determinism, layout, rater model, truth, latents, recoverability."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from causaltraits.data import load_dataset
from causaltraits.data.dataset import TRAITS
from causaltraits.data.demo import (
    DEFAULT_SEED, FACE, LLMS, aggregate_scores, generate_demo, load_demo, truth_graph, write_truth,
)
from causaltraits.discovery.graph import Graph
from causaltraits.errors import DataError

DEMO_ROWS = {"athle-demo": 4181, "celeb-demo": 9444}


@pytest.fixture(scope="module", params=sorted(DEMO_ROWS))
def demo(request):
    return load_demo(request.param)


def _llm_cols(ds, trait):
    return [f"{llm}_{trait}" for llm in ds.llms]


# ------------------------------------------------------------------ determinism
@pytest.mark.parametrize("name", sorted(DEMO_ROWS))
def test_same_seed_same_bytes(name, tmp_path):
    a, b = generate_demo(name, seed=7), generate_demo(name, seed=7)
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    pd.testing.assert_frame_equal(a.latents, b.latents, check_exact=True)
    assert a.content_hash == b.content_hash
    pa, pb = tmp_path / "a.csv", tmp_path / "b.csv"
    a.frame.to_csv(pa, index=False)
    b.frame.to_csv(pb, index=False)
    assert pa.read_bytes() == pb.read_bytes()
    assert generate_demo(name, seed=8).content_hash != a.content_hash
    assert load_demo(name).content_hash == generate_demo(name, seed=DEFAULT_SEED).content_hash


def test_load_dataset_routes_to_demo():
    ds = load_dataset("celeb-demo")
    assert ds.name == "celeb-demo" and ds.source == f"generated:seed={DEFAULT_SEED}"
    with pytest.raises(DataError, match="athle-demo"):
        generate_demo("nope-demo")


# ------------------------------------------------------------------ layout
def test_rows_columns_and_conventions(demo):
    f = demo.frame
    assert demo.n == DEMO_ROWS[demo.name]
    assert demo.llms == list(LLMS) and demo.source == f"generated:seed={DEFAULT_SEED}"
    assert all(dt == np.float64 for dt in f.dtypes)
    expected = [*demo.roles.bio_continuous, *demo.roles.bio_categorical, *demo.roles.face,
                *demo.roles.traits, *(c for v in demo.roles.llm_traits.values() for c in v),
                *(c for v in demo.roles.embeddings.values() for c in v)]
    assert sorted(expected) == sorted(f.columns) and len(set(expected)) == len(expected)
    for col in demo.roles.bio_categorical:
        v = f[col]
        assert v.notna().all()
        assert set(np.unique(v)) == set(range(len(demo.codes[col])))
    if demo.name == "athle-demo":
        assert demo.codes["League"] == ["PGA", "Bundesliga", "PremierLeague", "NBA", "NFL", "NHL", "ATP"]
        assert demo.roles.face == []
    else:
        assert demo.roles.face == list(FACE) and demo.codes["Gender"] == ["Female", "Male"]
        for col in FACE:
            assert set(np.unique(f[col])) == {0.0, 1.0}
            assert 0.05 < f[col].mean() < 0.6
    by = f["Birthyear"]
    assert by.notna().all() and (by == np.round(by)).all() and by.between(1920, 2005).all()
    assert f["Birthmonth"].between(1, 12).all() and f["Birthday"].between(1, 31).all()
    assert f["Height"].dropna().between(140, 230).all()
    assert f["Latitude"].dropna().between(-90, 90).all() and f["Longitude"].dropna().between(-180, 180).all()


def test_zero_and_missing_rates(demo):
    f = demo.frame
    rates = {(llm, t): f[f"{llm}_{t}"].isna().mean() for llm in demo.llms for t in TRAITS}
    assert all(0.03 <= r <= 0.30 for r in rates.values()), rates
    per_trait = {t: np.mean([rates[(llm, t)] for llm in demo.llms]) for t in TRAITS}
    assert max(per_trait, key=per_trait.get) == "Neuroticism"
    assert len({round(r, 3) for r in rates.values()}) > 5  # rates vary by trait and rater
    for col in ("Height", "Weight", "Latitude", "Longitude"):
        assert 0.08 <= f[col].isna().mean() <= 0.32, col
    # scores are 1..3 (0 became NaN), never 0
    for llm in demo.llms:
        vals = np.unique(f[[f"{llm}_{t}" for t in TRAITS]].to_numpy())
        assert set(vals[~np.isnan(vals)]) == {1.0, 2.0, 3.0}


def test_aggregate_is_median_of_nonmissing(demo):
    f = demo.frame
    for t in TRAITS:
        expected = f[_llm_cols(demo, t)].median(axis=1, skipna=True)  # NaN when all three missing
        np.testing.assert_array_equal(f[t].to_numpy(), expected.to_numpy())
        vals = set(np.unique(f[t].dropna()))
        assert vals == {1.0, 1.5, 2.0, 2.5, 3.0}
        assert f[t].isna().mean() < 0.05


def test_aggregate_scores_helper():
    s = [np.array([1.0, np.nan, np.nan, 3.0]), np.array([3.0, 2.0, np.nan, 1.0]),
         np.array([2.0, 3.0, np.nan, np.nan])]
    np.testing.assert_array_equal(aggregate_scores(s), [2.0, 2.5, np.nan, 2.0])


# ------------------------------------------------------------------ truth
def test_truth_is_a_dag_over_analysis_variables_respecting_tiers(demo):
    g = demo.truth
    cols = demo.analysis_variables()
    assert g.nodes == cols
    assert all(e.type == "-->" for e in g.edges)
    assert 12 <= len(g.edges) <= 26
    assert nx.is_directed_acyclic_graph(nx.DiGraph(list(g.directed())))
    tier = {v: k for k, t in enumerate(demo.tiers(cols)) for v in t}
    assert all(tier[a] <= tier[b] for a, b in g.directed()), "a trait or face attribute causes biography"
    # categorical effects, nonlinear ones and trait -> trait edges are all present
    traits = set(demo.roles.traits)
    assert any(a in traits and b in traits for a, b in g.directed())
    assert any(a in demo.roles.bio_categorical and b in traits for a, b in g.directed())
    if demo.name == "celeb-demo":
        face = set(demo.roles.face)
        assert any((a in face and b in traits) or (a in traits and b in face) for a, b in g.directed())
    assert g.to_dict() == truth_graph(demo.name).to_dict()


def test_write_truth_round_trip(tmp_path):
    p = write_truth("athle-demo", tmp_path / "graph.json")
    assert Graph.read_json(p).to_dict() == truth_graph("athle-demo").to_dict()
    assert not list(tmp_path.glob("*.tmp*"))


def test_every_true_edge_is_a_real_dependence(demo):
    """Each truth edge shows in the data (mixed LR test, unconditional, p < 1e-3)."""
    from causaltraits.independence import make_test

    ds = demo
    cols = ds.analysis_variables()
    t = make_test("mixed", ds.matrix(cols), kinds=ds.kinds(cols))
    idx = {c: i for i, c in enumerate(cols)}
    weak = {f"{a}->{b}": t(idx[a], idx[b]) for a, b in ds.truth.directed() if t(idx[a], idx[b]) >= 1e-3}
    assert not weak


# ------------------------------------------------------------------ latents and embeddings
def test_latents_aligned_with_rows(demo):
    lat = demo.latents
    assert list(lat.columns) == [*(f"text_z{i}" for i in range(7)), *(f"face_z{i}" for i in range(4))]
    assert len(lat) == demo.n and lat.notna().all().all()
    assert set(demo.info["latents"]) == set(lat.columns)
    f = demo.frame
    for k, t in enumerate(TRAITS):  # text_z0..4 are the latent traits the raters scored
        ok = f[t].notna()
        assert np.corrcoef(lat[f"text_z{k}"][ok], f[t][ok])[0, 1] > 0.6
    # shuffled rows would destroy this: latents are aligned with the frame
    sub = demo.subset(np.arange(demo.n)[::-1])
    ok = sub.frame["Openness"].notna()
    assert np.corrcoef(sub.latents["text_z0"][ok], sub.frame["Openness"][ok])[0, 1] > 0.6
    # latents are non-Gaussian (CRL identifiability): excess kurtosis clearly away from 0
    from scipy import stats

    assert sum(abs(stats.kurtosis(lat[c])) > 0.3 or abs(stats.skew(lat[c])) > 0.3 for c in lat) >= 8


def test_embeddings_shape_and_decodability(demo):
    emb = demo.roles.embeddings
    assert sorted(emb) == ["face", "text_chatgpt", "text_gemini", "text_llama"]
    lat = demo.latents.to_numpy()
    half = demo.n // 2
    for mod, cols in emb.items():
        assert cols == [f"{mod}_emb_{i}" for i in range(16)]
        x = demo.frame[cols].to_numpy()
        assert x.shape == (demo.n, 16) and np.isfinite(x).all()
        z = lat[:, :7] if mod.startswith("text") else lat[:, 7:]
        # mildly nonlinear mixing: a quadratic-feature linear map decodes the latents on held-out rows
        feats = np.column_stack([np.ones(demo.n), x, x**2])
        coef, *_ = np.linalg.lstsq(feats[:half], z[:half], rcond=None)
        resid = z[half:] - feats[half:] @ coef
        r2 = 1 - resid.var(axis=0) / z[half:].var(axis=0)
        assert r2.min() > 0.9, (mod, r2)
    # the three text embeddings are different measurements of one latent vector
    a = demo.frame[emb["text_chatgpt"]].to_numpy()
    b = demo.frame[emb["text_gemini"]].to_numpy()
    assert np.abs(np.corrcoef(a.T, b.T)[:16, 16:]).max() < 0.999


# ------------------------------------------------------------------ recoverability
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DEMO_ROWS))
def test_pc_recovers_truth(name):
    """PC + tiers + the mixed LR test at alpha 0.05 reaches adjacency F1 >= 0.85."""
    from causaltraits.discovery.scores import adjacency_scores
    from causaltraits.discovery.search import discover

    ds = load_demo(name)
    res = discover(ds, test="mixed", alpha=0.05)
    s = adjacency_scores(res.graph, ds.truth)
    assert s["adj_f1"] >= 0.85, s
