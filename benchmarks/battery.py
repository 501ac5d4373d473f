"""Benchmark: the Level I battery (traits x attributes, five tests) against the reference tools.

Side by side in one run, on athle-demo (n = 4,181; an athlete-shaped synthetic table of the same
size while that dataset is not available):

- causaltraits: ``run_battery(ds, tests=(kci, rcit, hsic, chisq, gsq))``, one test object per test
  over the whole matrix (per-variable kernels / features computed once);
- reference: causal-learn's ``CIT`` (kci, rcit, chisq, gsq), one object per pair on the pair's
  complete rows, as a notebook calls it, plus the HSIC test the PersonaX authors called,
  ``conditional_independence.hsic_test`` (uhlerlab package), re-implemented here from its
  description: Gaussian kernel ``exp(-(a - b)**2)`` on the raw (unstandardised) values, biased
  HSIC statistic, gamma approximation of the null from the kernel means and the variance formula
  of Gretton et al. (2007). (The original computes the cross term in float32; this is float64.)

causaltraits runs with ``PARITY`` settings (KCI: Gaussian kernel on categorical codes, as
causal-learn; its default delta kernel is the same cost). Both sides test the same cells (chi-square / G-square on discrete x discrete cells only) on the same
rows (rows complete in the pair). Reported: total time per side (ours: median of ``--repeats``
runs, plus the first, cold run; reference: ``--ref-repeats`` runs, median), the ratio, and per
test the largest absolute difference between the p-values (the deterministic tests, kci, chisq
and gsq, should agree to round-off; rcit is randomised on both sides, hsic uses other settings).

Usage: python benchmarks/battery.py [--n N] [--tests kci,rcit,hsic,chisq,gsq] [--repeats 3]
Writes results/benchmarks/battery.json and battery.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
TESTS = ("kci", "rcit", "hsic", "chisq", "gsq")
DETERMINISTIC = ("kci", "chisq", "gsq")
#: settings under which causaltraits computes what the reference computes (same work, same p-values):
#: KCI's Gaussian kernel on League's codes, as causal-learn (causaltraits' default is a delta kernel)
PARITY = {"kci": {"categorical_kernel": "gaussian"}}


# ---------------------------------------------------------------------- data
def synthetic_athletes(n: int = 4181, seed: int = 0):
    """An athlete-shaped table: 5 aggregated ordinal traits, 7 continuous and 1 categorical attribute."""
    from causaltraits.data.dataset import TRAITS, Dataset, Roles

    rng = np.random.default_rng(seed)
    league = rng.integers(0, 7, n)
    birthyear = np.round(1975 + 15 * rng.random(n) + 2 * league)
    height = 175 + 12 * (league == 3) + 6 * (league == 4) - 5 * (league == 0) + rng.normal(0, 6, n)
    frame = {
        "Birthyear": birthyear, "Birthmonth": rng.integers(1, 13, n).astype(float),
        "Birthday": rng.integers(1, 29, n).astype(float),
        "Latitude": np.where(league < 3, 50, 38) + rng.normal(0, 8, n),
        "Longitude": np.where(league < 3, 5, -90) + rng.normal(0, 20, n),
        "Weight": 1.1 * height - 115 + 15 * (league == 4) + rng.normal(0, 8, n), "Height": height,
        "League": league.astype(float),
    }
    latent = {
        "Openness": 0.05 * (birthyear - 1990) + 0.2 * (league == 6),
        "Conscientiousness": 0.3 * (league == 0) + 0.02 * (frame["Weight"] - 85),
        "Extraversion": 0.3 * np.isin(league, [3, 4]) + 0.02 * (height - 180),
        "Agreeableness": -0.2 * (league == 5) + 0.01 * (frame["Latitude"] - 45),
        "Neuroticism": 0.03 * (birthyear - 1990),
    }
    for t in TRAITS:
        frame[t] = (np.digitize(latent[t] + rng.normal(0, 1, n), [-0.6, 0.6]) + 1.0)
        frame[t][rng.random(n) < 0.03] = np.nan
    for c in ("Height", "Weight", "Latitude", "Longitude"):
        frame[c][rng.random(n) < 0.04] = np.nan
    roles = Roles(traits=list(TRAITS), bio_continuous=[c for c in frame if c not in TRAITS and c != "League"],
                  bio_categorical=["League"])
    return Dataset(name="synthetic-athletes", frame=pd.DataFrame(frame), roles=roles,
                   source=f"generated:{seed}")


def load(n: int | None):
    try:
        from causaltraits.data import load_dataset

        ds, note = load_dataset("athle-demo"), "athle-demo"
    except Exception as e:  # the demo loader is written concurrently
        ds, note = synthetic_athletes(), f"synthetic athlete-shaped table (athle-demo unavailable: {type(e).__name__})"
    if n is not None and n < ds.n:
        ds = ds.subset(np.arange(n))
        note += f", first {n} rows"
    return ds, note


# ---------------------------------------------------------------------- reference side
def authors_hsic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The HSIC test the PersonaX authors called (conditional_independence.hsic_test), re-implemented.

    Gaussian kernel with width 1/sqrt(2) on the raw values, biased statistic trace(HKH HLH)/n^2,
    gamma approximation with the mean from the off-diagonal kernel means and the variance of
    Gretton et al. (2007), Theorem 4.
    """
    n = len(x)
    kx = np.exp(-np.subtract.outer(x, x) ** 2)
    ky = np.exp(-np.subtract.outer(y, y) ** 2)
    mu_x = (kx.sum() - np.trace(kx)) / (n * (n - 1))
    mu_y = (ky.sum() - np.trace(ky)) / (n * (n - 1))
    for k in (kx, ky):  # centre in place: H K H
        k -= k.mean(axis=0)[None, :]
        k -= k.mean(axis=1)[:, None]
    stat = float(np.sum(kx * ky)) / n**2
    mean = (1 + mu_x * mu_y - mu_x - mu_y) / n
    b = (kx * ky) ** 2
    var = 2 * (n - 4) * (n - 5) / (n * (n - 1) * (n - 2) * (n - 3)) * (b.sum() - np.trace(b)) / n**2
    shape, scale = mean**2 / var, var / mean
    return stat, float(stats.gamma.sf(stat, shape, scale=scale))


