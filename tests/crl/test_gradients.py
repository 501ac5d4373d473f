"""Finite-difference checks of every hand-written gradient (float64)."""

import numpy as np
import pytest

from causaltraits.crl import scm
from causaltraits.crl.layers import ACTIVATIONS, MLP, Dense, ParamStore
from causaltraits.crl.model import CRLConfig, MultiMeasurementCRL, code_correlation_penalty


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_dense_layer_gradients(act, fd):
    rng = np.random.default_rng(1)
    st = ParamStore(np.float64)
    layer = Dense(st, "l", 5, 4, act)
    st.allocate(rng)
    st["l.b"][...] = rng.normal(size=4) * 0.5
    x = rng.normal(size=(7, 5))
    target = rng.normal(size=(7, 4))

    def loss():
        return 0.5 * float(np.sum((layer.forward(x.copy(), keep=False) - target) ** 2))

    a = layer.forward(x, keep=True)
    st.grad[...] = 0
    dx = layer.backward(a - target)
    for name in ("l.W", "l.b"):
        for i in range(st[name].size):
            assert st.grads[name].flat[i] == pytest.approx(fd(loss, st[name], i), rel=1e-5, abs=1e-7)
    for i in range(x.size):
        assert dx.flat[i] == pytest.approx(fd(loss, x, i), rel=1e-5, abs=1e-7)


def test_mlp_gradients(fd):
    rng = np.random.default_rng(2)
    st = ParamStore(np.float64)
    net = MLP(st, "m", [4, 6, 5, 3], "elu", "tanh")
    st.allocate(rng)
    x = rng.normal(size=(6, 4))
    t = rng.normal(size=(6, 3))

    def loss():
        return 0.5 * float(np.sum((net.forward(x.copy(), keep=False) - t) ** 2))

    st.grad[...] = 0
    net.backward(net.forward(x) - t)
    for i in range(0, st.theta.size, 3):
        assert st.grad[i] == pytest.approx(fd(loss, st.theta, i), rel=1e-5, abs=1e-7)


def test_scm_density_gradients(fd):
    rng = np.random.default_rng(3)
    D, n = 4, 9
    z = rng.normal(size=(n, D))
    W, V = rng.normal(size=(D, D)), rng.normal(size=(D, D))
    U = rng.normal(size=(D, D))
    b, ls = rng.normal(size=D), rng.normal(size=D) * 0.3
    mask = np.tril(np.ones((D, D), dtype=bool), -1)

    def loss():
        return -0.7 * float(np.sum(scm.scm_logp(z, W, V, U, b, ls, mask)))

    dz = np.zeros_like(z); dW = np.zeros_like(W); dV = np.zeros_like(V); dU = np.zeros_like(U)
    db = np.zeros(D); dls = np.zeros(D)
    val = scm.scm_nll_backward(z, W, V, U, b, ls, mask, 0.7, dz, dW, dV, dU, db, dls)
    assert val == pytest.approx(loss())
    for arr, g in ((z, dz), (W, dW * mask), (V, dV * mask), (U, dU * mask), (b, db), (ls, dls)):
        for i in range(arr.size):
            numeric = fd(loss, arr, i)
            assert g.flat[i] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_scm_mixture_density_gradients(fd):
    rng = np.random.default_rng(9)
    D, n, K = 3, 7, 3
    z = rng.normal(size=(n, D))
    W, V, U = rng.normal(size=(D, D)), rng.normal(size=(D, D)), rng.normal(size=(D, D))
    b, ls = rng.normal(size=D), rng.normal(size=D) * 0.3
    a, mu, lsd = rng.normal(size=(D, K)), rng.normal(size=(D, K)), rng.normal(size=(D, K)) * 0.3
    mask = np.tril(np.ones((D, D), dtype=bool), -1)

    def loss():
        return -0.7 * float(np.sum(scm.scm_logp_mix(z, W, V, U, b, ls, mask, a, mu, lsd)))

    grads = [np.zeros_like(x) for x in (z, W, V, U, b, ls, a, mu, lsd)]
    dz, dW, dV, dU, db, dls, da, dmu, dlsd = grads
    val = scm.scm_nll_backward_mix(z, W, V, U, b, ls, mask, a, mu, lsd, 0.7, dz, dW, dV, dU, db, dls, da, dmu, dlsd)
    assert val == pytest.approx(loss())
    for arr, g in ((z, dz), (W, dW * mask), (V, dV * mask), (U, dU * mask), (b, db), (ls, dls), (a, da), (mu, dmu), (lsd, dlsd)):
        for i in range(arr.size):
            assert g.flat[i] == pytest.approx(fd(loss, arr, i), rel=1e-5, abs=1e-7)


def test_scm_mixture_is_a_normalised_density():
    W = np.array([[0, 0], [0.8, 0]]); V = np.array([[0, 0], [-1.2, 0]]); U = np.array([[0, 0], [1.5, 0]])
    b = np.array([0.3, -0.2]); ls = np.array([-0.4, -0.9])
    mask = np.tril(np.ones((2, 2), dtype=bool), -1)
    a = np.array([[0.0, 1.0, -0.5], [0.3, 0.0, 0.0]])
    mu = np.array([[-1.0, 0.0, 1.5], [-0.5, 0.2, 0.9]])
    lsd = np.array([[-0.5, 0.1, -0.2], [0.0, -0.3, -0.6]])
    g = np.linspace(-12, 12, 801)
    Z = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    p = np.exp(scm.scm_logp_mix(Z, W, V, U, b, ls, mask, a, mu, lsd))
    assert p.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=2e-3)


