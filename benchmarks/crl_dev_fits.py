"""Fits of the benchmark's CRL configuration on development seeds: try a setting before it may touch the benchmark.

The benchmark's seeds (0-4) are for recording only. A setting is chosen on other seeds (10 and up,
``results/benchmarks/crl_experiments.md``) and then recorded on the benchmark's. This script fits
the model as ``causaltraits crl benchmark`` does (variant digits, ``--rows`` rows, the benchmark's
80/20 split, ``crl.baselines.CRL_DIGITS`` plus the ``--set`` overrides, at most ``--epochs``) on
each seed and scores the test rows:

- MCC (Pearson) per true latent, after the benchmark's matching;
- what each modality's block of latents keeps of each of its true latents: R^2 of a cubic
  polynomial with products in the block's (standardised) columns, fitted on the training rows.
  It does not depend on the block's coordinates, so it tells a latent lost in training (low R^2)
  from one that is only mixed with its neighbour (high R^2, low MCC);
- whether PC (alpha 0.05) recovers the true skeleton exactly, with Fisher-z and with GCM.

    python benchmarks/crl_dev_fits.py --seeds 10-19 --tag r3 --set restarts=3 --set restart_select=crossmodal

Writes ``results/benchmarks/crl_dev_fits_<tag>.json`` and ``.md`` after every seed, so an
interrupted run keeps the seeds it finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks"


def parse_seeds(text: str) -> list[int]:
    """``"10-14,17"`` -> ``[10, 11, 12, 13, 14, 17]``."""
    seeds: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if m is None:
            raise ValueError(f"--seeds: expected numbers and ranges such as 10-14,17, got {part!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"--seeds: range {part!r} runs backwards")
        seeds += range(lo, hi + 1)
    return seeds


def parse_overrides(items: list[str]) -> dict:
    """``["restarts=3", "restart_select=crossmodal"]`` -> ``{"restarts": 3, "restart_select": "crossmodal"}``
    (values read as JSON where they parse, as strings otherwise); unknown settings are refused."""
    from causaltraits.crl.model import CRLConfig

    known = {f.name for f in dataclasses.fields(CRLConfig)}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set: expected NAME=VALUE, got {item!r}")
        if key not in known:
            raise ValueError(f"--set: {key!r} is not a CRLConfig setting (expected one of {', '.join(sorted(known))})")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def fit_seed(seed: int, rows: int, epochs: int, overrides: dict) -> dict:
    """One development fit, run as the benchmark runs its CRL model (``run_benchmark``), in this
    script's record layout."""
    from causaltraits.crl.benchmark import run_benchmark

    rec = run_benchmark([seed], rows=rows, methods=("crl",), epochs=epochs, crl_overrides=overrides)["runs"][0]
    out = {
        "seed": seed, "mcc": rec["mcc_pearson"], "mcc_per_latent": rec["mcc_pearson_per_latent"],
        "information": rec["information"],
        "exact_fisherz": rec["skeleton_f1"] == 1.0, "exact_gcm": rec["skeleton_f1_gcm"] == 1.0,
        **{k: rec[k] for k in ("skeleton_f1", "skeleton_f1_gcm", "pc_graph", "pc_graph_gcm", "epochs",
                               "best_epoch", "epochs_trained", "fit_seconds", "best_val_loss")},
    }
    for key in ("restarts", "content", "effects"):
        if key in rec:
            out[key] = rec[key]
    return out


def render(result: dict) -> str:
    runs = result["runs"]
    s = result["settings"]
    lines = [f"# CRL development fits: {s['tag']}", "",
             f"{s['rows']} rows, at most {s['epochs']} epochs, settings `{json.dumps(s['overrides'])}` on top of "
             f"`CRL_DIGITS`; seeds done {[r['seed'] for r in runs]} of {s['seeds']}. Test rows; \"kept\" is the R^2 "
             "of each true latent from a cubic in its block's columns (coordinate-free).", "",
             "| seed | MCC | z11 | z12 | z21 | z22 | kept z11 | kept z12 | kept z21 | kept z22 | PC Fisher-z | PC GCM "
             "| epochs (best) | fit (s) |",
             "|---" * 14 + "|"]
    for r in runs:
        lines.append(f"| {r['seed']} | {r['mcc']:.3f} | " + " | ".join(f"{x:.3f}" for x in r["mcc_per_latent"]) + " | "
                     + " | ".join(f"{x:.3f}" for x in r["information"]) + " | "
                     + ("exact" if r["exact_fisherz"] else f"F1 {r['skeleton_f1']:.2f}") + " | "
                     + ("exact" if r["exact_gcm"] else f"F1 {r['skeleton_f1_gcm']:.2f}") + " | "
                     + f"{r['epochs']} ({r['best_epoch']}) | {r['fit_seconds']:.0f} |")
    if runs:
        lines += ["", f"Mean MCC {np.mean([r['mcc'] for r in runs]):.4f}; exact skeleton with Fisher-z on "
                  f"{sum(r['exact_fisherz'] for r in runs)} of {len(runs)} seeds, with GCM on "
                  f"{sum(r['exact_gcm'] for r in runs)}; median fit {np.median([r['fit_seconds'] for r in runs]):.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="10-19", help="seeds and ranges, e.g. 10-14,17 (default 10-19)")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                    help="a CRLConfig setting on top of CRL_DIGITS (repeatable)")
    ap.add_argument("--tag", default="defaults", help="names the output files (letters, digits, - and _)")
    ap.add_argument("--benchmark-seeds", action="store_true",
                    help="allow the benchmark's seeds 0-4 (settings are not to be chosen on them)")
    args = ap.parse_args(argv)

    from causaltraits.crl.benchmark import BENCHMARK_SEEDS
    from causaltraits.errors import CausalTraitsError
    from causaltraits.runs import package_versions, write_json, write_text

    try:
        seeds = parse_seeds(args.seeds)
        overrides = parse_overrides(args.overrides)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not re.fullmatch(r"[A-Za-z0-9_-]+", args.tag):
        print(f"error: --tag: expected letters, digits, - and _, got {args.tag!r}", file=sys.stderr)
        return 2
    if not args.benchmark_seeds and any(s in BENCHMARK_SEEDS for s in seeds):
        print(f"error: --seeds: {min(BENCHMARK_SEEDS)}-{max(BENCHMARK_SEEDS)} are the benchmark's seeds; "
              "choose settings on others (or pass --benchmark-seeds)", file=sys.stderr)
        return 2
    stem = OUT / f"crl_dev_fits_{args.tag}"
    result = {"settings": {"tag": args.tag, "seeds": seeds, "rows": args.rows, "epochs": args.epochs,
                           "overrides": overrides, "versions": package_versions()}, "runs": []}
    try:
        for seed in tqdm(seeds, desc="dev fits", unit="seed"):
            result["runs"].append(fit_seed(seed, args.rows, args.epochs, overrides))
            write_json(stem.with_suffix(".json"), result)
            write_text(stem.with_suffix(".md"), render(result))
    except CausalTraitsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(render(result))
    print(f"wrote {stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
