"""The cross-modal content correction: it purifies a modality's cause, is stored without pickle and
is applied by the model's transform."""

import json

import numpy as np
import pytest

from causaltraits.crl import metrics as M
from causaltraits.crl.content import apply_content_maps, fit_content_maps, maps_from_arrays, maps_to_arrays
from causaltraits.crl.model import CRLConfig, MultiMeasurementCRL
from causaltraits.errors import ParameterError


def _latents(n, rng, z12_to_z22=0.0):
    """z11 -> z12, z11 -> z21, z21 -> z22, uniform noise (the variant-digits structure); with
    ``z12_to_z22``, z12 -> z22 as well."""
    z11, e12, e21, e22 = rng.uniform(-1, 1, size=(4, n))
    z12 = np.tanh(1.5 * z11) + 0.6 * e12
    z21 = 0.8 * z11 + 0.3 * z11 ** 2 + 0.5 * e21
    z22 = np.sin(1.2 * z21) + z12_to_z22 * z12 + 0.6 * e22
    return np.column_stack([z11, z12, z21, z22])


def _mix(T, angle):
    """Each modality's pair of latents rotated by ``angle``: the cause with some of its effect."""
    r = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    Ts = (T - T.mean(0)) / T.std(0)
    return np.column_stack([Ts[:, :2] @ r, Ts[:, 2:] @ r])


