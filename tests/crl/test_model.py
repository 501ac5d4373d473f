"""The CRL model: fitting, determinism, transform, save/load, configuration errors."""

import json

import numpy as np
import pytest

from causaltraits.crl.baselines import METHODS
from causaltraits.crl.model import CRLConfig, MultiMeasurementCRL
from causaltraits.errors import DataError, ParameterError


def _toy(n=300, seed=0):
    """Two modalities; modality 0 has three noisy measurements of z0 (2-d), modality 1 one of z1 (1-d)."""
    rng = np.random.default_rng(seed)
    z0 = rng.uniform(-1, 1, size=(n, 2))
    z1 = np.tanh(z0[:, :1]) + 0.5 * rng.uniform(-1, 1, size=(n, 1))
    A = [rng.normal(size=(2, 12)) for _ in range(3)]
    X0 = [np.tanh(z0 @ a) + 0.05 * rng.normal(size=(n, 12)) for a in A]
    X1 = [np.tanh(z1 @ rng.normal(size=(1, 6))) + 0.05 * rng.normal(size=(n, 6))]
    return [X0, X1], np.column_stack([z0, z1])


SMALL = dict(latent_dims=[2, 1], hidden=[16], epochs=8, batch_size=32, refine_iter=100)


def test_fit_learns_and_same_seed_same_bits():
    X, z = _toy()
    a = MultiMeasurementCRL(CRLConfig(**SMALL), seed=3).fit(X)
    b = MultiMeasurementCRL(CRLConfig(**SMALL), seed=3).fit(X)
    assert a.store_.theta.tobytes() == b.store_.theta.tobytes()
    assert a.transform(X).tobytes() == b.transform(X).tobytes()
    c = MultiMeasurementCRL(CRLConfig(**SMALL), seed=4).fit(X)
    assert c.store_.theta.tobytes() != a.store_.theta.tobytes()
    h = a.history_
    assert h[-1]["val_loss"] < h[0]["val_loss"]  # training lowers the held-out loss
    assert a.store_.theta.dtype == np.float32


def test_latents_carry_the_true_information():
    X, z = _toy(n=600)
    m = MultiMeasurementCRL(CRLConfig(latent_dims=[2, 1], hidden=[32], epochs=40, batch_size=32, refine_iter=200), seed=0).fit(X)
    Z = m.transform(X)
    # a linear read-out of the latents explains most of each true latent
    Zc = np.column_stack([Z, Z ** 2, np.ones(len(Z))])
    coef, *_ = np.linalg.lstsq(Zc, z, rcond=None)
    r2 = 1 - ((z - Zc @ coef) ** 2).sum(0) / ((z - z.mean(0)) ** 2).sum(0)
    assert r2.min() > 0.7, r2


def test_save_load_roundtrip(tmp_path):
    X, _ = _toy(n=120)
    m = MultiMeasurementCRL(CRLConfig(n_shared=1, **SMALL), seed=1).fit(X)
    npz, js = m.save(tmp_path / "model")
    assert npz.name == "model.npz" and js.name == "model.json"
    meta = json.loads(js.read_text())
    assert meta["latent_names"] == ["s1", "z1_1", "z1_2", "z2_1"]
    back = MultiMeasurementCRL.load(tmp_path / "model")
    assert np.array_equal(back.transform(X), m.transform(X))
    assert np.array_equal(back.graph_weights_, m.graph_weights_)
    g = back.learned_graph(threshold=0.0)
    assert set(g.nodes) == {"s1", "z1_1", "z1_2", "z2_1"}
    with np.load(npz, allow_pickle=False) as f:  # readable without pickle
        assert "theta" in f.files
    # a model from a newer causaltraits (a setting this one does not know) is refused in one line
    meta["config"]["a_future_setting"] = True
    js.write_text(json.dumps(meta))
    with pytest.raises(DataError, match="newer causaltraits .*a_future_setting"):
        MultiMeasurementCRL.load(tmp_path / "model")


def test_refit_of_the_coordinates_is_checked_on_validation_and_saved(tmp_path):
    X, _ = _toy(n=300)
    m = MultiMeasurementCRL(CRLConfig(**{**SMALL, "refine_iter": 60}), seed=2).fit(X)
    s = m.refine_summary_
    assert s["accepted"] == (s["val_objective_after"] < s["val_objective_before"])
    assert (m.reparam_ is not None) == s["accepted"]
    # without validation rows the refit is always kept; its map is applied by transform and
    # survives save / load
    m = MultiMeasurementCRL(CRLConfig(**{**SMALL, "refine_iter": 60, "val_fraction": 0.0}), seed=2).fit(X)
    assert m.reparam_ is not None and m.refine_summary_["loglik_after"] > m.refine_summary_["loglik_before"]
    raw = m._encode(m._scale([[np.asarray(x, dtype=np.float64) for x in mod] for mod in X]), keep=False)[1]
    np.testing.assert_allclose(m.transform(X), m.reparam_.apply(raw.astype(np.float64)))
    m.save(tmp_path / "model")
    back = MultiMeasurementCRL.load(tmp_path / "model")
    assert np.array_equal(back.transform(X), m.transform(X))
    assert np.array_equal(back.graph_weights_, m.graph_weights_)
    # switched off: the raw posterior means
    off = MultiMeasurementCRL(CRLConfig(refine=False, **SMALL), seed=2).fit(X)
    assert off.reparam_ is None and off.refine_summary_ is None


