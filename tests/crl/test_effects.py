"""The effect restoration: the data's Jacobian puts back an effect replaced by its own noise and
leaves true coordinates alone; maps are stored without pickle and applied by the model."""

import json

import numpy as np
import pytest

from causaltraits.crl import digits as D
from causaltraits.crl.content import apply_content_maps
from causaltraits.crl.effects import (MIN_GAIN, apply_effect_maps, crossfit_jacobians, fit_effect_map,
                                      maps_from_arrays, maps_to_arrays)
from causaltraits.crl.model import CRLConfig, MultiMeasurementCRL
from causaltraits.errors import ParameterError


def test_crossfit_jacobians_recover_a_linear_map_and_its_squared_norms():
    rng = np.random.default_rng(0)
    U = rng.uniform(-1, 1, size=(3000, 2))
    W = rng.normal(size=(2, 30))
    X = U @ W + 0.6 * rng.normal(size=(3000, 30))
    J1, J2 = crossfit_jacobians(U, X, k=40)
    assert np.abs(J1.mean(0) - W).max() < 0.2 and np.abs(J2.mean(0) - W).max() < 0.2
    # one estimate's squared norm carries its noise; the product of the two halves does not
    true_sq = (W ** 2).sum(1)
    own = np.einsum("ndp,ndp->d", J1, J1) / len(U)
    cross = np.einsum("ndp,ndp->d", J1, J2) / len(U)
    assert np.all(own > 1.5 * true_sq)
    assert np.allclose(cross, true_sq, rtol=0.1)


def _bumps(c, e, width=12):
    """Two bumps on disjoint pixels, at positions c and e: each latent moves its own pixels, so the
    true Jacobian's columns are orthogonal."""
    grid = np.linspace(-1.5, 1.5, width)
    return np.hstack([np.exp(-((grid - c[:, None]) / 0.3) ** 2), np.exp(-((grid - e[:, None]) / 0.3) ** 2)])


def test_an_effect_replaced_by_its_noise_is_restored_and_true_coordinates_are_left_alone():
    rng = np.random.default_rng(1)
    n = 3000
    c = rng.uniform(-1, 1, n)
    noise = 0.4 * rng.uniform(-1, 1, n)
    e = 0.7 * np.sin(1.5 * c) + noise
    X = _bumps(c, e) + 0.02 * rng.normal(size=(n, 24))
    wrong = np.column_stack([c, noise])  # what a model in the noise coordinates returns
    m = fit_effect_map(wrong, X, 0, [1], content_pure=True)
    assert m.applied and m.gain > 0.3
    back = m.apply(wrong)
    assert np.corrcoef(back[:, 1], e)[0, 1] > 0.99 > abs(np.corrcoef(noise, e)[0, 1]) + 0.2
    assert np.array_equal(back[:, 0], c)
    right = np.column_stack([c, e])
    m = fit_effect_map(right, X, 0, [1], content_pure=True)
    assert not m.applied and m.gain < 0.05
    assert np.array_equal(m.apply(right), right)
    # an impure content column is never used, whatever the gain
    m = fit_effect_map(wrong, X, 0, [1], content_pure=False)
    assert m.gain > MIN_GAIN and not m.applied and np.array_equal(m.apply(wrong), wrong)


def test_variant_digits_modality_two_comes_back_from_its_effects_noise():
    d = D.make_variant_digits(3000, seed=5)
    T = d.latents
    noise_coords = np.column_stack([T[:, :3], T[:, 3] - D.f22(T[:, 2])])
    m = fit_effect_map(noise_coords, d.X[1][0], 2, [3], content_pure=True)
    assert m.applied
    assert np.corrcoef(m.apply(noise_coords)[:, 3], T[:, 3])[0, 1] > 0.99
    assert not fit_effect_map(T, d.X[1][0], 2, [3], content_pure=True).applied


