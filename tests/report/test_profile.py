"""The data profile: JSON-able, counts read back against the frame, agreement against the estimators."""

import json

import numpy as np
import pandas as pd
import pytest

from causaltraits.data.dataset import TRAITS, Dataset, Roles
from causaltraits.report.agreement import krippendorff_alpha, weighted_kappa
from causaltraits.report.profile import PERSONAX_LICENCE, profile_dataset
from causaltraits.runs import dumps_json


@pytest.fixture(scope="module")
def profile(dataset):
    return profile_dataset(dataset)


def test_profile_is_plain_json_without_nan(profile):
    text = json.dumps(profile, allow_nan=False)  # raises on NaN / numpy types
    assert json.loads(text) == json.loads(dumps_json(profile))


def test_rows_missing_and_embeddings_summarised(profile, dataset):
    assert profile["rows"] == dataset.n == 300
    assert profile["content_hash"] == dataset.content_hash
    assert profile["missing_share"]["Height"] == pytest.approx(dataset.frame["Height"].isna().mean())
    assert profile["missing_share"]["Height"] > 0.05
    assert not any(c.startswith("face_emb") for c in profile["missing_share"])
    assert profile["embeddings"] == {"face": {"dims": 4, "rows_missing_share": 0.0}}
    assert profile["column_order"][:4] == ["Birthyear", "Height", "Weight", "League"]
    assert profile["summaries"]["Weight"]["n"] == 300
    assert profile["categories"]["League"]["NBA"] == int((dataset.frame["League"] == 0).sum())


def test_trait_distributions_match_value_counts(profile, dataset):
    dist = profile["trait_distribution"]
    assert list(dist) == ["aggregate", "chatgpt", "gemini", "llama"]
    for llm in ("chatgpt", "gemini", "llama"):
        for t in TRAITS:
            col = dataset.frame[f"{llm}_{t}"]
            counts = dist[llm][t]
            assert set(counts) == {"1", "2", "3", "missing"}
            for v in (1, 2, 3):
                assert counts[str(v)] == int((col == v).sum())
            assert counts["missing"] == int(col.isna().sum())
            assert profile["insufficient_share"][llm][t] == pytest.approx(col.isna().mean())
    # the aggregate (median of the LLMs) takes half values when two LLMs answered
    assert "2.5" in dist["aggregate"]["Openness"]
    assert sum(dist["aggregate"]["Openness"].values()) == 300


def test_agreement_matches_estimators(profile, dataset):
    ag = profile["agreement"]
    assert ag["kappa_weights"] == "quadratic" and ag["alpha_level"] == "ordinal"
    assert ag["pairs"] == ["chatgpt~gemini", "chatgpt~llama", "gemini~llama"]
    f = dataset.frame
    for t in TRAITS:
        a, b = f[f"chatgpt_{t}"].to_numpy(), f[f"llama_{t}"].to_numpy()
        assert ag["traits"][t]["kappa"]["chatgpt~llama"] == pytest.approx(weighted_kappa(a, b, "quadratic"))
        r = np.vstack([f[f"{l}_{t}"].to_numpy() for l in ("chatgpt", "gemini", "llama")])
        assert ag["traits"][t]["alpha"] == pytest.approx(krippendorff_alpha(r, "ordinal"))
        assert 0.2 < ag["traits"][t]["alpha"] < 0.9  # noisy copies of one latent score
        assert ag["traits"][t]["n_pairs"]["chatgpt~llama"] == int((~np.isnan(a) & ~np.isnan(b)).sum())


def test_licence_and_biases(dataset):
    p = profile_dataset(dataset)
    assert any("male" in b for b in p["biases"]) and any("synthetic" in b for b in p["biases"])
    assert p["licence"] is None  # the synthetic demo carries no PersonaX licence
    real = Dataset("athle", dataset.frame, dataset.roles, llms=dataset.llms)
    assert profile_dataset(real)["licence"] == PERSONAX_LICENCE
    celeb = Dataset("celeb", dataset.frame, dataset.roles, llms=dataset.llms, licence="CC-BY-NC 4.0 (test)")
    pc = profile_dataset(celeb)
    assert pc["licence"] == "CC-BY-NC 4.0 (test)"
    assert any("wealth" in b for b in pc["biases"])


def test_generic_table_without_llms():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.integers(0, 2, 50).astype(float)})
    df.loc[3, "a"] = np.nan
    ds = Dataset("table", df, Roles(other_continuous=["a"], other_categorical=["b"]))
    p = profile_dataset(ds)
    json.dumps(p, allow_nan=False)
    assert p["agreement"] is None and p["trait_distribution"] == {} and p["biases"] == []
    assert p["missing_share"]["a"] == pytest.approx(1 / 50)
    assert p["categories"]["b"]["missing"] == 0