def test_scm_is_a_normalised_density():
    # integrate p(z1, z2) numerically over a wide grid: it must be 1 (unit Jacobian, nothing dropped)
    W = np.array([[0, 0], [0.8, 0]]); V = np.array([[0, 0], [-1.2, 0]]); U = np.array([[0, 0], [1.5, 0]])
    b = np.array([0.3, -0.2]); ls = np.array([-0.4, -0.9])
    mask = np.tril(np.ones((2, 2), dtype=bool), -1)
    g = np.linspace(-12, 12, 801)
    Z = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    p = np.exp(scm.scm_logp(Z, W, V, U, b, ls, mask))
    assert p.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=2e-3)


def test_code_correlation_penalty_against_numpy_and_differences(fd):
    rng = np.random.default_rng(3)
    n = 40
    shared = rng.normal(size=n)
    codes = [np.column_stack([shared + 0.3 * rng.normal(size=n), rng.normal(size=n)]) for _ in range(3)]
    loss, grads = code_correlation_penalty(codes, 0.7)
    R = np.corrcoef(np.hstack(codes), rowvar=False)
    expected = sum(np.sum(R[2 * i:2 * i + 2, 2 * j:2 * j + 2] ** 2) for i in range(3) for j in range(i + 1, 3))
    assert loss == pytest.approx(0.7 * expected, rel=1e-6)
    assert loss > 0.7 * 3 * 0.8  # the shared column is strongly correlated across all three pairs
    # independent codes: only sampling noise, about c_i * c_j / n per pair
    free = [rng.normal(size=(4000, 2)) for _ in range(3)]
    assert code_correlation_penalty(free, 1.0)[0] < 0.01

    def f():
        return code_correlation_penalty(codes, 0.7)[0]

    for k in range(3):
        for i in rng.choice(codes[k].size, size=12, replace=False):
            assert np.isclose(grads[k].flat[i], fd(f, codes[k], i), rtol=1e-5, atol=1e-8)


CONFIGS = {
    "scm-vae": dict(prior="scm", stochastic=True, n_shared=1, noise_dim=2),
    "scm-code-independence": dict(prior="scm", stochastic=True, noise_dim=2, code_independence=0.9),
    "autoencoder-code-independence": dict(prior="none", stochastic=False, noise_dim=3, code_independence=1.7),
    "scm-no-shared-no-code": dict(prior="scm", stochastic=True, n_shared=0, noise_dim=0),
    "scm-global-sigma": dict(prior="scm", stochastic=True, n_shared=2, amortised_sigma=False),
    "scm-logistic": dict(prior="scm", stochastic=True, noise="logistic"),
    "beta-vae": dict(prior="gaussian", stochastic=True, beta=3.0),
    "autoencoder": dict(prior="none", stochastic=False),
    "published": dict(prior="gaussian", stochastic=False, combine="independent", noise_dim=0),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_model_loss_gradients(name, fd):
    rng = np.random.default_rng(4)
    n = 6
    X = [[rng.normal(size=(n, 5)), rng.normal(size=(n, 5)), rng.normal(size=(n, 5))], [rng.normal(size=(n, 4))]]
    cfg = CRLConfig(latent_dims=[2, 1], hidden=[6], dtype="float64", l1=0.05, tie=0.7, **CONFIGS[name])
    model = MultiMeasurementCRL(cfg, seed=0)
    model._build([[5, 5, 5], [4]], np.random.default_rng(5))
    st = model.store_
    st.theta[...] += np.random.default_rng(6).normal(size=st.theta.size) * 0.3  # move off the init values
    Xb = [[x.copy() for x in mod] for mod in X]

    # an anchor on the latents of modality 0 (the warm-start term), NaN = no anchor
    A = np.random.default_rng(10).normal(size=(n, model.D))
    A[:, model._latent_slices()[1]] = np.nan
    anchor = (A, 0.8)

    def loss():
        return model._loss_and_grad(Xb, np.random.default_rng(7), need_grad=False, anchor=anchor)

    l0 = model._loss_and_grad(Xb, np.random.default_rng(7), need_grad=True, anchor=anchor)
    assert l0 == pytest.approx(loss())
    grad = st.grad.copy()
    idx = np.random.default_rng(8).choice(st.theta.size, size=min(250, st.theta.size), replace=False)
    # every named small parameter fully, plus a random subset of the network weights
    for nm, (off, shape) in st.offsets.items():
        if not nm.startswith(("enc", "dec")):
            idx = np.concatenate([idx, np.arange(off, off + int(np.prod(shape)))])
    bad = []
    for i in np.unique(idx):
        numeric = fd(loss, st.theta, i)
        if not np.isclose(grad[i], numeric, rtol=1e-4, atol=1e-6):
            bad.append((i, grad[i], numeric))
    assert not bad, bad[:5]