def test_refit_noise_density_mixture_by_default_or_the_trained_one(tmp_path):
    X, _ = _toy(n=300)
    cfg = {**SMALL, "refine_iter": 40, "val_fraction": 0.0, "noise": "logistic"}
    mix = MultiMeasurementCRL(CRLConfig(**cfg), seed=2).fit(X)
    assert {"a", "mu", "lsd"} <= set(mix.refined_prior_)  # refitted with the mixture density
    assert mix.refined_prior_["a"].shape == (3, 3)  # D latents x noise_components
    mix.save(tmp_path / "model")
    back = MultiMeasurementCRL.load(tmp_path / "model")
    assert set(back.refined_prior_) == set(mix.refined_prior_)
    assert np.array_equal(back.graph_weights_, mix.graph_weights_)
    assert mix.refine_summary_["ima"] == 10.0 and mix.refine_summary_["ima_final"] == 1.0  # the defaults
    same = MultiMeasurementCRL(CRLConfig(**cfg, refine_noise="trained"), seed=2).fit(X)
    assert set(same.refined_prior_) == {"W", "V", "U", "b", "log_s"}
    # same training, other refit: the raw encodings agree, the refitted coordinates do not
    assert same.store_.theta.tobytes() == mix.store_.theta.tobytes()
    assert not np.array_equal(same.transform(X), mix.transform(X))


def test_transform_rejects_other_widths_and_unfitted():
    X, _ = _toy(n=80)
    m = MultiMeasurementCRL(CRLConfig(**SMALL), seed=0)
    with pytest.raises(ParameterError, match="not fitted"):
        m.transform(X)
    m.fit(X)
    bad = [[x[:, :5] for x in X[0]], X[1]]
    with pytest.raises(DataError, match="widths"):
        m.transform(bad)
    nan = [[x.copy() for x in X[0]], X[1]]
    nan[0][1][3, 2] = np.nan
    with pytest.raises(DataError, match="measurement 0.1"):
        m.transform(nan)


def test_config_errors():
    with pytest.raises(ParameterError, match="prior"):
        MultiMeasurementCRL(prior="flow")
    with pytest.raises(ParameterError, match="unknown CRL option"):
        MultiMeasurementCRL(learning_rate=1)
    with pytest.raises(ParameterError, match="independent"):
        MultiMeasurementCRL(combine="independent", stochastic=True)
    with pytest.raises(ParameterError, match="noise must be"):
        MultiMeasurementCRL(noise="cauchy")
    with pytest.raises(ParameterError, match="at least one latent"):
        MultiMeasurementCRL(latent_dims=[0, 0])
    with pytest.raises(ParameterError, match="refine_iter"):
        MultiMeasurementCRL(refine_iter=0)
    with pytest.raises(ParameterError, match="refine_noise"):
        MultiMeasurementCRL(refine_noise="logistic")
    with pytest.raises(ParameterError, match="refine_ima_final"):
        MultiMeasurementCRL(refine_ima_final=-1.0)
    with pytest.raises(ParameterError, match="refine_threads"):
        MultiMeasurementCRL(refine_threads=0)


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_fits_and_transforms(name):
    X, _ = _toy(n=100)
    kw = {"hidden": [8]} if name != "published" else {"hidden": [8]}
    meth = METHODS[name]([2, 1], seed=0, epochs=3, **kw)
    if name == "published":
        meth = METHODS[name]([2, 1], seed=0, epochs=3, steps=3, hidden=[8])
    meth.fit(X)
    Z = meth.transform(X)
    assert Z.shape == (100, 3) and np.isfinite(Z).all()


def test_restarts_keep_the_lowest_validation_loss_and_are_seeded():
    X, _ = _toy()
    cfg = CRLConfig(**{**SMALL, "restarts": 3, "restart_epochs": 3})
    a = MultiMeasurementCRL(cfg, seed=5).fit(X)
    assert len(a.restart_scores_) == 3 and len(set(a.restart_scores_)) == 3  # distinct initialisations
    assert a.restart_chosen_ == int(np.argmin(a.restart_scores_))
    # the kept run's first epochs are the chosen candidate's: its best early loss is that score
    assert min(h["val_loss"] for h in a.history_[:3]) == pytest.approx(min(a.restart_scores_))
    assert len(a.history_) <= cfg.epochs
    b = MultiMeasurementCRL(cfg, seed=5).fit(X)
    assert a.store_.theta.tobytes() == b.store_.theta.tobytes()