def test_maps_round_trip_and_new_rows_use_the_fitted_range(tmp_path):
    rng = np.random.default_rng(2)
    c, noise = rng.uniform(-1, 1, (2, 2000))
    Z = np.column_stack([c, noise])
    m = fit_effect_map(Z, _bumps(c, 0.7 * np.sin(1.5 * c) + 0.4 * noise), 0, [1], content_pure=True)
    np.savez(tmp_path / "m.npz", **maps_to_arrays([m]))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        back = maps_from_arrays(f)
    new = np.column_stack([np.linspace(-3, 3, 50), np.zeros(50)])
    assert np.array_equal(apply_effect_maps(back, new), m.apply(new))
    assert back[0].applied == m.applied and back[0].gain == m.gain
    # beyond the fitting rows' range the shift is held at its edge value
    shift = m.shifts(new)[:, 0]
    assert shift[0] == shift[1] and shift[-1] == shift[-2]


def _toy(n, seed):
    rng = np.random.default_rng(seed)
    z11, e12, e21, e22 = rng.uniform(-1, 1, size=(4, n))
    z21 = 0.8 * z11 + 0.5 * e21
    T = np.column_stack([z11, np.tanh(1.5 * z11) + 0.6 * e12, z21, np.sin(1.2 * z21) + 0.6 * e22])
    X0 = [np.tanh(T[:, :2] @ rng.normal(size=(2, 10))) + 0.05 * rng.normal(size=(n, 10)) for _ in range(2)]
    X1 = [np.tanh(T[:, 2:] @ rng.normal(size=(2, 8))) + 0.05 * rng.normal(size=(n, 8))]
    return [X0, X1]


def test_the_model_fits_saves_and_reports_the_restoration(tmp_path):
    X = _toy(400, 0)
    cfg = dict(latent_dims=[2, 2], hidden=[16], epochs=6, batch_size=32, refine_iter=60, content_correction=True)
    plain = MultiMeasurementCRL(CRLConfig(**cfg), seed=2).fit(X)
    m = MultiMeasurementCRL(CRLConfig(**cfg, restore_effects=True), seed=2).fit(X)
    assert plain.effect_summary() is None and len(m.effect_maps_) == 2
    # same seed, same bits
    again = MultiMeasurementCRL(CRLConfig(**cfg, restore_effects=True), seed=2).fit(X)
    assert np.array_equal(again.transform(X), m.transform(X))
    # the same training, refit and correction; the restoration acts after them
    assert np.array_equal(apply_effect_maps(m.effect_maps_, plain.transform(X)), m.transform(X))
    m.save(tmp_path / "model")
    back = MultiMeasurementCRL.load(tmp_path / "model")
    assert np.array_equal(back.transform(X), m.transform(X))
    summary = json.loads((tmp_path / "model.json").read_text())["effect_restoration"]
    assert [s["content_column"] for s in summary] == [m.latent_names_[c.column] for c in m.content_maps_]
    assert all(0 <= s["gain"] <= 1 and s["applied"] == (s["content_pure"] and s["gain"] >= MIN_GAIN)
               for s in summary)
    with pytest.raises(ParameterError, match="needs content_correction"):
        MultiMeasurementCRL(CRLConfig(latent_dims=[2, 2], restore_effects=True))
    # the content maps are those of the plain fit: the restoration does not feed back
    probe = np.eye(4)
    assert np.array_equal(apply_content_maps(m.content_maps_, probe), apply_content_maps(plain.content_maps_, probe))


def test_too_few_rows_estimate_nothing_and_say_so():
    rng = np.random.default_rng(3)
    Z = rng.uniform(-1, 1, size=(100, 2))
    m = fit_effect_map(Z, _bumps(Z[:, 0], Z[:, 1]), 0, [1], content_pure=True)
    assert not m.applied and m.gain == 0.0 and "too few rows" in m.summary()["notes"][0]
    assert np.array_equal(m.apply(Z), Z)