def test_correction_removes_most_of_the_effect_mixed_into_each_cause():
    rng = np.random.default_rng(0)
    T_fit, T = _latents(8000, rng), _latents(2000, rng)
    Z_fit, Z = _mix(T_fit, 0.2), _mix(T, 0.2)
    maps = fit_content_maps(Z_fit, [(0, 2), (2, 4)])
    assert [m.column for m in maps] == [0, 2]  # the causes: the columns each modality shares
    C = apply_content_maps(maps, Z)
    for col, own, other in ((0, 0, 1), (2, 2, 3)):
        before = M.mixed_share(Z[:, col], T[:, own], T[:, other])
        after = M.mixed_share(C[:, col], T[:, own], T[:, other])
        assert before > 0.01 and after < before / 5, (col, before, after)
        m = maps[col // 2]
        # what the rest of the block still shares given the column falls to the level of independence
        assert m.residual_before > 3 * m.residual_null and m.residual_after < 2 * m.residual_null
        assert m.summary()["one_latent_shares"]
        # one latent carries what the modalities share, so the small criterion's solution is kept
        assert m.criterion == "small" and m.summary()["criterion"] == "small"
    # PC with the GCM test (2,000 rows): the mixed causes add adjacencies, the corrected ones do not
    def skeleton(W):
        g = M.pc_graph(W, ["z11", "z12", "z21", "z22"], alpha=0.05, test="gcm")
        return {frozenset((e.source, e.target)) for e in g.edges}
    truth = {frozenset(p) for p in (("z11", "z12"), ("z11", "z21"), ("z21", "z22"))}
    assert skeleton(Z) > truth and skeleton(C) == truth
    # the other columns and the corrected column's scale are left alone
    assert np.array_equal(C[:, [1, 3]], Z[:, [1, 3]])
    assert C[:, 0].std() == pytest.approx(Z[:, 0].std(), rel=0.05) and C[:, 2].mean() == pytest.approx(Z[:, 2].mean(), abs=0.05)


def test_a_modality_sharing_through_two_latents_is_flagged():
    rng = np.random.default_rng(3)
    # modality 1 reaches modality 2 through both of its latents, each into a different latent (one
    # function of modality 1 cannot carry both), and modality 2 likewise
    T = _latents(8000, rng, z12_to_z22=0.8)
    maps = fit_content_maps(_mix(T, 0.0), [(0, 2), (2, 4)])
    for m in maps:
        assert m.residual_after > 3 * m.residual_null and not m.summary()["one_latent_shares"]
        # the full criterion's minimum is far above the level, so the small criterion is not tried:
        # its few terms could hide the second channel from themselves (on this table they bring the
        # full statistic down to about the level, and the flag would not fire)
        assert m.criterion == "full"
        # no shuffle of the permutation null comes near: the smallest p-value 199 shuffles give
        assert m.residual_p_value == pytest.approx(1 / 200)


def test_permutation_null_leaves_pure_causes_alone():
    # 8 draws of pure latents, 16 blocks: after the correction the check rejects a pure cause at 5%
    # about 7% of the time (results/benchmarks/crl_content_calibration.md), so at most 2 here, and
    # none of them far below the level
    p_values = []
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        maps = fit_content_maps(_mix(_latents(2000, rng), 0.0), [(0, 2), (2, 4)], seed=seed)
        p_values += [m.residual_p_value for m in maps]
    assert sum(p <= 0.05 for p in p_values) <= 2 and min(p_values) > 0.005, p_values
    # the same seed gives the same p-values
    again = fit_content_maps(_mix(_latents(2000, np.random.default_rng(107)), 0.0), [(0, 2), (2, 4)], seed=7)
    assert [m.residual_p_value for m in again] == p_values[-2:]


def test_the_small_criterion_changes_the_coefficients_not_the_test():
    # the permutation test and the flag judge the full criterion's minimum, whichever criterion's
    # coefficients are kept, so they are the same with and without the small criterion
    Z = _mix(_latents(3000, np.random.default_rng(11)), 0.2)
    both = fit_content_maps(Z, [(0, 2), (2, 4)], seed=4)
    full = fit_content_maps(Z, [(0, 2), (2, 4)], seed=4, small=False)
    for m, f in zip(both, full):
        assert m.criterion == "small" and f.criterion == "full"
        assert (m.residual_min, m.residual_null, m.residual_p_value) == (f.residual_min, f.residual_null, f.residual_p_value)
        assert f.residual_after == f.residual_min and np.array_equal(m.term_center, f.term_center)
        assert not np.array_equal(m.coef, f.coef)
        # the small criterion's solution stays within the flag's bound on the full statistic
        assert m.residual_after <= 2 * m.residual_null


@pytest.mark.slow
def test_permutation_level_matches_the_statistic_under_independence():
    # modalities drawn independently: the uncorrected residual correlation (``residual_before``)
    # then has the permutation null as its sampling distribution, so it should exceed its draw's
    # level about 5% of the time and the level should sit near the statistic's 95% quantile
    before, levels = [], []
    for seed in range(40):
        rng = np.random.default_rng(500 + seed)
        T = np.column_stack([_latents(1000, rng)[:, :2], _latents(1000, rng)[:, 2:]])
        m = fit_content_maps(_mix(T, 0.0), [(0, 2), (2, 4)], seed=seed)[0]
        before.append(m.residual_before)
        levels.append(m.residual_null)
    before, levels = np.array(before), np.array(levels)
    assert np.mean(before > levels) <= 0.12
    assert np.median(levels) == pytest.approx(np.quantile(before, 0.95), rel=0.15)


def test_pure_latents_stay_as_they_are_and_arrays_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    T_fit, T = _latents(6000, rng), _latents(500, rng)
    maps = fit_content_maps(_mix(T_fit, 0.0), [(0, 2), (2, 4)])
    C = apply_content_maps(maps, _mix(T, 0.0))
    assert M.mixed_share(C[:, 0], T[:, 0], T[:, 1]) < 0.002 and M.mixed_share(C[:, 2], T[:, 2], T[:, 3]) < 0.002
    with open(tmp_path / "m.npz", "wb") as fh:
        np.savez(fh, **maps_to_arrays(maps))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        back = maps_from_arrays(f)
    Z = _mix(T, 0.1)
    assert np.array_equal(apply_content_maps(back, Z), apply_content_maps(maps, Z))
    assert [m.summary() for m in back] == [m.summary() for m in maps]
    assert [m.criterion for m in back] == ["small", "small"]
    # models saved before the permutation null (five scores per block: no p-value) and before the
    # small criterion (six: no criterion, which was then the full one) load
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    for n_scores, p_values in ((5, [None, None]), (6, [m.summary()["residual_p_value"] for m in maps])):
        with open(tmp_path / "old.npz", "wb") as fh:
            np.savez(fh, **{k: (v[:n_scores] if k.endswith(".scores") else v) for k, v in arrays.items()})
        with np.load(tmp_path / "old.npz", allow_pickle=False) as f:
            old = maps_from_arrays(f)
        assert [m.summary()["residual_p_value"] for m in old] == p_values
        assert [m.criterion for m in old] == ["full", "full"]
        assert np.array_equal(apply_content_maps(old, Z), apply_content_maps(maps, Z))
    with pytest.raises(ValueError, match="two blocks"):
        fit_content_maps(T_fit, [(0, 4)])


def _toy(n, seed):
    rng = np.random.default_rng(seed)
    T = _latents(n, rng)
    X0 = [np.tanh(T[:, :2] @ rng.normal(size=(2, 10))) + 0.05 * rng.normal(size=(n, 10)) for _ in range(2)]
    X1 = [np.tanh(T[:, 2:] @ rng.normal(size=(2, 8))) + 0.05 * rng.normal(size=(n, 8))]
    return [X0, X1]


def test_the_model_applies_saves_and_reports_the_correction(tmp_path):
    X = _toy(300, 0)
    cfg = dict(latent_dims=[2, 2], hidden=[16], epochs=6, batch_size=32, refine_iter=60)
    plain = MultiMeasurementCRL(CRLConfig(**cfg), seed=2).fit(X)
    m = MultiMeasurementCRL(CRLConfig(**cfg, content_correction=True), seed=2).fit(X)
    assert plain.content_summary() is None and len(m.content_maps_) == 2
    # the same training and refit; only the corrected columns move, by the fitted maps
    Zp, Zm = plain.transform(X), m.transform(X)
    assert np.array_equal(apply_content_maps(m.content_maps_, Zp), Zm)
    m.save(tmp_path / "model")
    back = MultiMeasurementCRL.load(tmp_path / "model")
    assert np.array_equal(back.transform(X), Zm)
    summary = json.loads((tmp_path / "model.json").read_text())["content_correction"]
    assert [s["column"] for s in summary] == [m.latent_names_[c.column] for c in m.content_maps_]
    with pytest.raises(ParameterError, match="content_correction"):
        MultiMeasurementCRL(CRLConfig(latent_dims=[2, 2], n_shared=1, content_correction=True))
    with pytest.raises(ParameterError, match="content_correction"):
        MultiMeasurementCRL(CRLConfig(latent_dims=[2, 0], content_correction=True))
