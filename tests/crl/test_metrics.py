"""MCC, kernel-ridge R^2 and graph scores."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from causaltraits.crl import metrics as M
from causaltraits.discovery.graph import Edge, Graph


def test_mcc_matches_scipy_after_permutation_and_sign():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 3))
    est = np.column_stack([-2 * z[:, 2] + 0.3 * rng.normal(size=500), z[:, 0] ** 3, 5 + z[:, 1]])
    res = M.mcc(z, est)
    assert res["match"] == [1, 2, 0]
    expect = [abs(pearsonr(z[:, 0], est[:, 1])[0]), 1.0, abs(pearsonr(z[:, 2], est[:, 0])[0])]
    assert res["per_latent"] == pytest.approx(expect)
    sp = M.mcc(z, est, "spearman")
    assert sp["per_latent"][0] == pytest.approx(1.0)  # monotone map
    assert sp["per_latent"][2] == pytest.approx(abs(spearmanr(z[:, 2], est[:, 0])[0]))


def test_kernel_r2_high_for_invertible_map_low_for_noise():
    rng = np.random.default_rng(1)
    z = rng.uniform(-1, 1, size=(600, 2))
    est = np.column_stack([np.tanh(2 * z[:, 0]) + z[:, 1], z[:, 1] ** 3])
    good = M.kernel_r2(est[:400], z[:400], est[400:], z[400:])
    assert good["r2"] > 0.95
    junk = rng.normal(size=(600, 2))
    bad = M.kernel_r2(junk[:400], z[:400], junk[400:], z[400:])
    assert bad["r2"] < 0.05


def test_pc_graph_and_scores_recover_a_chain():
    rng = np.random.default_rng(2)
    a = rng.normal(size=1000)
    b = a + rng.normal(size=1000)
    c = b + rng.normal(size=1000)
    g = M.pc_graph(np.column_stack([a, b, c]), ["a", "b", "c"])
    assert g.adjacencies() == {frozenset("ab"), frozenset("bc")}
    truth = Graph(["a", "b", "c"], [Edge("a", "b", "-->"), Edge("b", "c", "-->")])
    s = M.graph_scores(g, truth)
    assert s["skeleton_f1"] == 1.0
    assert s["shd"] == 2  # two undirected edges where the truth is directed
    ren = M.relabel(g, {"a": "x"})
    assert "x" in ren.nodes and ren.adjacencies() == {frozenset("xb"), frozenset("bc")}


@pytest.mark.slow
def test_pc_graph_agrees_with_causallearn():
    rng = np.random.default_rng(5)
    n = 2000
    a = rng.uniform(-1, 1, n)
    b = np.tanh(2 * a) + 0.5 * rng.uniform(-1, 1, n)
    c = 0.8 * a + 0.5 * rng.uniform(-1, 1, n)
    d = np.sin(c) + b + 0.5 * rng.uniform(-1, 1, n)
    X = np.column_stack([a, b, c, d])
    ours = M.pc_graph(X, list("abcd"))
    theirs = M.pc_graph(X, list("abcd"), engine="causallearn")
    assert ours.to_dict() == theirs.to_dict()


def test_mixed_share_is_the_variance_another_latent_adds():
    rng = np.random.default_rng(4)
    own, other = rng.uniform(-1, 1, size=(2, 20000))
    # a monotone function of its own latent: nothing mixed in
    assert M.mixed_share(np.tanh(2 * own) + own ** 3, own, other) < 1e-3
    # a linear mix: 0.2 of an independent latent of the same variance adds 0.04 / 1.04
    assert M.mixed_share(own + 0.2 * other, own, other) == pytest.approx(0.04 / 1.04, rel=0.05)
    # a product is seen too
    assert M.mixed_share(own + 0.5 * own * other, own, other) > 0.05


def test_block_information_ignores_the_coordinates_and_sees_a_lost_latent():
    rng = np.random.default_rng(5)
    T = rng.uniform(-1, 1, size=(6000, 4))
    tr, te = slice(0, 4000), slice(4000, None)
    # block 1: a smooth invertible mix of its two latents (MCC low, nothing lost)
    b1 = np.column_stack([T[:, 0] + 0.8 * T[:, 1], 0.5 * T[:, 1] + 0.3 * T[:, 0] ** 2])
    # block 2: the first latent kept (through a monotone map), the second replaced by noise
    b2 = np.column_stack([np.tanh(1.5 * T[:, 2]), rng.uniform(-1, 1, 6000)])
    Z = np.column_stack([b1, b2])
    info = M.block_information(Z[tr], T[tr], Z[te], T[te], [(0, 2), (2, 4)])
    assert len(info) == 4
    assert min(info[:3]) > 0.98, info
    assert abs(info[3]) < 0.01, info
    assert M.mcc(T[te], Z[te])["per_latent"][0] < 0.9  # the mix that the information measure looks through
    # the same R^2 as an ordinary least-squares fit of the same terms (statsmodels)
    import statsmodels.api as sm

    S = (Z - Z[tr].mean(0)) / Z[tr].std(0)
    a, b = S[:, 2], S[:, 3]
    F = np.column_stack([a, a ** 2, a ** 3, b, b ** 2, b ** 3, a * b, a * a * b, a * b * b])
    fit = sm.OLS(T[tr, 2], sm.add_constant(F[tr])).fit()
    resid = T[te, 2] - fit.predict(sm.add_constant(F[te]))
    assert info[2] == pytest.approx(1 - resid.var() / T[te, 2].var(), abs=1e-10)
