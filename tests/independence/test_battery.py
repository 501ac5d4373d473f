"""The Level I battery: shapes and names, p-values against direct calls and causal-learn,
q-values against statsmodels, discrete-only tests marked not applicable, files read back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from causaltraits.data.dataset import TRAITS, Dataset, Roles
from causaltraits.errors import ParameterError
from causaltraits.independence import available_tests, make_test
from causaltraits.independence import base as ci_base
from causaltraits.independence.battery import BatteryResult, correct, run_battery

BIO_CONT = ["Birthyear", "Birthmonth", "Latitude", "Longitude", "Height", "Weight"]
LLMS = ["chatgpt", "gemini", "llama"]


def athletes(n: int = 300, seed: int = 0, missing: float = 0.05) -> Dataset:
    """An athlete-shaped table with known dependences (Openness-Birthyear, Extraversion-Height)."""
    rng = np.random.default_rng(seed)
    league = rng.integers(0, 7, n)
    birthyear = 1990 + rng.normal(0, 6, n) + league
    height = 180 + 4 * (league == 3) + rng.normal(0, 7, n)
    frame = {"Birthyear": birthyear, "Birthmonth": rng.integers(1, 13, n).astype(float),
             "Latitude": rng.normal(40, 10, n), "Longitude": rng.normal(0, 60, n), "Height": height,
             "Weight": 0.9 * height - 80 + rng.normal(0, 8, n), "League": league.astype(float)}
    latent = {"Openness": 0.15 * (birthyear - 1993), "Conscientiousness": 0.3 * (league % 3),
              "Extraversion": 0.08 * (height - 180), "Agreeableness": 0.0 * height, "Neuroticism": 0.0 * height}
    per = {}
    for llm in LLMS:
        for t in TRAITS:
            s = np.digitize(latent[t] + rng.normal(0, 1, n), [-0.5, 0.5]) + 1.0
            s[rng.random(n) < missing] = np.nan
            per[f"{llm}_{t}"] = s
    for t in TRAITS:
        frame[t] = np.round(np.nanmedian(np.vstack([per[f"{m}_{t}"] for m in LLMS]), axis=0))
    frame.update(per)
    for c in ("Height", "Weight"):
        frame[c][rng.random(n) < missing] = np.nan
    roles = Roles(traits=list(TRAITS), llm_traits={m: [f"{m}_{t}" for t in TRAITS] for m in LLMS},
                  bio_continuous=list(BIO_CONT), bio_categorical=["League"])
    return Dataset(name="synthetic-athletes", frame=pd.DataFrame(frame), roles=roles, llms=list(LLMS),
                   codes={"League": [f"L{i}" for i in range(7)]}, source=f"generated:{seed}")


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return athletes()


@pytest.fixture(scope="module")
def res_all(ds) -> BatteryResult:
    tests = ["fisherz"] + [t for t in ("chisq", "gsq") if t in available_tests()]
    return run_battery(ds, tests=tests, llm="all", correction="fdr_bh")


def _complete(ds, a, b):
    sub = ds.frame[[a, b]].dropna()
    return sub.to_numpy(dtype=float)


def test_matrices_shape_and_names(ds, res_all):
    assert res_all.llms == ["aggregate", *LLMS]
    attrs = ds.attribute_columns()
    for llm in res_all.llms:
        for what in ("pvalues", "statistics", "n", "qvalues"):
            m = res_all.matrix(what, "fisherz", llm)
            assert m.shape == (5, len(attrs))
            assert list(m.columns) == attrs
            assert list(m.index) == ds.trait_columns(llm)
    assert res_all.matrix("pvalues", "fisherz", "gemini").index[0] == "gemini_Openness"
    # the planted dependences are found, and the missing rows are deleted test-wise
    q = res_all.matrix("qvalues", "fisherz")
    assert q.loc["Openness", "Birthyear"] < 1e-3 and q.loc["Extraversion", "Height"] < 1e-3
    n = res_all.matrix("n", "fisherz", "chatgpt")
    assert n.loc["chatgpt_Openness", "Height"] == len(ds.frame[["chatgpt_Openness", "Height"]].dropna())
    assert n.loc["chatgpt_Openness", "Height"] < ds.n


def test_pvalues_equal_direct_calls_and_causallearn(ds, res_all):
    from causallearn.utils.cit import CIT

    p = res_all.matrix("pvalues", "fisherz", "llama")
    stat = res_all.matrix("statistics", "fisherz", "llama")
    for trait in ds.trait_columns("llama"):
        for attr in ds.attribute_columns():
            sub = _complete(ds, trait, attr)
            direct = make_test("fisherz", ds.matrix([trait, attr])).test(0, 1)
            assert p.loc[trait, attr] == pytest.approx(direct.pvalue, abs=1e-14)
            assert stat.loc[trait, attr] == pytest.approx(direct.statistic, abs=1e-12)
            assert p.loc[trait, attr] == pytest.approx(CIT(sub, "fisherz")(0, 1, []), abs=1e-10)


@pytest.mark.parametrize("name", ["chisq", "gsq"])
def test_discrete_tests_equal_causallearn_and_na_on_continuous(ds, res_all, name):
    if name not in available_tests():
        pytest.skip(f"{name} not implemented yet")
    from causallearn.utils.cit import CIT

    p = res_all.matrix("pvalues", name, "aggregate")
    q = res_all.matrix("qvalues", name, "aggregate")
    for trait in ds.trait_columns():
        # League is categorical: tested, equal to causal-learn on the complete rows
        sub = _complete(ds, trait, "League")
        assert p.loc[trait, "League"] == pytest.approx(CIT(sub, name)(0, 1, []), abs=1e-10)
        # continuous attributes: not applicable, NaN with a reason, never dropped
        for attr in BIO_CONT:
            assert np.isnan(p.loc[trait, attr]) and np.isnan(q.loc[trait, attr])
    reasons = res_all.reasons(name)
    assert reasons.loc["Openness", "Height"].startswith("not applicable")
    assert reasons.loc["Openness", "League"] == ""
    cells = res_all.cells[(res_all.cells.test == name) & (res_all.cells.llm == "aggregate")]
    assert len(cells) == 5 * 7 and (~cells.applicable).sum() == 5 * 6


def test_discrete_only_rule_without_chisq(ds, monkeypatch):
    """A discrete-only test runs on trait x categorical cells only, whatever its implementation."""

    class Counting(ci_base.CITest):
        calls: list = []

        def _compute(self, x, y, z, rows):
            Counting.calls.append((x, y))
            return 1.0, 0.5, None

    monkeypatch.setitem(ci_base._REGISTRY, "chisq", Counting)
    res = run_battery(ds, tests=["chisq"])
    assert len(Counting.calls) == 5  # five traits x League
    assert res.matrix("pvalues", "chisq").notna().sum().sum() == 5


@pytest.mark.parametrize("method", ["fdr_bh", "bonferroni"])
def test_qvalues_equal_statsmodels(ds, method):
    res = run_battery(ds, tests=["fisherz"], llm="chatgpt", correction=method)
    p = res.matrix("pvalues", "fisherz", "chatgpt").to_numpy().ravel()
    q = res.matrix("qvalues", "fisherz", "chatgpt").to_numpy().ravel()
    np.testing.assert_allclose(q, multipletests(p, method=method)[1], rtol=0, atol=1e-15)
    sig = res.cells["significant"].to_numpy()
    np.testing.assert_array_equal(sig, res.cells["qvalue"].to_numpy() < 0.05)


def test_correct_keeps_nan_and_none_is_identity():
    p = np.array([0.01, np.nan, 0.04, 0.5])
    q = correct(p, "fdr_bh")
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3]], multipletests(p[[0, 2, 3]], method="fdr_bh")[1])
    np.testing.assert_array_equal(correct(p, "none")[[0, 2, 3]], p[[0, 2, 3]])


def test_one_test_object_per_test(ds, monkeypatch):
    built = []

    class Spy(ci_base.CITest):
        def __init__(self, data, kinds=None, seed=0, **params):
            super().__init__(data, kinds=kinds, seed=seed, **params)
            built.append(data.shape)

        def _compute(self, x, y, z, rows):
            return 0.0, 1.0, None

    monkeypatch.setitem(ci_base._REGISTRY, "_spy", Spy)
    run_battery(ds, tests=["_spy"], llm="all")
    # one object over every battery variable: 7 attributes + 4 x 5 trait columns
    assert built == [(ds.n, 7 + 20)]


def test_failing_test_reported_not_dependent(ds, monkeypatch):
    class Broken(ci_base.CITest):
        def _compute(self, x, y, z, rows):
            raise np.linalg.LinAlgError("singular")

    monkeypatch.setitem(ci_base._REGISTRY, "_broken", Broken)
    res = run_battery(ds, tests=["_broken"])
    assert res.cells["pvalue"].isna().all() and not res.cells["significant"].any()
    assert res.cells["reason"].str.contains("LinAlgError").all()
    assert res.summary().empty


def test_files_read_back(ds, res_all, tmp_path):
    files = res_all.write(tmp_path, heatmaps=False)  # heatmaps: test_heatmap_written
    assert all(f.exists() for f in files)
    for llm in res_all.llms:
        for test in res_all.tests:
            for what in ("pvalues", "statistics", "n", "qvalues"):
                csv = pd.read_csv(tmp_path / llm / f"{what}_{test}.csv", index_col=0)
                pq = pd.read_parquet(tmp_path / llm / f"{what}_{test}.parquet")
                pd.testing.assert_frame_equal(csv, pq.astype(float), check_dtype=False, check_names=False,
                                              rtol=0, atol=0)
                pd.testing.assert_frame_equal(pq, res_all.matrix(what, test, llm))
        summary = pd.read_csv(tmp_path / llm / "summary.csv")
        assert list(summary.columns) == ["trait", "attribute", "n_tests", "n_applicable", "tests", "min_qvalue"]
    summary = pd.read_csv(tmp_path / "aggregate" / "summary.csv")
    pairs = set(zip(summary.trait, summary.attribute))
    assert ("Openness", "Birthyear") in pairs and ("Extraversion", "Height") in pairs
    row = summary[(summary.trait == "Openness") & (summary.attribute == "Birthyear")].iloc[0]
    assert "fisherz" in row.tests.split(",") and row.n_tests == len(row.tests.split(","))


def test_trait_and_attribute_selection(ds):
    res = run_battery(ds, tests=["fisherz"], llm="gemini", traits=["Openness"], attributes=["Height", "League"])
    m = res.matrix("pvalues", "fisherz", "gemini")
    assert list(m.index) == ["gemini_Openness"] and list(m.columns) == ["Height", "League"]


def test_generic_table_every_pair(ds):
    frame = ds.frame[["Birthyear", "Height", "Weight", "Latitude"]].copy()
    gen = Dataset(name="generic", frame=frame, roles=Roles(other_continuous=list(frame.columns)))
    res = run_battery(gen, tests=["fisherz"])
    m = res.matrix("pvalues", "fisherz")
    assert m.shape == (4, 4) and np.isnan(np.diag(m.to_numpy())).all()
    np.testing.assert_array_equal(m.to_numpy(), m.to_numpy().T)
    # each unordered pair corrected once: 6 p-values
    p = np.array([m.iloc[i, j] for i in range(4) for j in range(i + 1, 4)])
    q = res.matrix("qvalues", "fisherz").to_numpy()
    np.testing.assert_allclose(sorted(q[np.triu_indices(4, 1)]), sorted(multipletests(p, method="fdr_bh")[1]))
    assert len(res.summary()) == int((q[np.triu_indices(4, 1)] < 0.05).sum())
    two = run_battery(gen, tests=["fisherz"], traits=["Weight"])
    assert list(two.matrix("pvalues", "fisherz").columns) == ["Birthyear", "Height", "Latitude"]


@pytest.mark.parametrize("kwargs, match", [
    ({"tests": ["nope"]}, "unknown CI test"),
    ({"correction": "holm-ish"}, "correction"),
    ({"alpha": 1.5}, "alpha"),
    ({"llm": "claude"}, "unknown LLM"),
    ({"traits": ["Humour"]}, "no trait"),
    ({"attributes": ["Shoe"]}, "no attribute"),
])
def test_bad_parameters(ds, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        run_battery(ds, **{"tests": ["fisherz"], **kwargs})


def test_same_seed_same_result(ds):
    tests = [t for t in ("rcit", "hsic") if t in available_tests()] or ["fisherz"]
    small = ds.subset(np.arange(150))
    a = run_battery(small, tests=tests, seed=3, attributes=["Height", "League"])
    b = run_battery(small, tests=tests, seed=3, attributes=["Height", "League"])
    pd.testing.assert_frame_equal(a.cells, b.cells)


def test_heatmap_written(ds, tmp_path):
    from matplotlib.image import imread

    res = run_battery(ds, tests=["fisherz"], attributes=["Birthyear", "Height", "League"])
    files = res.write(tmp_path)
    png = tmp_path / "aggregate" / "heatmap_fisherz.png"
    assert png in files
    img = imread(png)
    assert img.shape[0] > 300 and img.shape[1] > 500  # a readable size, not a thumbnail


def test_heatmap_figure_marks_significance_and_na():
    from causaltraits.report.heatmaps import heatmap_figure

    q = pd.DataFrame([[0.001, np.nan], [0.5, 0.04]], index=["Openness", "Neuroticism"], columns=["Height", "League"])
    n = pd.DataFrame([[100, np.nan], [90, 100]], index=q.index, columns=q.columns)
    fig = heatmap_figure(q, alpha=0.05, title="KCI", n=n)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert ".001*" in texts and ".04*" in texts and ".50" in texts and "NA" in texts
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Openness", "Neuroticism"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Height", "League"]
    assert "n = 90-100" in ax.get_title()
    assert len(fig.axes) == 2  # the colour bar


def test_result_cache_reused(ds, tmp_path):
    pytest.importorskip("causaltraits.independence.cache")
    kw = dict(tests=["fisherz", "chisq"], attributes=["Height", "League"], cache_dir=tmp_path / "cache")
    first = run_battery(ds, **kw)
    second = run_battery(ds, **kw)
    assert first.cache_stats == {"hits": 0, "misses": 10 + 5}
    assert second.cache_stats == {"hits": 15, "misses": 0}
    pd.testing.assert_frame_equal(first.cells, second.cells)
    assert (tmp_path / "cache" / "citests.jsonl").exists()


def test_kernel_tests_equal_causallearn_on_small_data(ds):
    if "kci" not in available_tests():
        pytest.skip("kci not implemented yet")
    from causallearn.utils.cit import CIT

    small = ds.subset(np.arange(120))
    res = run_battery(small, tests=["kci"], attributes=["Height", "League"],
                      test_params={"kci": {"categorical_kernel": "gaussian"}})
    p = res.matrix("pvalues", "kci")
    for trait in small.trait_columns():
        for attr in ("Height", "League"):
            sub = _complete(small, trait, attr)
            assert p.loc[trait, attr] == pytest.approx(CIT(sub, "kci")(0, 1, []), abs=1e-9)


def _lru_builds(order, capacity):
    from collections import OrderedDict

    cache, builds = OrderedDict(), 0
    for pair in order:
        for v in pair:
            if v in cache:
                cache.move_to_end(v)
            else:
                builds += 1
                cache[v] = True
                if len(cache) > capacity:
                    cache.popitem(last=False)
    return builds


def test_cache_friendly_order_builds_each_kernel_about_once():
    from causaltraits.independence.battery import cache_friendly_order

    traits = [f"t{i}" for i in range(20)]
    attrs = [f"a{i}" for i in range(8)]
    pairs = [(t, a) for t in traits for a in attrs]
    order = cache_friendly_order(pairs, capacity=7)
    assert sorted(order) == sorted(pairs)
    naive = _lru_builds(pairs, 7)  # trait-major with 8 attributes > 6 free slots: every attribute rebuilt
    smart = _lru_builds(order, 7)
    assert naive == 20 + 20 * 8
    assert smart == 8 + 20 * 2  # each attribute once, each trait once per block of 5 attributes
    assert _lru_builds([(a, t) for t, a in order], 7) == smart  # whichever of x, y a test reads first
    assert cache_friendly_order(pairs, None) == pairs


def test_trait_selection_with_every_llm(ds):
    res = run_battery(ds, tests=["fisherz"], llm="all", traits=["gemini_Openness", "Neuroticism"],
                      attributes=["Height"])
    assert res.traits == {"aggregate": ["Neuroticism"], "chatgpt": ["chatgpt_Neuroticism"],
                          "gemini": ["gemini_Openness", "gemini_Neuroticism"], "llama": ["llama_Neuroticism"]}
    with pytest.raises(ParameterError, match="no trait 'Humour'"):
        run_battery(ds, tests=["fisherz"], llm="all", traits=["Humour"])