def test_crossmodal_restarts_keep_the_highest_score_and_are_seeded():
    X, _ = _toy()
    cfg = CRLConfig(**{**SMALL, "epochs": 4, "restarts": 2, "restart_select": "crossmodal"})
    a = MultiMeasurementCRL(cfg, seed=5).fit(X)
    assert len(a.restart_scores_) == 2 and a.restart_scores_[0] != a.restart_scores_[1]
    assert a.restart_chosen_ == int(np.argmax(a.restart_scores_))
    # both initialisations trained in full; the history is the kept one's
    assert a.epochs_run_ == 2 * cfg.epochs and len(a.history_) == cfg.epochs
    # the kept parameters are the chosen candidate's: its score, recomputed on the fit's own split
    rng = np.random.default_rng(5)
    [rng.integers(2**63 - 1) for _ in range(2)]
    perm = rng.permutation(300)
    val, tr = np.sort(perm[:30]), perm[30:]
    assert a._crossmodal_score(a._scale(X), tr, val) == a.restart_scores_[a.restart_chosen_]
    b = MultiMeasurementCRL(cfg, seed=5).fit(X)
    assert a.store_.theta.tobytes() == b.store_.theta.tobytes() and a.restart_scores_ == b.restart_scores_
    with pytest.raises(ParameterError, match="two modalities"):
        MultiMeasurementCRL(CRLConfig(latent_dims=[2, 0], restarts=2, restart_select="crossmodal"))
    with pytest.raises(ParameterError, match="restart_select"):
        MultiMeasurementCRL(CRLConfig(restart_select="loss"))


def test_sharpened_decoders_fit_the_means_better_and_leave_the_model_alone():
    X, _ = _toy(n=400)
    m = MultiMeasurementCRL(CRLConfig(**{**SMALL, "epochs": 6, "refine": False}), seed=2).fit(X)
    theta = m.store_.theta.copy()
    Xs = m._scale(X)
    tr, va = np.arange(100, 400), np.arange(100)
    part = lambda rows: [[x[rows] for x in mod] for mod in Xs]
    outs, mu = m._encode(part(tr), keep=False)
    outs_v, mu_v = m._encode(part(va), keep=False)
    inp, inp_v = m._decoder_inputs(mu, outs), m._decoder_inputs(mu_v, outs_v)

    def err(decs):
        return sum(float(np.sum((decs[i][k].forward(inp_v[i][k], keep=False) - part(va)[i][k]) ** 2))
                   for i in range(2) for k in range(len(Xs[i])))

    m.config.refine_decoder_epochs = 40
    sharp = m._sharpened_decoders(part(tr), inp, part(va), inp_v, np.random.default_rng(0))
    assert err(sharp) < 0.9 * err(m.dec_)  # the copies fit the observations at the means better
    assert m.store_.theta.tobytes() == theta.tobytes()  # the model's own decoders are untouched
    g_own = m._decoder_grams(part(tr), mu, outs)
    g_sharp = m._decoder_grams(part(tr), mu, outs, sharp)
    assert [g.shape for g in g_own] == [g.shape for g in g_sharp] and not np.allclose(g_own[0], g_sharp[0])
    # and the refit with them is seeded like the rest of the fit
    cfg = CRLConfig(**{**SMALL, "epochs": 3, "refine_decoder_epochs": 3})
    a, b = (MultiMeasurementCRL(cfg, seed=1).fit(X) for _ in range(2))
    assert a.transform(X).tobytes() == b.transform(X).tobytes() and a.refine_summary_ is not None
    with pytest.raises(ParameterError, match="refine_decoder_epochs"):
        MultiMeasurementCRL(CRLConfig(refine_decoder_epochs=-1))


def test_ica_anchor_on_measurement_average():
    X, _ = _toy()
    cfg = CRLConfig(**{**SMALL, "anchor": 1.0, "anchor_input": "mean"})
    model = MultiMeasurementCRL(cfg, seed=0)
    model._build([[x.shape[1] for x in mod] for mod in X], np.random.default_rng(0))
    Xs = [[np.asarray(x, float) for x in mod] for mod in X]
    A = model._ica_anchors(Xs, np.arange(300), np.random.default_rng(1))
    assert A.shape == (300, 3) and np.allclose(A.std(0), 1.0) and np.allclose(A.mean(0), 0.0, atol=1e-9)
    with pytest.raises(ParameterError, match="anchor_input"):
        MultiMeasurementCRL(CRLConfig(anchor_input="median"))
    with pytest.raises(ParameterError, match="restarts"):
        MultiMeasurementCRL(CRLConfig(restarts=0))