def reference_battery(ds, cells: pd.DataFrame, tests: list[str]) -> tuple[dict[str, dict], dict[str, float]]:
    """p-values and seconds per test with causal-learn's CIT (and the authors' HSIC), pair by pair."""
    from causallearn.utils.cit import CIT

    pvals: dict[str, dict] = {}
    secs: dict[str, float] = {}
    for test in tests:
        sub = cells[(cells["test"] == test) & cells["applicable"]]
        out = {}
        t0 = time.perf_counter()
        for trait, attr in zip(sub["trait"], sub["attribute"]):
            xy = ds.frame[[trait, attr]].dropna().to_numpy(dtype=np.float64)
            try:
                if test == "hsic":
                    out[(trait, attr)] = authors_hsic(xy[:, 0].copy(), xy[:, 1].copy())[1]
                else:
                    out[(trait, attr)] = float(CIT(xy, test)(0, 1, []))
            except Exception as e:  # the PersonaX notebook turned these into p = 0; we keep NaN
                print(f"  reference {test} failed on {trait} x {attr}: {type(e).__name__}: {e}", file=sys.stderr)
                out[(trait, attr)] = float("nan")
        secs[test] = time.perf_counter() - t0
        pvals[test] = out
        print(f"  reference {test:<6} {len(sub):>3} cells  {secs[test]:8.2f} s", file=sys.stderr)
    return pvals, secs


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="use the first N rows (default: all)")
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--repeats", type=int, default=3, help="causaltraits runs (median reported)")
    ap.add_argument("--ref-repeats", type=int, default=1, help="reference runs (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)

    from causaltraits.independence import available_tests
    from causaltraits.independence.battery import run_battery
    from causaltraits.runs import package_versions, write_json, atomic_write

    ds, data_note = load(args.n)
    wanted = [t.strip() for t in args.tests.split(",") if t.strip()]
    ours_tests = [t for t in wanted if t in available_tests()]
    missing = [t for t in wanted if t not in available_tests()]
    if missing:
        print(f"not implemented in causaltraits yet, skipped on both sides: {', '.join(missing)}", file=sys.stderr)
    print(f"data: {data_note}; n = {ds.n}; traits x attributes = {len(ds.trait_columns())} x "
          f"{len(ds.attribute_columns())}; tests: {', '.join(ours_tests)}", file=sys.stderr)

    # causaltraits, repeated: the first run is cold (numba compilation, imports), the median is the figure
    runs, per_test_runs, result = [], [], None
    for r in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        result = run_battery(ds, tests=ours_tests, correction="none", seed=args.seed, test_params=PARITY)
        runs.append(time.perf_counter() - t0)
        per_test_runs.append(result.timings_s)
        print(f"  causaltraits run {r + 1}: {runs[-1]:.2f} s", file=sys.stderr)
    ours_total = statistics.median(runs)
    ours_per_test = {t: statistics.median(pt[t] for pt in per_test_runs) for t in ours_tests}

    ref_runs, ref_per_test_runs, ref_p = [], [], {}
    for _ in range(max(1, args.ref_repeats)):
        t0 = time.perf_counter()
        ref_p, secs = reference_battery(ds, result.cells, ours_tests)
        ref_runs.append(time.perf_counter() - t0)
        ref_per_test_runs.append(secs)
    ref_total = statistics.median(ref_runs)
    ref_per_test = {t: statistics.median(s[t] for s in ref_per_test_runs) for t in ours_tests}

    rows = []
    for test in ours_tests:
        sub = result.cells[(result.cells["test"] == test) & result.cells["applicable"]]
        ours_p = np.array([p for p in sub["pvalue"]], dtype=float)
        theirs = np.array([ref_p[test][(t, a)] for t, a in zip(sub["trait"], sub["attribute"])], dtype=float)
        both = ~np.isnan(ours_p) & ~np.isnan(theirs)
        diff = float(np.max(np.abs(ours_p[both] - theirs[both]))) if both.any() else float("nan")
        flips = int(np.sum((ours_p[both] < 0.05) != (theirs[both] < 0.05)))
        rows.append({
            "test": test, "cells": int(len(sub)), "ours_s": round(ours_per_test[test], 4),
            "reference_s": round(ref_per_test[test], 4),
            "speedup": round(ref_per_test[test] / ours_per_test[test], 1) if ours_per_test[test] > 0 else None,
            "max_abs_pvalue_diff": diff, "decisions_differing_at_0.05": flips,
            "deterministic": test in DETERMINISTIC,
            "reference": "conditional_independence.hsic_test (re-implemented)" if test == "hsic"
            else f"causallearn CIT('{test}')",
            "ours_nan": int(np.isnan(ours_p).sum()), "reference_nan": int(np.isnan(theirs).sum()),
        })
    ratio = ref_total / ours_total
    det = [r["max_abs_pvalue_diff"] for r in rows if r["deterministic"] and not np.isnan(r["max_abs_pvalue_diff"])]
    report = {
        "benchmark": "battery",
        "data": data_note, "n": ds.n, "content_hash": ds.content_hash,
        "traits": ds.trait_columns(), "attributes": ds.attribute_columns(),
        "tests": ours_tests, "tests_not_available": missing,
        "ours_total_s_median": round(ours_total, 4), "ours_runs_s": [round(x, 4) for x in runs],
        "ours_cold_s": round(runs[0], 4),
        "reference_total_s_median": round(ref_total, 4), "reference_runs_s": [round(x, 4) for x in ref_runs],
        "speedup_total": round(ratio, 1), "speedup_vs_cold": round(ref_total / runs[0], 1),
        "target_speedup": 20.0, "target_met": bool(ratio >= 20.0),
        "max_abs_pvalue_diff_deterministic": max(det) if det else None,
        "per_test": rows, "seed": args.seed, "causaltraits_settings": PARITY,
        "machine": {"cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        "versions": package_versions(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    # ---- table
    head = f"{'test':<6} {'cells':>5} {'ours s':>9} {'ref s':>9} {'speedup':>8} {'max|dp|':>10} {'flips':>5}  reference"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['test']:<6} {r['cells']:>5} {r['ours_s']:>9.3f} {r['reference_s']:>9.3f} "
                     f"{(r['speedup'] or 0):>7.1f}x {r['max_abs_pvalue_diff']:>10.2e} "
                     f"{r['decisions_differing_at_0.05']:>5}  {r['reference']}")
    lines.append("-" * len(head))
    lines.append(f"{'total':<6} {sum(r['cells'] for r in rows):>5} {ours_total:>9.3f} {ref_total:>9.3f} "
                 f"{ratio:>7.1f}x   (target >= 20x: {'met' if ratio >= 20 else 'NOT met'}; "
                 f"cold first run {runs[0]:.2f} s -> {ref_total / runs[0]:.1f}x)")
    table = "\n".join(lines)
    print(table)

    out = Path(args.out)
    write_json(out / "battery.json", report)
    md = [
        "# Level I battery: causaltraits vs causal-learn CIT (+ authors' HSIC)",
        "",
        f"Data: {data_note}, n = {ds.n:,}; {len(ds.trait_columns())} traits x {len(ds.attribute_columns())} "
        f"attributes; chi-square / G-square on discrete x discrete cells only. Date {report['date_utc']}, "
        f"{report['machine']['cpus']} CPUs (shared). causaltraits: median of {len(runs)} runs "
        f"(first run {runs[0]:.2f} s, cold); reference: median of {len(ref_runs)} run(s).",
        "",
        "| test | cells | causaltraits s | reference s | speedup | max abs p diff | decisions differing at 0.05 | reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        md.append(f"| {r['test']} | {r['cells']} | {r['ours_s']:.3f} | {r['reference_s']:.3f} | "
                  f"{(r['speedup'] or 0):.1f}x | {r['max_abs_pvalue_diff']:.2e} | "
                  f"{r['decisions_differing_at_0.05']} | {r['reference']} |")
    md.append(f"| **total** | {sum(r['cells'] for r in rows)} | {ours_total:.3f} | {ref_total:.3f} | "
              f"**{ratio:.1f}x** | | | |")
    md += ["", f"Target >= 20x: {'met' if ratio >= 20 else 'NOT met'}. Deterministic tests ({', '.join(t for t in DETERMINISTIC if t in ours_tests)}): "
           f"largest p-value difference {report['max_abs_pvalue_diff_deterministic']}. rcit is randomised "
           "on both sides (causal-learn's unseeded); hsic differs by design (the authors' fixed kernel width on "
           "unstandardised values).", ""]
    if missing:
        md.append(f"Not yet implemented in causaltraits when this ran (left out on both sides): {', '.join(missing)}.")
    with atomic_write(out / "battery.md", "w", encoding="utf-8") as fh:
        fh.write("\n".join(md) + "\n")
    print(f"written {out / 'battery.json'} and {out / 'battery.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
