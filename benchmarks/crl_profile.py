"""Time one CRL fit on variant digits and show where the time goes.

Fits the model once (one seed, ``--rows`` rows, 80% for training as in the benchmark) with timers
around the hand-written pieces: the numba kernels (fused bias+activation forward, activation
backward, the structural-model density, Adam) and the dense layers as a whole (whose remainder
is the BLAS matrix products), and around the refit of the coordinates after training (decoder
Jacobians; the structural-model prior; the blocks' maps with their IMA term - numba kernels and
NumPy's tanh, the blocks on ``refine_threads`` threads, timed as wall time; the rest of its
L-BFGS; the content correction and the effect restoration that follow it). Prints a table and
writes ``results/benchmarks/crl_profile.json``.

    python benchmarks/crl_profile.py --rows 10000 --epochs 60
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
from pathlib import Path



def _timed(store: dict, key: str, fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            store[key] = store.get(key, 0.0) + time.perf_counter() - t
    return wrapper


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/benchmarks/crl_profile.json")
    args = ap.parse_args(argv)

    from causaltraits.crl import layers, model as model_mod, optim, refine as refine_mod, scm
    from causaltraits.crl.benchmark import LATENT_DIMS, score_latents, split
    from causaltraits.crl.digits import make_variant_digits
    from causaltraits.crl.model import CRLConfig, MultiMeasurementCRL
    from causaltraits.runs import package_versions, write_json

    t = {}
    layers.bias_act_forward = _timed(t, "numba: bias+activation forward", layers.bias_act_forward)
    layers.act_backward = _timed(t, "numba: activation backward + bias grad", layers.act_backward)
    optim.adam_update = _timed(t, "numba: Adam update", optim.adam_update)
    # both noise densities' kernels (the model's default is the mixture)
    scm.scm_nll_backward = _timed(t, "numba: structural-model density + grad", scm.scm_nll_backward)
    scm.scm_nll_backward_mix = _timed(t, "numba: structural-model density + grad", scm.scm_nll_backward_mix)
    layers.Dense.forward = _timed(t, "dense forward (total)", layers.Dense.forward)
    layers.Dense.backward = _timed(t, "dense backward (total)", layers.Dense.backward)
    model_mod.MultiMeasurementCRL._loss_and_grad = _timed(
        t, "loss and gradient (total)", model_mod.MultiMeasurementCRL._loss_and_grad)
    model_mod.MultiMeasurementCRL._decoder_grams = _timed(
        t, "refit: decoder Jacobians", model_mod.MultiMeasurementCRL._decoder_grams)
    refine_mod._Problem._each_block = _timed(t, "refit: block maps + IMA term (numba, threads)",
                                             refine_mod._Problem._each_block)
    prior_key = "numba: structural-model density + grad"

    def moved_out(fn, total_key, refit):
        """Time ``fn`` as ``total_key`` and move its share of every other timer out of the training parts."""
        def wrapper(self, *a, **k):
            before, t_start = dict(t), time.perf_counter()
            try:
                return fn(self, *a, **k)
            finally:
                if refit:
                    t["refit: structural-model prior (numba)"] = t.get(prior_key, 0.0) - before.get(prior_key, 0.0)
                for key in list(t):
                    if not key.startswith("refit"):
                        t[key] = before.get(key, 0.0)
                t[total_key] = time.perf_counter() - t_start
        return wrapper

    model_mod.MultiMeasurementCRL._refine = moved_out(model_mod.MultiMeasurementCRL._refine, "refit (total)", True)
    # the cross-modal content correction after the refit (encodes the training rows once more)
    model_mod.MultiMeasurementCRL._fit_content = moved_out(model_mod.MultiMeasurementCRL._fit_content,
                                                           "refit: content correction", False)
    # the effect restoration after it (local regressions of the measurements on the latents)
    model_mod.MultiMeasurementCRL._fit_effects = moved_out(model_mod.MultiMeasurementCRL._fit_effects,
                                                           "refit: effect restoration", False)

    t0 = time.perf_counter()
    data = make_variant_digits(args.rows, seed=args.seed)
    t_gen = time.perf_counter() - t0
    tr, te = split(args.rows, args.seed)
    from causaltraits.crl.baselines import CRL_DIGITS

    m = MultiMeasurementCRL(CRLConfig(latent_dims=list(LATENT_DIMS), epochs=args.epochs, **CRL_DIGITS),
                            seed=args.seed)
    # warm the numba cache outside the timed fit (first use compiles or loads from cache)
    MultiMeasurementCRL(CRLConfig(latent_dims=list(LATENT_DIMS), epochs=1, hidden=[8]), seed=0).fit(
        data.rows(tr[:200]))
    t.clear()
    t0 = time.perf_counter()
    m.fit(data.rows(tr), progress=True)
    fit_s = time.perf_counter() - t0
    epochs = m.epochs_run_  # every epoch trained, over all initialisations
    scores = score_latents(m.transform(data.rows(tr)), m.transform(data.rows(te)),
                           data.latents[tr], data.latents[te], data.truth(), seed=args.seed)

    numba_fwd = t.get("numba: bias+activation forward", 0.0)
    numba_bwd = t.get("numba: activation backward + bias grad", 0.0)
    parts = {
        "BLAS matrix products (dense forward)": t.get("dense forward (total)", 0.0) - numba_fwd,
        "BLAS matrix products (dense backward)": t.get("dense backward (total)", 0.0) - numba_bwd,
        "numba: bias+activation forward": numba_fwd,
        "numba: activation backward + bias grad": numba_bwd,
        "numba: structural-model density + grad": t.get("numba: structural-model density + grad", 0.0),
        "numba: Adam update": t.get("numba: Adam update", 0.0),
    }
    refit_parts = ("refit: decoder Jacobians", "refit: structural-model prior (numba)",
                   "refit: block maps + IMA term (numba, threads)")
    parts.update({key: t.get(key, 0.0) for key in refit_parts})
    parts["refit: L-BFGS and the rest"] = t.get("refit (total)", 0.0) - sum(parts[key] for key in refit_parts)
    parts["refit: content correction"] = t.get("refit: content correction", 0.0)
    parts["refit: effect restoration"] = t.get("refit: effect restoration", 0.0)
    parts["other (slicing, sampling, loss terms, validation)"] = fit_s - sum(parts.values())
    refit_s = sum(t.get(k, 0.0) for k in ("refit (total)", "refit: content correction", "refit: effect restoration"))
    res = {
        "rows": args.rows, "train_rows": int(len(tr)), "epochs_run": epochs, "max_epochs": args.epochs,
        "best_epoch": m.best_epoch_, "fit_seconds": fit_s, "refit_seconds": refit_s,
        "training_seconds": fit_s - refit_s, "epochs_per_s": epochs / (fit_s - refit_s),
        "refit": m.refine_summary_,
        "generate_seconds": t_gen, "target_fit_seconds": 300, "meets_target": fit_s <= 300,
        "breakdown_seconds": parts,
        "breakdown_share": {k: v / fit_s for k, v in parts.items()},
        "test_mcc_pearson": scores["mcc_pearson"], "test_r2": scores["r2"],
        "cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
        "machine": platform.machine(), "versions": package_versions(), "argv": sys.argv[1:],
    }
    write_json(Path(args.out), res)
    print(f"CRL fit: {args.rows} rows ({len(tr)} train), {epochs} epochs in {fit_s - refit_s:.1f} s "
          f"= {epochs / (fit_s - refit_s):.2f} epochs/s, then the refit {refit_s:.1f} s; total {fit_s:.1f} s "
          f"(target <= 300 s: {'met' if fit_s <= 300 else 'NOT met'})")
    print(f"{'part':<52} {'seconds':>9} {'share':>7}")
    for k, v in parts.items():
        print(f"{k:<52} {v:9.2f} {v / fit_s:7.1%}")
    print(f"test MCC {scores['mcc_pearson']:.3f}, R^2 {scores['r2']:.3f}; load average {res['load_average_1min']:.1f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
