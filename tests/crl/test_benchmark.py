"""The benchmark driver: held-out scoring, reproducibility, summary table."""

import numpy as np
import pytest

from causaltraits.crl.benchmark import (SUMMARY_KEYS, format_latent_table, format_seed_graphs, format_table,
                                        format_tables, pc_scores, run_benchmark, score_latents, score_learned_graph,
                                        skeleton_difference, split, summarise)
from causaltraits.crl.digits import true_graph
from causaltraits.discovery.graph import Edge, Graph
from causaltraits.errors import ParameterError


def test_split_is_seeded_and_disjoint():
    tr, te = split(100, 3)
    assert len(te) == 20 and len(tr) == 80 and not set(tr) & set(te)
    tr2, te2 = split(100, 3)
    assert np.array_equal(te, te2)
    assert not np.array_equal(te, split(100, 4)[1])


def test_same_seed_same_numbers_bit_for_bit():
    kw = dict(seeds=[1], rows=100, methods=["crl", "beta_vae"], epochs=2)
    a = run_benchmark(**kw)
    b = run_benchmark(**kw)
    keys = ("mcc_pearson", "mcc_spearman", "r2", "skeleton_f1", "shd", "pc_graph", "match")
    for ra, rb in zip(a["runs"], b["runs"]):
        assert {k: ra[k] for k in keys} == {k: rb[k] for k in keys}
    crl = a["runs"][0]
    assert crl["method"] == "crl" and crl["refit"] == b["runs"][0]["refit"]
    # PC over the true latents of the test rows, once per seed, beside the methods
    assert a["true_latents"] == b["true_latents"] and [t["seed"] for t in a["true_latents"]] == [1]
    assert isinstance(crl["refit"]["accepted"], bool) and crl["refit"]["ima"] == 10.0
    # the model's settings as run, with the benchmark's own (content correction, effect restoration)
    cfg = a["settings"]["crl_config"]
    assert cfg["content_correction"] and cfg["restore_effects"] and cfg["epochs"] == 2
    # 80 training rows are too few for the restoration's neighbourhoods: it says so and does nothing
    assert all(not e["applied"] and "too few rows" in e["notes"][0] for e in crl["effects"])
    table = format_table(a["summary"])
    assert table.splitlines()[0].startswith("| method | MCC Pearson")
    assert "| crl |" in table and "| beta_vae |" in table


def test_crl_overrides_reach_the_model_and_each_block_is_scored():
    res = run_benchmark(seeds=[2], rows=120, methods=["crl", "autoencoder"], epochs=2,
                        crl_overrides={"code_independence": 3.0, "restore_effects": False})
    cfg = res["settings"]["crl_config"]
    assert cfg["code_independence"] == 3.0 and not cfg["restore_effects"] and cfg["content_correction"]
    crl, ae = res["runs"]
    assert "effects" not in crl and ae["method"] == "autoencoder" and "information" not in ae
    # one R^2 per true latent, from its own modality's block
    assert len(crl["information"]) == 4 and all(np.isfinite(v) and v <= 1.0 for v in crl["information"])
    assert np.isfinite(crl["best_val_loss"])


def test_per_latent_mcc_is_averaged_over_seeds_and_tabled():
    base = {k: 0.0 for k in SUMMARY_KEYS}
    runs = [{**base, "method": "crl", "seed": 0, "mcc_pearson_per_latent": [0.9, 0.5, 1.0, 0.2]},
            {**base, "method": "crl", "seed": 1, "mcc_pearson_per_latent": [0.7, 0.9, 0.8, 0.4]}]
    s = summarise(runs, ["crl"])
    assert np.allclose(s["crl"]["mcc_pearson_per_latent"], [0.8, 0.7, 0.9, 0.3])
    table = format_latent_table(s).splitlines()
    assert table[0] == "| method | z11 | z12 | z21 | z22 |"
    assert table[2] == "| crl | 0.800 | 0.700 | 0.900 | 0.300 |"


