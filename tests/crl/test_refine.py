"""The post-training refit of each modality's latent coordinates (causaltraits.crl.refine)."""

import numpy as np
import pytest

from causaltraits.crl import metrics as M
from causaltraits.crl import refine as R
from causaltraits.crl import scm
from causaltraits.crl.digits import f12, f22, sample_latents


def _rotation(t):
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


@pytest.mark.parametrize("noise", ["mixture", "logistic"])
def test_objective_gradient_with_the_ima_term(noise, fd):
    rng = np.random.default_rng(0)
    n, D = 9, 6
    z = rng.normal(size=(n, D))
    blocks = [(0, 1), (1, 3), (3, 6)]  # one latent, two, three (uneven split of the couplings)
    grams = [None]
    for a, b in blocks[1:]:
        J = rng.normal(size=(n, 5, b - a))
        grams.append(np.swapaxes(J, 1, 2) @ J)
    mask = np.tril(np.ones((D, D), dtype=bool), -1)
    P = {"scm.W": rng.normal(size=(D, D)) * 0.3, "scm.V": rng.normal(size=(D, D)) * 0.3,
         "scm.U": rng.normal(size=(D, D)) * 0.3, "scm.b": rng.normal(size=D), "scm.log_s": rng.normal(size=D) * 0.2}
    if noise == "mixture":
        P.update({"scm.a": rng.normal(size=(D, 3)), "scm.mu": rng.normal(size=(D, 3)),
                  "scm.lsd": rng.normal(size=(D, 3)) * 0.2})
    for bi, (a, b) in enumerate(blocks):
        blk = R._init_block(b - a, bi, rng)
        for k in blk:
            blk[k] = blk[k] + rng.normal(size=blk[k].shape) * 0.3  # off the identity map
        P.update(blk)
    perms = [[0], [1, 0], [2, 0, 1]]
    prob = R._Problem(z, blocks, perms, mask, ridge=0.05, grams=grams, ima=0.8, ima_idx=np.array([0, 2, 3, 7, 8]))
    theta = prob.pack(P)
    val, grad = prob(theta)
    assert np.isfinite(val)
    probe = theta.copy()
    numeric = np.array([fd(lambda: prob(probe)[0], probe, i) for i in range(theta.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    # the IMA term is really in the objective
    plain = R._Problem(z, blocks, perms, mask, ridge=0.05)
    assert val != pytest.approx(plain(plain.pack(P))[0])


def test_block_map_is_the_stated_coupling_map():
    # the kernels against the map written out in NumPy (module docstring): y = A z + c, then
    # y[upd] += tanh(y[oth] U_j + u_j) W_j, alternating halves; odd width, so the halves differ
    rng = np.random.default_rng(4)
    L, n = 3, 11
    P = R._init_block(L, 0, rng)
    for k in P:
        P[k] = P[k] + rng.normal(size=P[k].shape) * 0.4
    z = rng.normal(size=(n, L))
    y = z @ P["A0"].T + P["c0"]
    for j in range(R.LAYERS):
        upd, oth = R._halves(L, j)
        y[:, upd] = y[:, upd] + np.tanh(y[:, oth] @ P[f"U0.{j}"] + P[f"u0.{j}"]) @ P[f"W0.{j}"]
    np.testing.assert_allclose(R._block_forward(z, P, 0)[0], y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(R.Reparam([(1, 4)], [[0, 1, 2]], P).apply(np.c_[z[:, :1], z])[:, 1:], y,
                               rtol=1e-12, atol=1e-12)


def test_a_collapsed_noise_scale_is_no_density_not_a_crash():
    # L-BFGS may try a point where a mixture component's scale underflows to 0 (seen on a 200-row
    # fit): the objective is +inf there, as for a singular map, so the line search backs off
    rng = np.random.default_rng(6)
    D = 2
    P = {f"scm.{k}": v for k, v in scm.edgeless_prior(D).items()}
    P.update(R._init_block(2, 0, rng))
    prob = R._Problem(rng.normal(size=(20, D)), [(0, 2)], [[0, 1]], np.tril(np.ones((D, D), dtype=bool), -1))
    theta = prob.pack(P)
    assert np.isfinite(prob(theta)[0])
    P["scm.lsd"] = np.full_like(P["scm.lsd"], -800.0)
    val, grad = prob(prob.pack(P))
    assert val == np.inf and not grad.any()


def test_threads_give_the_same_bits():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    n, D = 40, 5
    z = rng.normal(size=(n, D))
    blocks = [(0, 2), (2, 5)]
    grams = []
    for a, b in blocks:
        J = rng.normal(size=(n, 6, b - a))
        grams.append(np.swapaxes(J, 1, 2) @ J)
    mask = np.tril(np.ones((D, D), dtype=bool), -1)
    P = {f"scm.{k}": v for k, v in scm.edgeless_prior(D).items()}
    for bi, (a, b) in enumerate(blocks):
        blk = R._init_block(b - a, bi, rng)
        P.update({k: v + rng.normal(size=v.shape) * 0.3 for k, v in blk.items()})
    kw = {"grams": grams, "ima": 2.0, "ima_idx": np.arange(0, n, 3)}
    serial = R._Problem(z, blocks, [[1, 0], [0, 2, 1]], mask, **kw)
    with ThreadPoolExecutor(2) as pool:
        threaded = R._Problem(z, blocks, [[1, 0], [0, 2, 1]], mask, pool=pool, **kw)
        v2, g2 = threaded(threaded.pack(P))
    v1, g1 = serial(serial.pack(P))
    assert v1 == v2 and np.array_equal(g1, g2)
    # a whole refit, both stages
    fits = [R.refine(z, blocks, scm.edgeless_prior(D), mask, np.random.default_rng(0), grams=grams, ima=10.0,
                     ima_final=1.0, max_iter=30, screen_iter=10, threads=t) for t in (1, 2)]
    np.testing.assert_array_equal(fits[0][0].apply(z), fits[1][0].apply(z))
    assert fits[0][2] == fits[1][2]


def test_ima_contrast_is_zero_for_orthogonal_and_positive_for_mixed_columns():
    rng = np.random.default_rng(1)
    n = 5
    P = R._init_block(2, 0, rng)
    G = {k: np.zeros_like(v) for k, v in P.items()}
    z = rng.normal(size=(n, 2))
    ortho = np.tile(np.diag([4.0, 0.25]), (n, 1, 1))  # orthogonal columns of unequal length
    cache = R._block_forward(z, P, 0)[1]
    assert R._block_ima(ortho, P, 0, 1.0, G, cache)[0] == pytest.approx(0.0, abs=1e-9)
    J = np.array([[1.0, 0.8], [0.0, 0.6]])
    mixed = np.tile(J.T @ J, (n, 1, 1))
    cos = 0.8
    assert R._block_ima(mixed, P, 0, 1.0, G, cache)[0] == pytest.approx(-0.5 * n * np.log(1 - cos ** 2))


@pytest.mark.slow
def test_refine_undoes_rotation_and_noise_swap_with_an_orthogonal_decoder():
    # latents mixed inside each modality (z12 replaced by its own noise, then rotated and
    # scaled); the "decoder" is the identity in the true coordinates, so its Jacobian with respect
    # to the mixed latents is known. Likelihood alone leaves z12 / z22 where they were (an effect
    # and its noise fit equally well); with the IMA term every latent comes back.
    z = sample_latents(1500, np.random.default_rng(1))
    pre = z.copy()
    pre[:, 1] -= f12(z[:, 0])
    pre[:, 3] -= f22(z[:, 2])
    derivs = (lambda x: 0.9 / np.cosh(1.5 * x) ** 2, lambda x: 0.72 * np.cos(1.2 * x))
    mix, grams = np.empty_like(z), []
    for (a, b), t, fprime in (((0, 2), 0.5, derivs[0]), ((2, 4), -0.5, derivs[1])):
        Mx = _rotation(t) * [1.0, 2.0]
        mix[:, a:b] = pre[:, a:b] @ Mx.T
        Jt = np.tile(np.eye(2), (len(z), 1, 1))
        Jt[:, 1, 0] = fprime(z[:, a])
        J = Jt @ np.linalg.inv(Mx)
        grams.append(np.swapaxes(J, 1, 2) @ J)
    D = 4
    prior = scm.edgeless_prior(D)
    mask = np.tril(np.ones((D, D), dtype=bool), -1)
    before = M.mcc(z, mix)["mcc"]
    rep, _, summary = R.refine(mix, [(0, 2), (2, 4)], prior, mask, np.random.default_rng(0), grams=grams, ima=1.0)
    after = M.mcc(z, rep.apply(mix))
    assert before < 0.85
    assert min(after["per_latent"]) > 0.98
    assert summary["loglik_after"] > summary["loglik_before"]
    # save / load of the map keeps it exactly
    back = R.Reparam.from_arrays(rep.to_arrays())
    np.testing.assert_array_equal(back.apply(mix), rep.apply(mix))


def _modality1_mixed(n, seed, angle, scales, decoder=np.eye(2)):
    """Variant-digits latents with modality 1's pair rotated and scaled; the decoder's Jacobian is
    ``decoder`` in the true coordinates (the identity in modality 2). Returns latents, mixed, Grams."""
    z = sample_latents(n, np.random.default_rng(seed))
    Mx = _rotation(angle) * scales
    mix = z.copy()
    mix[:, :2] = z[:, :2] @ Mx.T
    J = decoder @ np.linalg.inv(Mx)
    return z, mix, [np.tile(J.T @ J, (n, 1, 1)), np.tile(np.eye(2), (n, 1, 1))]


def test_refine_undoes_a_rotation_quickly():
    # modality 1's latents rotated and scaled, the decoder orthogonal in the true coordinates
    z, mix, grams = _modality1_mixed(800, 1, 0.6, [1.0, 2.0])
    D = 4
    prior = scm.edgeless_prior(D)
    before = M.mcc(z, mix)["per_latent"]
    rep, _, _ = R.refine(mix, [(0, 2), (2, 4)], prior, np.tril(np.ones((D, D), dtype=bool), -1),
                         np.random.default_rng(0), grams=grams, ima=1.0, max_iter=400, screen_iter=100)
    after = M.mcc(z, rep.apply(mix))["per_latent"]
    assert max(before[:2]) < 0.9
    assert min(after[:2]) > 0.99


def test_last_stage_lowers_the_objective_at_its_own_weight():
    # a decoder whose columns are not orthogonal in the true coordinates: the IMA weights 10 and 1
    # disagree on where the coordinates should sit; the last stage continues from the weight-10
    # solution and must end lower on the weight-1 objective than that solution
    _, mix, grams = _modality1_mixed(600, 3, 0.4, [1.0, 1.5], decoder=np.array([[1.0, 0.5], [0.0, 1.0]]))
    D = 4
    mask = np.tril(np.ones((D, D), dtype=bool), -1)
    blocks = [(0, 2), (2, 4)]
    kw = {"grams": grams, "ima": 10.0, "max_iter": 150, "screen_iter": 40}
    fits = {w: R.refine(mix, blocks, scm.edgeless_prior(D), mask, np.random.default_rng(0), ima_final=w, **kw)
            for w in (None, 1.0)}

    def objective_at_1(rep, prior):
        prob = R._Problem(mix, blocks, rep.perms, mask, grams=grams, ima=1.0)
        return prob(prob.pack({**rep.params, **{f"scm.{k}": v for k, v in prior.items()}}))[0]

    one_stage, two_stage = (objective_at_1(*fits[w][:2]) for w in (None, 1.0))
    assert two_stage < one_stage
    assert fits[1.0][2]["ima_final"] == 1.0 and fits[None][2]["ima_final"] is None
    # without decoder Jacobians there is no IMA term, and no last stage: same map bit for bit
    plain = [R.refine(mix, blocks, scm.edgeless_prior(D), mask, np.random.default_rng(0), ima_final=w, max_iter=60,
                      screen_iter=20)[0] for w in (None, 1.0)]
    np.testing.assert_array_equal(plain[0].apply(mix), plain[1].apply(mix))


def test_validation_checks_each_stage_and_a_rejected_refit_has_no_last_stage():
    D = 4
    mask = np.tril(np.ones((D, D), dtype=bool), -1)
    shear = np.array([[1.0, 0.5], [0.0, 1.0]])

    def run(n_train, seed, ima_final=1.0, truth_val=False):
        decoder = np.eye(2) if truth_val else shear
        z, mix, grams = _modality1_mixed(n_train + 200, seed, 0.6, [1.0, 2.0], decoder=decoder)
        tr, va = slice(0, n_train), slice(n_train, None)
        val, vg = (z[va], [np.tile(np.eye(2), (200, 1, 1))] * 2) if truth_val else (mix[va], [g[va] for g in grams])
        rep, _, s = R.refine(mix[tr], [(0, 2), (2, 4)], scm.edgeless_prior(D), mask, np.random.default_rng(0),
                             z_val=val, val_grams=vg, grams=[g[tr] for g in grams], ima=10.0, ima_final=ima_final,
                             max_iter=100, screen_iter=30)
        return rep, s, mix

    # enough rows: the first stage is kept, the last stage lowers its own validation objective and is kept
    rep, s, mix = run(600, 5)
    assert s["accepted"] and s["val_objective_after"] < s["val_objective_before"]
    assert s["final_kept"] and s["val_objective_final_after"] < s["val_objective_final_before"]
    assert not np.array_equal(rep.apply(mix), run(600, 5, ima_final=None)[0].apply(mix))
    # few rows: the last stage overfits them, raises its validation objective, and is dropped - the
    # first stage's maps come back bit for bit
    rep, s, mix = run(150, 4)
    assert s["accepted"] and not s["final_kept"]
    assert s["val_objective_final_after"] >= s["val_objective_final_before"]
    np.testing.assert_array_equal(rep.apply(mix), run(150, 4, ima_final=None)[0].apply(mix))
    # validation rows in the true coordinates (an orthogonal decoder): the map that unmixes the
    # training rows mixes them, the check rejects it, and the last stage does not run
    rep, s, _ = run(600, 5, truth_val=True)
    assert rep is None and not s["accepted"] and "final_kept" not in s
    assert s["val_objective_after"] >= s["val_objective_before"]


def test_noise_density_of_the_refit_logistic_mixes_uniform_sources_mixture_does_not():
    # two independent uniform (sub-Gaussian) latents, rotated; likelihood only (no IMA term). A
    # super-Gaussian noise density (logistic) prefers mixed coordinates, as a fixed-sign contrast
    # does in ICA; the mixture density learns the flat shape and turns the rotation back. This is
    # why the model refits with the mixture (CRLConfig.refine_noise).
    z = np.random.default_rng(0).uniform(-1, 1, size=(1500, 2))
    mix = z @ _rotation(0.6).T
    mask = np.tril(np.ones((2, 2), dtype=bool), -1)
    mixture = scm.edgeless_prior(2)
    logistic = {k: mixture[k] for k in R.LOGISTIC_KEYS}
    before = M.mcc(z, mix)["mcc"]
    after = {}
    for name, prior in (("logistic", logistic), ("mixture", mixture)):
        rep, _, _ = R.refine(mix, [(0, 2)], prior, mask, np.random.default_rng(0), max_iter=300, screen_iter=100)
        after[name] = M.mcc(z, rep.apply(mix))["mcc"]
    assert before < 0.85
    assert after["logistic"] < before - 0.1
    assert after["mixture"] > before + 0.1
