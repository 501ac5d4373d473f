"""The multimodal multi-measurement causal representation model.

Data: modalities m = 1..M, modality m seen through K_m measurements ``X[m][k]`` (n x d_mk), rows
aligned across all measurements.

Model (a variational autoencoder whose prior is a latent structural model):

- every measurement has an encoder MLP giving (i) an estimate of the modality's latents z_m
  (and of the shared latents s, if any) and (ii) the mean of its own small noise code c_mk;
- a modality's latent is the mean of its measurements' estimates (shared latents: the mean over
  every measurement of every modality), and a consistency term
  ``tie/2 * sum_k |mu_mk - mu_m|^2 / sigma^2`` ties the measurements of one modality to one
  latent; it is scale-free because sigma (the posterior scale) scales with the latents;
- posterior ``q(z | x) = N(mu, diag(sigma^2))``, ``log sigma`` = a learned per-latent value plus
  (amortised) the mean of the measurements' encoder offsets; noise codes ``N(code, sigma_c^2)``
  with a learned per-code sigma_c and an N(0, I) prior; a noise code is used only where a
  modality has two or more measurements;
- every measurement has a decoder MLP from ``[s, z_m, c_mk]`` with a Gaussian likelihood whose
  variance is learned per measurement;
- prior over ``[s, z_1, ..., z_M]``: the additive-noise structural model of
  :mod:`causaltraits.crl.scm` (independent noise with a learned per-latent density - a
  Gaussian mixture by default, logistic optionally -, unit Jacobian, fixed causal order = the
  latent order, L1 sparsity on the edge weights).

Loss per row: ``-ELBO + tie + l1 * |edges|`` with ``-ELBO = reconstruction NLL + beta * (-entropy
of q - log p(z) under the SCM + KL of the noise codes)``; with ``code_independence`` > 0 also that
weight times the squared correlations over the batch between the code means of every two
measurements of one modality (their codes are each measurement's own, independent noise; without
the term, training can copy a latent that every measurement shows into every code). Scaling all
latents by c changes the entropy by ``D log c`` and the SCM density by ``-D log c`` (the noise
scales s_i are learned), so no term is lowered by shrinking the latents.

Training: mini-batch Adam, early stopping on a validation part of the training rows (the best
validation epoch's parameters are kept). All randomness comes from one ``numpy.random.Generator``.

After training (``refine``, on by default with the structural-model prior): each block of
latents is passed through an invertible map fitted to the two parts of the objective that such
a map changes - the prior's log-density and the independent-mechanism contrast of the decoders'
Jacobian, which a diagonal posterior pays - and the map is kept only if it lowers that objective
on the validation rows (:mod:`causaltraits.crl.refine`). ``transform`` applies it. Then, with
``content_correction``, each modality's cause is made purer by what the other modalities share
with it (:mod:`causaltraits.crl.content`); ``transform`` applies that too. With
``restore_effects`` as well, an effect the model has replaced by its own noise is put back by the
data's Jacobian (:mod:`causaltraits.crl.effects`).

What the data can and cannot identify: an effect and its own noise (``z12`` and
``z12 - f(z11)``) give the observations the same likelihood under this model; only the
independent-mechanism term, when the true factors act on the observation in orthogonal
directions, separates them (``benchmarks/crl_identifiability.py``).

The same machinery, configured differently, gives the baselines (see
:mod:`causaltraits.crl.baselines`): ``prior='gaussian'`` (beta-VAE), ``stochastic=False,
prior='none'`` (plain autoencoder), ``combine='independent'`` (one autoencoder per measurement,
latent read from the first measurement, as in the published code).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from causaltraits.crl.layers import MLP, ParamStore
from causaltraits.crl.optim import Adam
from causaltraits.crl import scm as _scm
from causaltraits.errors import DataError, ParameterError

FORMAT_VERSION = 3


@dataclass
class CRLConfig:
    """Hyperparameters of :class:`MultiMeasurementCRL` (all JSON-able)."""

    latent_dims: list[int] = field(default_factory=lambda: [2, 2])
    n_shared: int = 0
    noise_dim: int = 2
    hidden: list[int] = field(default_factory=lambda: [128, 64])
    prior: str = "scm"            # scm | gaussian | none
    #: noise density of the structural model: a K-Gaussian mixture per latent (can be sub- or
    #: super-Gaussian) or the logistic density
    noise: str = "mixture"        # mixture | logistic
    noise_components: int = 3
    stochastic: bool = True
    combine: str = "mean"         # mean | independent
    beta: float = 1.0
    tie: float = 1.0
    #: weight of a penalty on the squared correlations (over the batch) between the noise codes'
    #: posterior means of different measurements of one modality. The model says these codes are
    #: independent: each measurement's own noise. Without it, training can put a latent that all of
    #: a modality's measurements show into every measurement's code instead of the modality's
    #: latents (on variant-digits development seed 15, z11's R^2 from modality 1's latents fell to
    #: 0.5 by epoch 3 while each code held 0.9 of it: results/benchmarks/crl_experiments.md,
    #: session 12). 0 disables it.
    code_independence: float = 0.0
    l1: float = 0.01
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 60
    full_batch: bool = False
    max_steps: int | None = None
    patience: int = 10
    val_fraction: float = 0.1
    learn_obs_var: bool = True
    #: posterior scale per row from the encoders (on top of a learned per-latent scale)
    amortised_sigma: bool = True
    #: warm start: for the first ``anchor_epochs`` epochs the modality latents are pulled (with a
    #: weight decaying linearly from ``anchor`` to 0) towards a linear ICA (FastICA) of that
    #: modality's measurements; the final objective is unchanged. 0 disables it.
    anchor: float = 0.0
    anchor_epochs: int = 20
    #: what the ICA warm start sees per modality: its measurements side by side (``concat``) or
    #: their average (``mean``, measurements of equal width only: averages out measurement noise)
    anchor_input: str = "concat"
    #: initialisations tried, chosen as ``restart_select`` says (the objective has several basins,
    #: e.g. a cause and the noise of its effect swapped; on variant digits the validation loss did
    #: not reliably pick the true one - see results/benchmarks/crl_experiments.md). 1 = no restarts.
    restarts: int = 1
    restart_epochs: int = 15
    #: how restarts choose: ``val_loss`` (short runs of ``restart_epochs``, the lowest validation
    #: loss continues) or ``crossmodal`` (every initialisation trained in full, the one whose latents
    #: keep the most information shared between modalities is kept: see
    #: :mod:`causaltraits.crl.selection`; needs two modalities with latents)
    restart_select: str = "val_loss"
    #: after training, refit each block of latents (shared; each modality's own) by an invertible
    #: map that maximises the part of the objective such a map changes: the structural-model
    #: prior's log-density minus ``refine_ima`` times the decoders' independent-mechanism contrast
    #: (the gap a diagonal posterior leaves). 1 is the ELBO's own weight; the default 10 leans on
    #: the independent-mechanism principle harder: chosen on variant-digits seeds 10 and 11
    #: (3,000 rows; not the benchmark's seeds), MCC after the refit 0.89 / 0.83 at weight 1,
    #: 0.92 / 0.98 at 10 (logistic noise); checked again with the mixture defaults: 0.94 / 0.98 at
    #: 1, 0.96 / 0.98 at 10. See :mod:`causaltraits.crl.refine`. With ``prior='scm'`` and
    #: ``combine='mean'`` only.
    refine: bool = True
    refine_ima: float = 10.0
    #: training rows the refit uses (a seeded subsample when there are more), and its L-BFGS
    #: iterations. 8,000 covers every training row of the 10,000-row benchmark: on variant-digits
    #: seeds 10-14 (not the benchmark's) MCC 0.970 against 0.942 with 3,000 rows, for about 45 s
    #: more (results/benchmarks/crl_experiments.md, session 3)
    refine_rows: int = 8000
    refine_iter: int = 1500
    #: the noise density of the prior during the refit: ``mixture`` (K = ``noise_components``
    #: Gaussians per latent, whatever the training used) or ``trained`` (the training's own). A
    #: super-Gaussian density such as the logistic prefers mixed coordinates when the true noise is
    #: sub-Gaussian (as a fixed-sign contrast does in ICA); the mixture can be either. On variant
    #: digits (uniform noise) see results/benchmarks/crl_experiments.md, session 3.
    refine_noise: str = "mixture"
    #: IMA weight of a last refit stage that continues from the ``refine_ima`` solution (None: no
    #: such stage). The heavy weight chooses between an effect and its own noise, where the prior is
    #: indifferent; inside that basin it also pulls the coordinates towards orthogonal decoder
    #: columns further than the ELBO's own weight 1 does. On variant-digits seeds 10-14 (not the
    #: benchmark's) a last stage at 1 raised MCC on every seed (mean 0.950 -> 0.954; the same
    #: iterations at 10: about half of that) for about 50 s more (crl_experiments.md, session 4).
    #: The validation check judges the maps of the first stage; the last stage runs only if they
    #: are kept, and is itself kept only if it lowers its own objective on the validation rows
    refine_ima_final: float | None = 1.0
    #: epochs of a deterministic fine-tune of copies of the decoders at the posterior means before
    #: their Jacobians are taken for the refit's IMA term (0: the trained decoders). Training feeds
    #: the decoders posterior samples, so each learns the observation averaged over its posterior,
    #: whose Jacobian is blurred; the IMA term needs the map at the means. The copies are used for
    #: the Jacobians only (early stopping on the validation rows, patience 5; skipped without
    #: validation rows); the model keeps its decoders. Off by default: with 50 epochs, refits of
    #: variant-digits seeds 10-14 gained on average (MCC 0.954 -> 0.972), all of it on seed 14,
    #: whose modality 2 it put back in order (0.848 -> 0.949); the benchmark's seeds 0-4 (two
    #: initialisations each) lost (0.929 -> 0.897), their modality 2 out of order with or without
    #: it. See results/benchmarks/crl_experiments.md, session 6
    refine_decoder_epochs: int = 0
    #: after the refit, correct each modality's content column (the one that shares the most with
    #: the other modalities) by a few terms of its block's other columns, chosen so that the rest of
    #: the block shares as little as possible with the other modalities given it: see
    #: :mod:`causaltraits.crl.content`. Needs two or more modalities with latents and no shared
    #: latents, and assumes one latent per modality carries what the modalities share (the summary
    #: says where the data disagree). Off by default; on for variant digits
    #: (``crl.baselines.CRL_DIGITS``): on ten fits of seeds 10-14, PC skeleton F1 0.832 -> 0.938
    #: (Fisher-z) and 0.837 -> 0.885 (GCM), MCC 0.911 -> 0.904 (results/benchmarks/crl_experiments.md,
    #: session 7)
    content_correction: bool = False
    #: after the content correction, restore each modality's effects that the model has replaced by
    #: their own noise: the other columns of a block are sheared by a function of its content column
    #: so that the data's Jacobian (local regressions of the measurements on the latents) has the
    #: content column's direction orthogonal to theirs; applied only where the content column is
    #: pure (it passes the content correction's permutation test at 5%) and the directions are far
    #: from orthogonal (:mod:`causaltraits.crl.effects`). Needs
    #: ``content_correction``. Off by default; on for variant digits: on ten fits of seeds 10-14 it
    #: acted on one block, whose effect was its own noise (z22's MCC 0.70 -> 0.995), and on no other
    #: (results/benchmarks/crl_experiments.md, session 8)
    restore_effects: bool = False
    #: Threads for the refit: the blocks' maps are computed concurrently (numba kernels without the
    #: GIL); the result is the same bits for any number
    refine_threads: int = 2
    dtype: str = "float32"
    #: BLAS threads during fit/transform (None: leave as is). One thread avoids the
    #: oversubscription that makes small products crawl on a shared machine.
    blas_threads: int | None = 1

    def check(self) -> None:
        if self.prior not in ("scm", "gaussian", "none"):
            raise ParameterError(f"prior must be scm, gaussian or none, got {self.prior!r}")
        if self.noise not in ("mixture", "logistic"):
            raise ParameterError(f"noise must be mixture or logistic, got {self.noise!r}")
        if (self.noise == "mixture" or self.refine_noise == "mixture") and self.noise_components < 1:
            raise ParameterError(f"noise_components must be >= 1, got {self.noise_components}")
        if self.combine not in ("mean", "independent"):
            raise ParameterError(f"combine must be mean or independent, got {self.combine!r}")
        if self.content_correction and (self.n_shared or sum(d > 0 for d in self.latent_dims) < 2):
            raise ParameterError("content_correction needs two or more modalities with latents and n_shared = 0")
        if self.restore_effects and not self.content_correction:
            raise ParameterError("restore_effects works on the content correction's blocks: "
                                 "it needs content_correction")
        if self.n_shared < 0 or any(d < 0 for d in self.latent_dims) or self.noise_dim < 0:
            raise ParameterError("latent, shared and noise dimensions must be >= 0")
        if self.n_shared + sum(self.latent_dims) == 0:
            raise ParameterError("the model needs at least one latent")
        if self.combine == "independent" and (self.stochastic or self.n_shared):
            raise ParameterError("combine='independent' is deterministic and has no shared latents")
        if self.anchor_input not in ("concat", "mean"):
            raise ParameterError(f"anchor_input must be concat or mean, got {self.anchor_input!r}")
        if self.restart_select not in ("val_loss", "crossmodal"):
            raise ParameterError(f"restart_select must be val_loss or crossmodal, got {self.restart_select!r}")
        if self.restart_select == "crossmodal" and sum(d > 0 for d in self.latent_dims) < 2:
            raise ParameterError("restart_select='crossmodal' needs two modalities with their own latents")
        if self.restarts < 1 or self.restart_epochs < 1:
            raise ParameterError(f"restarts and restart_epochs must be >= 1, got {self.restarts}, {self.restart_epochs}")
        if self.refine_ima_final is not None and not self.refine_ima_final >= 0:
            raise ParameterError(f"refine_ima_final must be >= 0 or None, got {self.refine_ima_final}")
        if self.refine_decoder_epochs < 0:
            raise ParameterError(f"refine_decoder_epochs must be >= 0, got {self.refine_decoder_epochs}")
        if self.refine_threads < 1:
            raise ParameterError(f"refine_threads must be >= 1, got {self.refine_threads}")
        if self.refine_ima < 0 or self.refine_rows < 10 or self.refine_iter < 1:
            raise ParameterError(f"refine_ima must be >= 0, refine_rows >= 10 and refine_iter >= 1, got "
                                 f"{self.refine_ima}, {self.refine_rows}, {self.refine_iter}")
        if self.refine_noise not in ("mixture", "trained"):
            raise ParameterError(f"refine_noise must be mixture or trained, got {self.refine_noise!r}")
        if not self.code_independence >= 0:
            raise ParameterError(f"code_independence must be >= 0, got {self.code_independence}")
        if not (0.0 <= self.val_fraction < 1.0):
            raise ParameterError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


def code_correlation_penalty(codes: Sequence[np.ndarray], weight: float,
                             eps: float = 1e-8) -> tuple[float, list[np.ndarray]]:
    """``weight`` times the sum of squared Pearson correlations between the columns of every pair
    of code matrices (n x c each) over the rows, and its gradient with respect to each matrix.

    With centred columns a, b and norms |a| = sqrt(a.a + eps): r = a.b / (|a| |b|) and
    dr/da = b / (|a| |b|) - r a / |a|^2 (mean-zero, so centring needs no extra term).
    """
    cen = [c - c.mean(axis=0) for c in (np.asarray(c, dtype=np.float64) for c in codes)]
    norms = [np.sqrt(np.sum(c * c, axis=0) + eps) for c in cen]
    grads = [np.zeros_like(c) for c in cen]
    loss = 0.0
    for i in range(len(cen)):
        for j in range(i + 1, len(cen)):
            nn = np.outer(norms[i], norms[j])
            R = (cen[i].T @ cen[j]) / nn
            R2 = R * R
            loss += weight * float(np.sum(R2))
            M = 2.0 * weight * R / nn
            grads[i] += cen[j] @ M.T - cen[i] * (2.0 * weight * np.sum(R2, axis=1) / norms[i] ** 2)
            grads[j] += cen[i] @ M - cen[j] * (2.0 * weight * np.sum(R2, axis=0) / norms[j] ** 2)
    return loss, grads


def _as_measurements(X: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    if not X or any(len(mod) == 0 for mod in X):
        raise DataError("CRL input: every modality needs at least one measurement")
    out = [[np.asarray(x, dtype=np.float64) for x in mod] for mod in X]
    n = out[0][0].shape[0]
    for m, mod in enumerate(out):
        for k, x in enumerate(mod):
            if x.ndim != 2 or x.shape[0] != n:
                raise DataError(f"CRL input: measurement {m}.{k} has shape {x.shape}; expected ({n}, d)")
            if not np.isfinite(x).all():
                raise DataError(f"CRL input: measurement {m}.{k} has missing or infinite values")
    return out


class MultiMeasurementCRL:
    """Multimodal multi-measurement CRL with a latent structural-model prior.

    Parameters
    ----------
    config : :class:`CRLConfig` (or keyword overrides of it)
    seed : seed of the one random generator

    Attributes (after ``fit``)
    --------------------------
    history_ : list of per-epoch dicts (train loss, validation loss, seconds)
    latent_names_ : names of the latents (``s1.., z<m>_<i>``)
    graph_weights_ : learned edge strengths (j -> i in ``[i, j]``)
    fit_seconds_ : wall time of ``fit``
    epochs_run_ : epochs trained over all initialisations (``history_`` holds the kept one's)
    restart_scores_, restart_chosen_ : with ``restarts > 1``, each initialisation's selection score
        (validation loss, or the cross-modal score) and the index of the one kept

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = [[rng.normal(size=(64, 5)), rng.normal(size=(64, 5))], [rng.normal(size=(64, 4))]]
    >>> model = MultiMeasurementCRL(CRLConfig(latent_dims=[1, 1], hidden=[8], epochs=2), seed=0)
    >>> model.fit(X).transform(X).shape
    (64, 2)
    """

    def __init__(self, config: CRLConfig | None = None, seed: int = 0, **overrides: Any):
        cfg = copy.deepcopy(config) if config is not None else CRLConfig()
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise ParameterError(f"unknown CRL option {k!r}")
            setattr(cfg, k, v)
        cfg.check()
        self.config = cfg
        self.seed = int(seed)
        self.dims_: list[list[int]] | None = None
        # the refit of the coordinates (set by fit / load; None and 0 without one)
        self.reparam_ = None
        self.refined_prior_: dict | None = None
        self.refine_summary_: dict | None = None
        self.refine_seconds_ = 0.0
        # the content correction after the refit (set by fit / load; empty without one)
        self.content_maps_: list = []
        # the effect restoration after it (set by fit / load; empty without one)
        self.effect_maps_: list = []

    # ------------------------------------------------------------------ structure
    @property
    def D(self) -> int:
        return self.config.n_shared + sum(self.config.latent_dims)

    def _build(self, dims: list[list[int]], rng: np.random.Generator) -> None:
        cfg = self.config
        if len(dims) != len(cfg.latent_dims):
            raise ParameterError(
                f"config has latent_dims for {len(cfg.latent_dims)} modalities, data has {len(dims)}")
        self.dims_ = dims
        self.dtype_ = np.dtype(cfg.dtype)
        S = cfg.n_shared
        # a noise code only where a modality has several measurements: with one measurement
        # the code and the modality latent would be interchangeable (and the code could absorb it)
        self.code_dims_ = [cfg.noise_dim if len(mod) > 1 else 0 for mod in dims]
        st = ParamStore(self.dtype_)
        self.enc_: list[list[MLP]] = []
        self.dec_: list[list[MLP]] = []
        for m, mod in enumerate(dims):
            L, c = cfg.latent_dims[m], self.code_dims_[m]
            encs, decs = [], []
            for k, d in enumerate(mod):
                n_out = S + L + c + (S + L if self._amortised else 0)
                encs.append(MLP(st, f"enc{m}.{k}", [d, *cfg.hidden, n_out], "elu", "linear"))
                decs.append(self._decoder(st, m, k, S + L + c, d))
            self.enc_.append(encs)
            self.dec_.append(decs)
        D = self.D
        st.declare("log_sigma", (D,), "const", -1.0)
        n_meas = sum(len(mod) for mod in dims)
        st.declare("log_sigma_code", (n_meas, max(max(self.code_dims_), 1)), "const", -1.0)
        st.declare("log_tau", (n_meas,), "zeros")
        st.declare("scm.W", (D, D), "zeros")
        st.declare("scm.V", (D, D), "zeros")
        st.declare("scm.U", (D, D), "zeros")
        st.declare("scm.b", (D,), "zeros")
        st.declare("scm.log_s", (D,), "const", -0.5)
        if cfg.noise == "mixture":
            K = cfg.noise_components
            for nm in ("a", "mu", "lsd"):
                st.declare(f"scm.mix_{nm}", (D, K), "zeros")
        st.allocate(rng)
        if cfg.noise == "mixture":
            a0, mu0, lsd0 = _scm.mixture_init(D, cfg.noise_components)
            st["scm.mix_a"][...], st["scm.mix_mu"][...], st["scm.mix_lsd"][...] = a0, mu0, lsd0
        self.store_ = st
        self.mask_ = np.tril(np.ones((D, D), dtype=np.bool_), -1)
        names = [f"s{i + 1}" for i in range(S)]
        for m, L in enumerate(cfg.latent_dims):
            names += [f"z{m + 1}_{i + 1}" for i in range(L)]
        self.latent_names_ = names

    def _decoder(self, st: ParamStore, m: int, k: int, n_in: int, d: int) -> MLP:
        """Measurement ``k`` of modality ``m``'s decoder (``n_in`` inputs, ``d`` outputs) in ``st``."""
        return MLP(st, f"dec{m}.{k}", [n_in, *reversed(self.config.hidden), d], "leaky", "linear")

    @property
    def _amortised(self) -> bool:
        return self.config.amortised_sigma and self.config.stochastic and self.config.combine == "mean"

    def _latent_slices(self) -> list[slice]:
        """Slice of modality m's own latents inside the full latent vector."""
        S = self.config.n_shared
        out, off = [], S
        for L in self.config.latent_dims:
            out.append(slice(off, off + L))
            off += L
        return out

    # ------------------------------------------------------------------ preprocessing
    def _fit_scaler(self, X: list[list[np.ndarray]]) -> None:
        self.means_ = [[x.mean(axis=0) for x in mod] for mod in X]
        self.scales_ = [[float(max(np.std(x - mu), 1e-8)) for x, mu in zip(mod, mus)]
                        for mod, mus in zip(X, self.means_)]

    def _scale(self, X: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        return [[np.ascontiguousarray((x - mu) / s, dtype=self.dtype_) for x, mu, s in zip(mod, mus, ss)]
                for mod, mus, ss in zip(X, self.means_, self.scales_)]

    # ------------------------------------------------------------------ forward / backward
    def _encode(self, Xb: list[list[np.ndarray]], keep: bool, with_sigma: bool = False):
        """Encoder outputs per measurement and the combined latent means (n x D).

        With ``with_sigma`` also the per-row posterior log-scales (n x D, float64): the learned
        per-latent scale plus, when amortised, the mean of the measurements' offsets.
        """
        cfg = self.config
        S = cfg.n_shared
        outs = [[enc.forward(x, keep) for enc, x in zip(encs, mod)] for encs, mod in zip(self.enc_, Xb)]
        n = Xb[0][0].shape[0]
        mu = np.zeros((n, self.D), dtype=self.dtype_)
        ls = np.zeros((n, self.D)) + self.store_["log_sigma"].astype(np.float64)[None, :]
        sl = self._latent_slices()
        n_meas = sum(len(m) for m in outs)
        for m, mod in enumerate(outs):
            L, c = cfg.latent_dims[m], self.code_dims_[m]
            if cfg.combine == "mean":
                for o in mod:
                    mu[:, sl[m]] += o[:, S:S + L] / len(mod)
                    if S:
                        mu[:, :S] += o[:, :S] / n_meas
                    if self._amortised and with_sigma:
                        off = S + L + c
                        ls[:, sl[m]] += o[:, off + S:off + S + L] / len(mod)
                        if S:
                            ls[:, :S] += o[:, off:off + S] / n_meas
            else:
                mu[:, sl[m]] = mod[0][:, :L]
        if with_sigma:
            return outs, mu, ls
        return outs, mu

    def _loss_and_grad(self, Xb: list[list[np.ndarray]], rng: np.random.Generator | None,
                       need_grad: bool = True, anchor: tuple[np.ndarray, float] | None = None) -> float:
        """Mean loss per row over the batch ``Xb``; fills ``store_.grad`` if ``need_grad``.

        ``rng=None`` evaluates deterministically (posterior means, no sampling).
        """
        cfg, st = self.config, self.store_
        S, D = cfg.n_shared, self.D
        n = Xb[0][0].shape[0]
        inv_n = 1.0 / n
        dt = self.dtype_
        if need_grad:
            st.grad[...] = 0.0
        G = st.grads
        outs, mu, log_sig = self._encode(Xb, keep=need_grad, with_sigma=True)
        sig = np.exp(log_sig)  # n x D
        dls = np.zeros((n, D))  # d loss / d (per-row log sigma)
        sample = cfg.stochastic and rng is not None
        if sample:
            e = rng.standard_normal((n, D)).astype(dt)
            z = mu + (sig.astype(dt) * e)
        else:
            z = mu
        loss = 0.0
        dz = np.zeros((n, D), dtype=np.float64) if need_grad else None
        sl = self._latent_slices()
        douts = []
        mi = 0  # flat measurement index
        for m, mod in enumerate(Xb):
            L, c = cfg.latent_dims[m], self.code_dims_[m]
            dmod = []
            for k, x in enumerate(mod):
                o = outs[m][k]
                # decoder input: [s, z_m, c_mk]
                if cfg.combine == "mean":
                    zin = np.concatenate([z[:, :S], z[:, sl[m]]], axis=1)
                else:
                    zin = o[:, :L]
                code_mu = o[:, S + L:S + L + c]
                ls_c = st["log_sigma_code"][mi, :c].astype(np.float64)
                if c:
                    if sample:
                        ec = rng.standard_normal((n, c)).astype(dt)
                        code = code_mu + np.exp(ls_c).astype(dt) * ec
                    else:
                        code = code_mu
                    inp = np.ascontiguousarray(np.concatenate([zin, code], axis=1))
                else:
                    inp = np.ascontiguousarray(zin)
                xhat = self.dec_[m][k].forward(inp, keep=need_grad)
                r = xhat - x
                lt = float(st["log_tau"][mi]) if cfg.learn_obs_var else 0.0
                prec = np.exp(-2.0 * lt)
                ss = float(np.sum(r.astype(np.float64) ** 2)) * inv_n
                d = x.shape[1]
                loss += 0.5 * prec * ss + d * lt
                do = np.zeros_like(o) if need_grad else None
                if c:
                    # KL(q(c) || N(0, I)) for the noise code (analytic)
                    cm = code_mu.astype(np.float64)
                    if cfg.stochastic:
                        loss += cfg.beta * (0.5 * float(np.sum(cm ** 2)) * inv_n
                                            + float(np.sum(0.5 * np.exp(2 * ls_c) - 0.5 - ls_c)))
                    else:
                        loss += cfg.beta * 0.5 * float(np.sum(cm ** 2)) * inv_n
                if need_grad:
                    if cfg.learn_obs_var:
                        G["log_tau"][mi] += -prec * ss + d
                    dx = (r * np.asarray(prec * inv_n, dtype=dt)).astype(dt)
                    dinp = self.dec_[m][k].backward(dx).astype(np.float64)
                    dzin = dinp[:, :zin.shape[1]]
                    if cfg.combine == "mean":
                        dz[:, :S] += dzin[:, :S]
                        dz[:, sl[m]] += dzin[:, S:]
                    else:
                        do[:, :L] += dzin
                    if c:
                        dcode = dinp[:, zin.shape[1]:]
                        do[:, S + L:S + L + c] += dcode + cfg.beta * cm * inv_n
                        if sample:
                            G["log_sigma_code"][mi, :c] += np.sum(dcode * ec, axis=0) * np.exp(ls_c)
                        if cfg.stochastic:
                            G["log_sigma_code"][mi, :c] += cfg.beta * (np.exp(2 * ls_c) - 1.0)
                dmod.append(do)
                mi += 1
            douts.append(dmod)

        # consistency of the measurements of one modality (and of the shared latents)
        if cfg.combine == "mean" and cfg.tie > 0:
            prec_z = np.exp(-2.0 * log_sig)
            n_meas = sum(len(mod) for mod in outs)
            for m, mod in enumerate(outs):
                L = cfg.latent_dims[m]
                cols = [*range(S), *range(sl[m].start, sl[m].stop)]
                pz = prec_z[:, cols]
                for k, o in enumerate(mod):
                    own = o[:, :S + L].astype(np.float64)
                    dev = own - mu[:, cols].astype(np.float64)
                    if len(mod) == 1:
                        dev[:, S:] = 0.0  # a lone measurement is its modality's latent
                    if S and n_meas == 1:
                        dev[:, :S] = 0.0
                    w = cfg.tie * inv_n
                    loss += 0.5 * w * float(np.sum(dev ** 2 * pz))
                    if need_grad:
                        douts[m][k][:, :S + L] += w * dev * pz
                        dls[:, cols] += -w * dev ** 2 * pz

        # the noise codes of one modality's measurements are independent of each other
        if cfg.code_independence > 0:
            for m, mod in enumerate(outs):
                L, c = cfg.latent_dims[m], self.code_dims_[m]
                if c and len(mod) > 1:
                    codes = [o[:, S + L:S + L + c] for o in mod]
                    pen, dcodes = code_correlation_penalty(codes, cfg.code_independence)
                    loss += pen
                    if need_grad:
                        for k, dc in enumerate(dcodes):
                            douts[m][k][:, S + L:S + L + c] += dc

        # prior over the latents
        if cfg.prior == "scm":
            W, V = st["scm.W"].astype(np.float64), st["scm.V"].astype(np.float64)
            U = st["scm.U"].astype(np.float64)
            b, ls = st["scm.b"].astype(np.float64), st["scm.log_s"].astype(np.float64)
            z64 = z.astype(np.float64)
            dW = np.zeros((D, D)); dV = np.zeros((D, D)); dU = np.zeros((D, D)); db = np.zeros(D); dlog_s = np.zeros(D)
            ddz = np.zeros((n, D))
            if cfg.noise == "mixture":
                ma, mm, ml = (st[f"scm.mix_{k}"].astype(np.float64) for k in ("a", "mu", "lsd"))
                dma, dmm, dml = np.zeros_like(ma), np.zeros_like(mm), np.zeros_like(ml)
                loss += _scm.scm_nll_backward_mix(z64, W, V, U, b, ls, self.mask_, ma, mm, ml, cfg.beta * inv_n,
                                                  ddz, dW, dV, dU, db, dlog_s, dma, dmm, dml)
            else:
                loss += _scm.scm_nll_backward(z64, W, V, U, b, ls, self.mask_, cfg.beta * inv_n,
                                              ddz, dW, dV, dU, db, dlog_s)
            loss += cfg.l1 * float(np.sum(np.abs(W[self.mask_])) + np.sum(np.abs(V[self.mask_]))
                                  + np.sum(np.abs(U[self.mask_])))
            if cfg.stochastic:
                loss -= cfg.beta * float(np.sum(log_sig)) * inv_n  # posterior entropy (constant dropped)
            if need_grad:
                dz += ddz
                G["scm.W"] += dW + cfg.l1 * np.sign(W) * self.mask_
                G["scm.V"] += dV + cfg.l1 * np.sign(V) * self.mask_
                G["scm.U"] += dU + cfg.l1 * np.sign(U) * self.mask_
                G["scm.b"] += db
                G["scm.log_s"] += dlog_s
                if cfg.noise == "mixture":
                    G["scm.mix_a"] += dma
                    G["scm.mix_mu"] += dmm
                    G["scm.mix_lsd"] += dml
                if cfg.stochastic:
                    dls += -cfg.beta * inv_n
        elif cfg.prior == "gaussian":
            mu64 = mu.astype(np.float64)
            if cfg.stochastic:
                loss += cfg.beta * (0.5 * float(np.sum(mu64 ** 2))
                                    + float(np.sum(0.5 * sig ** 2 - 0.5 - log_sig))) * inv_n
                if need_grad:
                    dls += cfg.beta * (sig ** 2 - 1.0) * inv_n
            else:
                loss += cfg.beta * 0.5 * float(np.sum(mu64 ** 2)) * inv_n
            if need_grad:
                # the analytic KL is a function of mu, not of the sample: add it to dmu via dz below
                dmu_prior = cfg.beta * mu64 * inv_n
        if anchor is not None and anchor[1] > 0:
            A, w_anchor = anchor
            a_cols = ~np.isnan(A[0])
            a_dev = mu[:, a_cols].astype(np.float64) - A[:, a_cols]
            loss += 0.5 * w_anchor * float(np.sum(a_dev ** 2)) * inv_n
        if not need_grad:
            return loss

        # from z to mu and log_sigma (reparameterisation)
        if sample:
            dls += dz * e * sig
        if cfg.stochastic or cfg.tie > 0:
            G["log_sigma"] += dls.sum(axis=0)
        dmu = dz
        if cfg.prior == "gaussian":
            dmu = dmu + dmu_prior
        if anchor is not None and anchor[1] > 0:
            dmu = dmu.copy()
            dmu[:, a_cols] += w_anchor * a_dev * inv_n
        for m, mod in enumerate(outs):
            L = cfg.latent_dims[m]
            for k, o in enumerate(mod):
                do = douts[m][k]
                if cfg.combine == "mean":
                    do[:, S:S + L] += dmu[:, sl[m]] / len(mod)
                    if S:
                        do[:, :S] += dmu[:, :S] / sum(len(q) for q in outs)
                    if self._amortised:
                        off = S + L + self.code_dims_[m]
                        do[:, off + S:off + S + L] += dls[:, sl[m]] / len(mod)
                        if S:
                            do[:, off:off + S] += dls[:, :S] / sum(len(q) for q in outs)
                elif k == 0:
                    do[:, :L] += dmu[:, sl[m]]
                self.enc_[m][k].backward(np.ascontiguousarray(do, dtype=dt), need_dx=False)
        return loss

    # ------------------------------------------------------------------ public API
    def _threads(self):
        from contextlib import nullcontext

        if self.config.blas_threads is None:
            return nullcontext()
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=self.config.blas_threads, user_api="blas")

    def fit(self, X: Sequence[Sequence[np.ndarray]], progress: bool = False,
            callback: Callable[[dict], None] | None = None) -> "MultiMeasurementCRL":
        """Train on measurements ``X[m][k]`` (rows aligned); returns ``self``."""
        with self._threads():
            return self._fit(X, progress, callback)

    def _fit(self, X, progress, callback) -> "MultiMeasurementCRL":
        cfg = self.config
        X = _as_measurements(X)
        rng = np.random.default_rng(self.seed)
        dims = [[x.shape[1] for x in mod] for mod in X]
        # with restarts every candidate initialisation draws from its own child generator (drawn
        # from ``rng`` first, so the run stays a function of the one seed)
        init_rngs = ([np.random.default_rng(int(rng.integers(2**63 - 1))) for _ in range(cfg.restarts)]
                     if cfg.restarts > 1 else [rng])
        self._build(dims, init_rngs[0])
        self._fit_scaler(X)
        Xs = self._scale(X)
        n = Xs[0][0].shape[0]
        perm = rng.permutation(n)
        n_val = int(round(cfg.val_fraction * n)) if cfg.val_fraction > 0 else 0
        if n - n_val < 2:
            raise DataError(f"CRL input: {n} rows are too few to train on")
        val_idx, tr_idx = np.sort(perm[:n_val]), perm[n_val:]
        Xval = [[x[val_idx] for x in mod] for mod in Xs] if n_val else None
        anchors = self._ica_anchors(Xs, tr_idx, rng) if cfg.anchor > 0 else None
        bs = len(tr_idx) if cfg.full_batch else min(cfg.batch_size, len(tr_idx))
        self.history_ = []
        self.epochs_run_ = 0  # every epoch trained, over all initialisations (history_: the kept one's)
        self.restart_scores_: list[float] = []
        t0 = time.perf_counter()
        bar = None
        full = cfg.restarts > 1 and cfg.restart_select == "crossmodal"
        first = (cfg.epochs if full else min(cfg.restart_epochs, cfg.epochs)) if cfg.restarts > 1 else 0
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=cfg.epochs + first * (len(init_rngs) - 1), desc="crl fit", unit="epoch", leave=False)
        try:
            if cfg.restarts > 1:
                # several initialisations, each trained ``first`` epochs (in full with
                # ``crossmodal``); keep the one with the lowest validation loss (model selection on
                # the validation part of train only), or with ``crossmodal`` the one whose latents
                # share the most information across modalities (held-out, label-free; crl.selection)
                cands = []
                for r, irng in enumerate(init_rngs):
                    if r:
                        self._build(dims, irng)
                    state = self._new_state()
                    hist = self._train_epochs(range(first), state, Xs, tr_idx, Xval, anchors, bs, rng,
                                              bar, callback)
                    if full:
                        if np.isfinite(state["best"][0]):
                            self.store_.theta[...] = state["best"][1]
                        self.restart_scores_.append(self._crossmodal_score(Xs, tr_idx, val_idx))
                    else:
                        self.restart_scores_.append(float(state["best"][0]))
                    cands.append((state, hist))
                self.restart_chosen_ = int((np.argmax if full else np.argmin)(self.restart_scores_))
                state, self.history_ = cands[self.restart_chosen_]
                self.store_.theta[...] = state["theta"]
            else:
                state = self._new_state()
            if not state["stopped"]:
                self.history_ += self._train_epochs(range(first, cfg.epochs), state, Xs, tr_idx, Xval, anchors,
                                                    bs, rng, bar, callback)
        finally:
            if bar is not None:
                bar.close()
        best = state["best"]
        if np.isfinite(best[0]):
            self.store_.theta[...] = best[1]
        self.best_epoch_ = best[2]
        self.steps_ = state["steps"]
        self.reparam_ = None
        self.refine_summary_ = None
        self.refine_seconds_ = 0.0
        if cfg.prior == "scm" and cfg.refine and cfg.combine == "mean":
            t_refine = time.perf_counter()
            self._refine(Xs, tr_idx, val_idx, rng, progress)
            self.refine_seconds_ = time.perf_counter() - t_refine
        self.content_maps_ = []
        self.effect_maps_ = []
        if cfg.content_correction:
            t_content = time.perf_counter()
            rows = np.sort(tr_idx[:cfg.refine_rows])
            Z = self._fit_content(Xs, rows)
            if cfg.restore_effects:
                self._fit_effects(Xs, rows, Z)
            # refine_seconds_ is the time after training: the refit, the correction and the restoration
            self.refine_seconds_ += time.perf_counter() - t_content
        self.fit_seconds_ = time.perf_counter() - t0
        self.graph_weights_ = self._graph_strengths(Xs)
        return self

    def _crossmodal_score(self, Xs, tr_idx: np.ndarray, val_idx: np.ndarray) -> float:
        """The current parameters' cross-modal score (:func:`~causaltraits.crl.selection.crossmodal_score`
        of the modalities' own latents): fitted on up to 4,000 training rows, measured on the
        validation rows (on the same training rows when there are none)."""
        from causaltraits.crl.selection import crossmodal_score

        fit_rows = np.sort(tr_idx[:4000])
        ev_rows = val_idx if len(val_idx) else fit_rows
        Z_fit = self._encode([[x[fit_rows] for x in mod] for mod in Xs], keep=False)[1].astype(np.float64)
        Z_ev = self._encode([[x[ev_rows] for x in mod] for mod in Xs], keep=False)[1].astype(np.float64)
        return crossmodal_score(Z_fit, Z_ev, self._own_blocks())

    def restarts_summary(self) -> dict | None:
        """With ``restarts > 1``: how the initialisation was chosen, each one's score, the index of
        the one kept and the epochs trained over all of them (None with one initialisation)."""
        if self.config.restarts < 2:
            return None
        return {"select": self.config.restart_select, "scores": self.restart_scores_,
                "chosen": self.restart_chosen_, "epochs_trained": self.epochs_run_}

    def _new_state(self) -> dict:
        """Optimiser and early-stopping state of one training run from the current parameters."""
        return {"opt": Adam(self.store_.theta.size, self.dtype_, lr=self.config.lr), "steps": 0,
                "best": (np.inf, self.store_.theta.copy(), 0), "stopped": False, "theta": None}

    def _train_epochs(self, epochs, state, Xs, tr_idx, Xval, anchors, bs, rng, bar, callback) -> list[dict]:
        """Run the given epochs of mini-batch Adam; updates ``state`` (best parameters, steps)."""
        cfg = self.config
        opt = state["opt"]
        history = []
        for epoch in epochs:
            te = time.perf_counter()
            order = tr_idx[rng.permutation(len(tr_idx))]
            tot, cnt = 0.0, 0
            for start in range(0, len(order) - bs + 1 if len(order) >= bs else 1, bs):
                idx = np.sort(order[start:start + bs])
                Xb = [[x[idx] for x in mod] for mod in Xs]
                anc = None
                if anchors is not None and epoch < cfg.anchor_epochs:
                    anc = (anchors[idx], cfg.anchor * (1.0 - epoch / cfg.anchor_epochs))
                loss = self._loss_and_grad(Xb, rng, anchor=anc)
                opt.step(self.store_.theta, self.store_.grad)
                tot += loss * len(idx)
                cnt += len(idx)
                state["steps"] += 1
                if cfg.max_steps is not None and state["steps"] >= cfg.max_steps:
                    break
            val = self._loss_and_grad(Xval, None, need_grad=False) if Xval is not None else tot / cnt
            rec = {"epoch": epoch + 1, "train_loss": tot / max(cnt, 1), "val_loss": float(val),
                   "seconds": time.perf_counter() - te}
            history.append(rec)
            self.epochs_run_ += 1
            if callback is not None:
                callback(rec)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(val=f"{val:.4g}")
            best = state["best"]
            if not np.isfinite(val):
                state["stopped"] = True
                break
            if val < best[0]:
                state["best"] = (val, self.store_.theta.copy(), epoch + 1)
            elif epoch + 1 - best[2] >= cfg.patience:
                state["stopped"] = True
                break
            if cfg.max_steps is not None and state["steps"] >= cfg.max_steps:
                state["stopped"] = True
                break
        state["theta"] = self.store_.theta.copy()
        return history

    def _ica_anchors(self, Xs: list[list[np.ndarray]], tr_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Standardised FastICA components of each modality (n x D; NaN columns for shared latents)."""
        import warnings

        from sklearn.decomposition import FastICA

        n = Xs[0][0].shape[0]
        A = np.full((n, self.D), np.nan)
        for m, (mod, sl) in enumerate(zip(Xs, self._latent_slices())):
            L = self.config.latent_dims[m]
            if L == 0:
                continue
            if self.config.anchor_input == "mean" and len({x.shape[1] for x in mod}) == 1:
                Xm = np.mean([x.astype(np.float64) for x in mod], axis=0)
            else:
                Xm = np.concatenate([x.astype(np.float64) for x in mod], axis=1)
            ica = FastICA(n_components=L, whiten="unit-variance", max_iter=500,
                          random_state=int(rng.integers(2**31 - 1)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence warnings: the anchor is only a start
                ica.fit(Xm[tr_idx])
            S = ica.transform(Xm)
            A[:, sl] = (S - S[tr_idx].mean(0)) / np.maximum(S[tr_idx].std(0), 1e-12)
        return A

    def _check_fitted(self) -> None:
        if self.dims_ is None:
            raise ParameterError("the CRL model is not fitted yet")

    def transform(self, X: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        """Latent estimates (posterior means), ``n x D`` in the order of ``latent_names_``."""
        self._check_fitted()
        with self._threads():
            return self._transform(X)

    def _transform(self, X) -> np.ndarray:
        X = _as_measurements(X)
        got = [[x.shape[1] for x in mod] for mod in X]
        if got != self.dims_:
            raise DataError(f"CRL transform: measurement widths {got} differ from the fitted {self.dims_}")
        return self._transform_scaled(self._scale(X))

    def _transform_scaled(self, Xs) -> np.ndarray:
        """``transform`` of measurements already scaled."""
        out = []
        n = Xs[0][0].shape[0]
        for start in range(0, n, 4096):
            Xb = [[x[start:start + 4096] for x in mod] for mod in Xs]
            out.append(self._encode(Xb, keep=False)[1].astype(np.float64))
        Z = np.concatenate(out, axis=0) if out else np.zeros((0, self.D))
        return self._coordinates(Z)

    def _coordinates(self, Z: np.ndarray) -> np.ndarray:
        """Posterior means -> the model's latents: the refit's maps, the content correction, then the
        effect restoration."""
        if not len(Z):
            return Z
        if self.reparam_ is not None:
            Z = self.reparam_.apply(Z)
        if self.content_maps_:
            from causaltraits.crl.content import apply_content_maps

            Z = apply_content_maps(self.content_maps_, Z)
        if self.effect_maps_:
            from causaltraits.crl.effects import apply_effect_maps

            Z = apply_effect_maps(self.effect_maps_, Z)
        return Z

    def _fit_content(self, Xs, rows: np.ndarray) -> np.ndarray:
        """Fit the content correction (:mod:`causaltraits.crl.content`) on the training ``rows`` (up
        to ``refine_rows``), in the refitted coordinates; returns those rows' corrected latents."""
        from causaltraits.crl.content import apply_content_maps, fit_content_maps

        # ``_fit`` has emptied content_maps_ and effect_maps_, so these are the refit's latents
        Z = self._transform_scaled([[x[rows] for x in mod] for mod in Xs])
        self.content_maps_ = fit_content_maps(Z, self._own_blocks(), seed=self.seed)
        return apply_content_maps(self.content_maps_, Z)

    def _fit_effects(self, Xs, rows: np.ndarray, Z: np.ndarray) -> None:
        """Fit the effect restoration (:mod:`causaltraits.crl.effects`) on the content correction's
        ``rows`` and their corrected latents ``Z``, with each modality's measurements side by side."""
        from causaltraits.crl.effects import fit_effect_maps

        mods = [m for m, sl in enumerate(self._latent_slices()) if sl.stop > sl.start]
        measurements = [np.hstack([x[rows] for x in Xs[m]]) for m in mods]
        self.effect_maps_ = fit_effect_maps(Z, self._own_blocks(), measurements, self.content_maps_)

    def effect_summary(self) -> list[dict] | None:
        """Per block: the content column, the columns restored, the gain, whether the map was applied
        (None when the restoration is off)."""
        if not self.config.restore_effects:
            return None
        return [m.summary(self.latent_names_) for m in self.effect_maps_]

    def content_summary(self) -> list[dict] | None:
        """Per corrected column: its name, the canonical correlation before and after, the residual
        correlations with the permutation test's level and p-value, the criterion kept and the
        coefficients (:meth:`causaltraits.crl.content.ContentMap.summary`; None when the
        correction is off)."""
        if not self.config.content_correction:
            return None
        return [m.summary(self.latent_names_) for m in self.content_maps_]

    # ------------------------------------------------------------------ refit of the coordinates
    def _blocks(self) -> list[tuple[int, int]]:
        S = self.config.n_shared
        return ([(0, S)] if S else []) + self._own_blocks()

    def _own_blocks(self) -> list[tuple[int, int]]:
        """[start, stop) of each modality's own latents (modalities without any left out)."""
        return [(sl.start, sl.stop) for sl in self._latent_slices() if sl.stop > sl.start]

    def _decoder_inputs(self, mu: np.ndarray, outs) -> list[list[np.ndarray]]:
        """Each decoder's input at the posterior means: its latents and its noise code's mean."""
        S = self.config.n_shared
        sl = self._latent_slices()
        out = []
        for m in range(len(self.dims_)):
            L, c = self.config.latent_dims[m], self.code_dims_[m]
            cols = [*range(S), *range(sl[m].start, sl[m].stop)]
            out.append([np.ascontiguousarray(np.concatenate([mu[:, cols], o[:, S + L:S + L + c]], axis=1),
                                             dtype=self.dtype_) for o in outs[m]])
        return out

    def _sharpened_decoders(self, Xb, inputs, Xv, inputs_v, rng: np.random.Generator):
        """Copies of the decoders fine-tuned deterministically at the posterior means (see
        ``CRLConfig.refine_decoder_epochs``): mini-batch Adam on the summed squared error of every
        measurement, early stopping on the validation rows (patience 5). Returns the decoders."""
        cfg = self.config
        st = ParamStore(self.dtype_)
        decs = [[self._decoder(st, m, k, inputs[m][k].shape[1], x.shape[1]) for k, x in enumerate(mod)]
                for m, mod in enumerate(Xb)]
        st.allocate(np.random.default_rng(0))
        for name in st.views:
            st.views[name][...] = self.store_[name]
        pairs = [(decs[m][k], inputs[m][k], Xb[m][k], inputs_v[m][k], Xv[m][k])
                 for m in range(len(Xb)) for k in range(len(Xb[m]))]

        def val_error() -> float:
            return sum(float(np.sum((d.forward(iv, keep=False) - xv).astype(np.float64) ** 2)) for d, _, _, iv, xv in pairs)

        opt = Adam(st.theta.size, self.dtype_, lr=cfg.lr)
        n = inputs[0][0].shape[0]
        bs = min(cfg.batch_size, n)
        best, best_theta, since = val_error(), st.theta.copy(), 0
        for _ in range(cfg.refine_decoder_epochs):
            order = rng.permutation(n)
            for start in range(0, n - bs + 1, bs):
                idx = np.sort(order[start:start + bs])
                st.grad[...] = 0.0
                for d, inp, x, _, _ in pairs:
                    r = d.forward(inp[idx]) - x[idx]
                    d.backward((r * np.asarray(1.0 / len(idx), dtype=self.dtype_)).astype(self.dtype_), need_dx=False)
                opt.step(st.theta, st.grad)
            err = val_error()
            if err < best:
                best, best_theta, since = err, st.theta.copy(), 0
            else:
                since += 1
                if since >= 5:
                    break
        st.theta[...] = best_theta
        return decs

    def _decoder_grams(self, Xb: list[list[np.ndarray]], mu: np.ndarray, outs, decs=None) -> list[np.ndarray]:
        """Per block, the noise-precision-weighted Gram matrix of every decoder's Jacobian with
        respect to the block's latents at the posterior means (central differences); ``decs``:
        decoders to use instead of the model's (the sharpened copies)."""
        cfg, st = self.config, self.store_
        decs = self.dec_ if decs is None else decs
        S = cfg.n_shared
        n = mu.shape[0]
        blocks = self._blocks()
        grams = [np.zeros((n, b - a, b - a)) for a, b in blocks]
        steps = 1e-2 * np.maximum(mu.astype(np.float64).std(axis=0), 1e-6)
        sl = self._latent_slices()
        inputs = self._decoder_inputs(mu, outs)
        mi = 0
        for m, mod in enumerate(Xb):
            L = cfg.latent_dims[m]
            cols = [*range(S), *range(sl[m].start, sl[m].stop)]
            for k in range(len(mod)):
                inp = inputs[m][k]
                J = np.empty((n, self.dims_[m][k], len(cols)))
                for j, col in enumerate(cols):
                    up, dn = inp.copy(), inp.copy()
                    up[:, j] += steps[col]
                    dn[:, j] -= steps[col]
                    J[:, :, j] = (decs[m][k].forward(up, keep=False).astype(np.float64)
                                  - decs[m][k].forward(dn, keep=False)) / (2 * steps[col])
                prec = float(np.exp(-2.0 * st["log_tau"][mi])) if cfg.learn_obs_var else 1.0
                g = prec * np.einsum("rdi,rdj->rij", J, J)
                if S:
                    grams[0] += g[:, :S, :S]
                if L:
                    grams[blocks.index((sl[m].start, sl[m].stop))] += g[:, S:, S:]
                mi += 1
        return grams

    def _refine(self, Xs, tr_idx: np.ndarray, val_idx: np.ndarray, rng: np.random.Generator,
                progress: bool = False) -> None:
        """Refit the latent coordinates after training (see :mod:`causaltraits.crl.refine`)."""
        from causaltraits.crl import refine as _refine

        cfg, st = self.config, self.store_
        rows = np.sort(rng.choice(tr_idx, size=min(len(tr_idx), cfg.refine_rows), replace=False))
        Xb = [[x[rows] for x in mod] for mod in Xs]
        outs, mu = self._encode(Xb, keep=False)
        z = mu.astype(np.float64)
        z_val = val_grams = decs = None
        if len(val_idx):
            Xv = [[x[val_idx[:cfg.refine_rows]] for x in mod] for mod in Xs]
            outs_v, mu_v = self._encode(Xv, keep=False)
            z_val = mu_v.astype(np.float64)
            if cfg.refine_ima > 0 and cfg.refine_decoder_epochs > 0:
                decs = self._sharpened_decoders(Xb, self._decoder_inputs(mu, outs), Xv,
                                                self._decoder_inputs(mu_v, outs_v), rng)
            val_grams = self._decoder_grams(Xv, mu_v, outs_v, decs) if cfg.refine_ima > 0 else None
        grams = self._decoder_grams(Xb, mu, outs, decs) if cfg.refine_ima > 0 else None
        prior = {k: st[f"scm.{k}"].astype(np.float64) for k in ("W", "V", "U", "b", "log_s")}
        if cfg.noise == "mixture":
            prior.update({k: st[f"scm.mix_{k}"].astype(np.float64) for k in ("a", "mu", "lsd")})
        elif cfg.refine_noise == "mixture":
            prior.update(zip(("a", "mu", "lsd"), _scm.mixture_init(self.D, cfg.noise_components)))
        rep, new_prior, summary = _refine.refine(z, self._blocks(), prior, self.mask_, rng, z_val=z_val,
                                                 grams=grams, ima=cfg.refine_ima, max_iter=cfg.refine_iter,
                                                 screen_iter=max(1, cfg.refine_iter // 4), val_grams=val_grams,
                                                 progress=progress, ima_final=cfg.refine_ima_final,
                                                 threads=cfg.refine_threads)
        self.reparam_ = rep
        self.refined_prior_ = new_prior
        self.refine_summary_ = summary

    def _graph_strengths(self, Xs: list[list[np.ndarray]]) -> np.ndarray:
        if self.config.prior != "scm":
            return np.zeros((self.D, self.D))
        n = Xs[0][0].shape[0]
        take = slice(0, min(n, 4096))
        z = self._encode([[x[take] for x in mod] for mod in Xs], keep=False)[1].astype(np.float64)
        if self.reparam_ is not None:
            p = self.refined_prior_
            return _scm.strength(p["W"], p["V"], p["log_s"], self.mask_, self.reparam_.apply(z), U=p["U"])
        st = self.store_
        return _scm.strength(st["scm.W"].astype(np.float64), st["scm.V"].astype(np.float64),
                             st["scm.log_s"].astype(np.float64), self.mask_, z, U=st["scm.U"].astype(np.float64))

    def learned_graph(self, threshold: float = 0.2):
        """The learned latent graph: edge j -> i where the strength exceeds ``threshold``."""
        from causaltraits.discovery.graph import Edge, Graph

        self._check_fitted()
        S = self.graph_weights_
        names = self.latent_names_
        edges = [Edge(names[j], names[i], "-->") for i in range(len(names)) for j in range(i)
                 if S[i, j] > threshold]
        return Graph(names, edges)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``<path>.npz`` (arrays) and ``<path>.json`` (configuration); no pickle."""
        from causaltraits.runs import atomic_path, write_json

        self._check_fitted()
        path = Path(path)
        arrays: dict[str, np.ndarray] = {"theta": self.store_.theta, "graph_weights": self.graph_weights_}
        for m, mod in enumerate(self.means_):
            for k, mu in enumerate(mod):
                arrays[f"mean_{m}_{k}"] = mu
        if self.reparam_ is not None:
            arrays.update(self.reparam_.to_arrays())
            arrays.update({f"refined.{k}": v for k, v in self.refined_prior_.items()})
        if self.content_maps_:
            from causaltraits.crl.content import maps_to_arrays

            arrays.update(maps_to_arrays(self.content_maps_))
        if self.effect_maps_:
            from causaltraits.crl import effects

            arrays.update(effects.maps_to_arrays(self.effect_maps_))
        npz = path.with_suffix(".npz")
        with atomic_path(npz) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        meta = {
            "format": "causaltraits.crl.MultiMeasurementCRL",
            "format_version": FORMAT_VERSION,
            "config": asdict(self.config),
            "seed": self.seed,
            "dims": self.dims_,
            "scales": self.scales_,
            "latent_names": self.latent_names_,
            "layout": self.store_.layout(),
            "best_epoch": getattr(self, "best_epoch_", None),
            "refine_summary": self.refine_summary_,
            "content_correction": self.content_summary(),
            "effect_restoration": self.effect_summary(),
        }
        js = path.with_suffix(".json")
        write_json(js, meta)
        return npz, js

    @classmethod
    def load(cls, path: str | Path) -> "MultiMeasurementCRL":
        """Read a model written by :meth:`save` (``path`` with or without suffix)."""
        path = Path(path)
        js, npz = path.with_suffix(".json"), path.with_suffix(".npz")
        for p in (js, npz):
            if not p.exists():
                raise DataError(f"{p}: saved CRL model file not found")
        meta = json.loads(js.read_text(encoding="utf-8"))
        if meta.get("format") != "causaltraits.crl.MultiMeasurementCRL":
            raise DataError(f"{js}: not a saved causaltraits CRL model")
        unknown = sorted(set(meta["config"]) - {f.name for f in fields(CRLConfig)})
        if unknown or meta.get("format_version", 0) > FORMAT_VERSION:
            extra = f", settings {', '.join(unknown)}" if unknown else ""
            raise DataError(f"{js}: saved by a newer causaltraits (format {meta.get('format_version')}{extra}); "
                            "upgrade it to load this model")
        model = cls(CRLConfig(**meta["config"]), seed=meta["seed"])
        model._build(meta["dims"], np.random.default_rng(0))
        if model.store_.layout() != meta["layout"]:
            raise DataError(f"{js}: parameter layout does not match this version of causaltraits")
        with np.load(npz, allow_pickle=False) as f:
            theta = f["theta"]
            if theta.shape != model.store_.theta.shape:
                raise DataError(f"{npz}: parameter vector has {theta.size} values, expected {model.store_.theta.size}")
            model.store_.theta[...] = theta
            model.graph_weights_ = f["graph_weights"]
            from causaltraits.crl.refine import Reparam

            model.reparam_ = Reparam.from_arrays(f)
            model.refined_prior_ = {k[len("refined."):]: f[k] for k in f.files if k.startswith("refined.")}
            from causaltraits.crl.content import maps_from_arrays

            model.content_maps_ = maps_from_arrays(f)
            from causaltraits.crl import effects

            model.effect_maps_ = effects.maps_from_arrays(f)
            model.means_ = [[f[f"mean_{m}_{k}"] for k in range(len(mod))] for m, mod in enumerate(meta["dims"])]
        model.scales_ = meta["scales"]
        model.best_epoch_ = meta.get("best_epoch")
        model.refine_summary_ = meta.get("refine_summary")
        return model