def test_learned_graph_is_named_through_the_matching_and_scored():
    # the model's column order differs from the truth's: column 1 is z11, column 0 z12, ...
    names = ["z1_1", "z1_2", "z2_1", "z2_2"]
    match = [1, 0, 3, 2]
    exact = Graph(names, [Edge("z1_2", "z1_1", "-->"), Edge("z1_2", "z2_2", "-->"), Edge("z2_2", "z2_1", "-->")])
    s = score_learned_graph(exact, match, true_graph())
    assert s["learned_skeleton_f1"] == 1.0 and s["learned_shd"] == 0
    assert {(e["source"], e["target"]) for e in s["learned_graph"]["edges"]} == \
        {("z11", "z12"), ("z11", "z21"), ("z21", "z22")}
    # one extra edge and one reversed: skeleton F1 6/7, SHD 2
    off = Graph(names, [Edge("z1_1", "z1_2", "-->"), Edge("z1_2", "z2_2", "-->"), Edge("z2_2", "z2_1", "-->"),
                        Edge("z1_1", "z2_2", "-->")])
    s = score_learned_graph(off, match, true_graph())
    assert s["learned_skeleton_f1"] == pytest.approx(6 / 7) and s["learned_shd"] == 2
    # summarised for the methods that have it, and tabled under its own caption
    base = {k: 0.0 for k in SUMMARY_KEYS}
    runs = [{**base, "method": "crl", "seed": i, "mcc_pearson_per_latent": [1.0] * 4, "learned_skeleton_f1": f,
             "learned_shd": d} for i, (f, d) in enumerate(((1.0, 0), (0.5, 2)))]
    runs.append({**base, "method": "autoencoder", "seed": 0, "mcc_pearson_per_latent": [0.5] * 4})
    summ = summarise(runs, ["crl", "autoencoder"])
    assert summ["crl"]["learned_skeleton_f1"]["mean"] == 0.75 and "learned_shd" not in summ["autoencoder"]
    assert "| crl | 0.750 ± 0.354 | 1.0 ± 1.4 |" in format_tables(summ).splitlines()


def test_pc_with_the_gcm_test_is_scored_beside_fisherz():
    # the true latents with the cause z11 seen through exp(.): the scores name the columns through
    # the matching; Fisher-z's linear conditioning on exp(z11) leaves z12 - z21 dependent
    from causaltraits.crl.digits import make_variant_digits

    data = make_variant_digits(10_000, seed=0)  # the benchmark's 2,000 test rows
    tr, te = split(10_000, 0)
    warp = lambda T: np.column_stack([np.exp(2.5 * T[:, 0]), T[:, 1:]])[:, [2, 0, 3, 1]]  # noqa: E731
    rec = score_latents(warp(data.latents[tr]), warp(data.latents[te]), data.latents[tr], data.latents[te],
                        data.truth())
    assert rec["match"] == [1, 3, 0, 2]
    assert rec["skeleton_f1_gcm"] == 1.0 and rec["skeleton_f1"] < 1.0
    assert {frozenset((e["source"], e["target"])) for e in rec["pc_graph_gcm"]["edges"]} == \
        {frozenset(p) for p in (("z11", "z12"), ("z11", "z21"), ("z21", "z22"))}
    base = {k: 0.0 for k in SUMMARY_KEYS}
    runs = [{**base, "method": "crl", "seed": i, "mcc_pearson_per_latent": [1.0] * 4, "skeleton_f1_gcm": f,
             "shd_gcm": d} for i, (f, d) in enumerate(((1.0, 3), (0.75, 5)))]
    summ = summarise(runs, ["crl"])
    text = format_tables(summ)
    assert "with the GCM test" in text and "| crl | 0.875 ± 0.177 | 4.0 ± 1.4 |" in text.splitlines()
    # seed by seed: the warped latents beside the true latents of the same rows, where both tests are exact
    true = {"seed": 0, **pc_scores(data.latents[te], data.truth(), range(4))}
    assert true["skeleton_f1"] == 1.0 and true["skeleton_f1_gcm"] == 1.0
    fz = skeleton_difference(rec["pc_graph"], data.truth())
    assert fz.startswith("extra ") and "z12-z21" in fz and "missing" not in fz
    table = format_seed_graphs([{**rec, "method": "crl", "seed": 0}], [true]).splitlines()
    assert table[2:] == ["| seed | true latents | crl |", "|---|---|---|",
                         f"| 0 | exact / exact | {fz} / exact |"]
    assert table[-1] in format_tables(summ, [{**rec, "method": "crl", "seed": 0}], [true]).splitlines()


def test_skeleton_difference_names_what_is_added_and_missed():
    truth = true_graph()
    g = Graph(list(truth.nodes), [Edge("z12", "z11", "-->"), Edge("z21", "z22", "---"), Edge("z22", "z12", "o-o")])
    assert skeleton_difference(g.to_dict(), truth) == "extra z12-z22; missing z11-z21"
    assert skeleton_difference(truth.to_dict(), truth) == "exact"


def test_unknown_method_is_a_parameter_error():
    with pytest.raises(ParameterError, match="unknown method"):
        run_benchmark(seeds=[0], rows=100, methods=["vae-gan"])
