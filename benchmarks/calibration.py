"""Calibration and power of every CI test: rejection rates at alpha = 0.05 on nulls and alternatives.

Nulls (conditional nulls for conditional tests), at n = 500 and n = 2,000, |Z| = 0 and 1:

- ``linear``    linear Gaussian: x = 0.8 z + e, y = -0.6 z + e (|Z| = 0: x, y independent);
- ``nonlinear`` non-Gaussian: z ~ t5, x = tanh(1.5 z) + t5 noise, y = z^2 / 2 + centred
                exponential noise (|Z| = 0: x ~ uniform, y ~ centred exponential);
- ``discrete``  3-level ordinal: z in {0,1,2}, x and y thresholded noisy functions of z
                (|Z| = 0: x, y independent 3-level).

Unconditional-only tests (``hsic``) run |Z| = 0 only; discrete tests (chisq, gsq) only the
discrete nulls. Each cell runs ``--reps`` replications (500) unless one test costs more than
``--budget`` seconds per cell, then fewer (at least ``--min-reps``): the table says so.

Power against two fixed nonlinear alternatives (n = 500 and 1,000) for ours (lowrank, rcit,
rcot, kci) beside causal-learn's KCI and RCIT on the same data sets.

Usage::

    python benchmarks/calibration.py            # full run (tens of minutes on 2 workers)
    python benchmarks/calibration.py --quick    # smoke run (about a minute)

Writes ``results/benchmarks/calibration.json`` and ``calibration.md``.
"""

from __future__ import annotations

import os

# one BLAS thread per worker: the products are small and the machine is shared
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from causaltraits.independence import available_tests, get_test_class, make_test  # noqa: E402
from causaltraits.runs import write_json, write_text  # noqa: E402

ALPHA = 0.05
TARGET = (0.03, 0.07)
NULLS = ("linear", "nonlinear", "discrete")
DISCRETE_ONLY = ("chisq", "gsq")
POWER_TESTS = ("lowrank", "rcit", "rcot", "kci", "causallearn-kci", "causallearn-rcit")
DGP_ID = {"linear": 1, "nonlinear": 2, "discrete": 3, "alt-marginal": 4, "alt-conditional": 5}


# ------------------------------------------------------------------ data
def _three_levels(v: np.ndarray) -> np.ndarray:
    return np.digitize(v, [-0.6, 0.6]).astype(float)


def simulate(dgp: str, k: int, n: int, rep: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """One data set (columns x, y[, z]) and the kinds of its columns."""
    rng = np.random.default_rng([seed, DGP_ID[dgp], k, n, rep])
    kinds = ["continuous"] * (2 + k)
    if dgp == "linear":
        z = rng.normal(size=n)
        x = 0.8 * z * k + rng.normal(size=n)
        y = -0.6 * z * k + rng.normal(size=n)
    elif dgp == "nonlinear":
        z = rng.standard_t(5, size=n)
        if k:
            x = np.tanh(1.5 * z) + 0.5 * rng.standard_t(5, size=n)
            y = z**2 / 2 + rng.exponential(size=n) - 1.0
        else:
            x = rng.uniform(-2, 2, size=n)
            y = rng.exponential(size=n) - 1.0
    elif dgp == "discrete":
        z = rng.integers(0, 3, size=n).astype(float)
        x = _three_levels(0.7 * (z - 1) * k + rng.normal(size=n))
        y = _three_levels(-0.7 * (z - 1) * k + rng.normal(size=n))
        kinds = ["ordinal"] * (2 + k)
    elif dgp == "alt-marginal":  # y depends on x without correlation
        x = rng.uniform(-2, 2, size=n)
        y = 0.3 * np.cos(2 * x) + rng.normal(size=n)
        z = None
    elif dgp == "alt-conditional":  # x -> y on top of a common cause z
        z = rng.normal(size=n)
        x = np.tanh(z) + rng.normal(size=n) * 0.8
        y = z**2 / 2 + 0.25 * np.sin(2 * x) + rng.normal(size=n) * 0.8
    else:
        raise ValueError(dgp)
    cols = [x, y] + ([z] if k else [])
    return np.column_stack(cols), kinds


def pvalue(test: str, data: np.ndarray, kinds: list[str], rep: int) -> float:
    k = data.shape[1] - 2
    z = list(range(2, 2 + k))
    if test.startswith("causallearn-"):
        from causallearn.utils.cit import CIT

        np.random.seed(rep)  # causal-learn draws from the global state (not reproducible otherwise)
        return float(CIT(data, test.split("-", 1)[1])(0, 1, z))
    return float(make_test(test, data, kinds=kinds, seed=rep)(0, 1, z))


def run_chunk(task: dict) -> dict:
    """P-values and wall time of one chunk of replications of one cell."""
    ps, times = [], []
    for rep in task["reps"]:
        data, kinds = simulate(task["dgp"], task["k"], task["n"], rep, task["seed"])
        t0 = time.perf_counter()
        ps.append(pvalue(task["test"], data, kinds, rep))
        times.append(time.perf_counter() - t0)
    return {**task, "pvalues": ps, "seconds": float(sum(times)), "last": times[-1] if times else 0.0}


# ------------------------------------------------------------------ cells
def applicable(test: str, dgp: str, k: int) -> bool:
    cls = get_test_class(test)
    if k and not cls.conditional:
        return False
    discrete_only = test in DISCRETE_ONLY or (cls.accepts is not None and "continuous" not in cls.accepts)
    return dgp == "discrete" or not discrete_only


def null_cells(tests: list[str], sizes: list[int]) -> list[dict]:
    return [
        {"study": "null", "test": t, "dgp": d, "k": k, "n": n}
        for t in tests for d in NULLS for k in (0, 1) for n in sizes if applicable(t, d, k)
    ]


def power_cells(tests: list[str], sizes: list[int]) -> list[dict]:
    return [
        {"study": "power", "test": t, "dgp": d, "k": k, "n": n}
        for t in tests for d, k in (("alt-marginal", 0), ("alt-conditional", 1)) for n in sizes
    ]


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    if trials == 0:
        return (float("nan"), float("nan"))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (centre - half, centre + half)


def run(cells: list[dict], reps: int, min_reps: int, budget: float, seed: int, workers: int,
        chunk: int) -> list[dict]:
    """Pilot two replications per cell, size each cell to the budget, then run the rest."""
    from tqdm import tqdm

    key = lambda c: (c["study"], c["test"], c["dgp"], c["k"], c["n"])  # noqa: E731
    results = {key(c): {**c, "pvalues": [], "seconds": 0.0} for c in cells}
    pilot = [{**c, "seed": seed, "reps": [0, 1]} for c in cells]
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        for out in tqdm(pool.imap_unordered(run_chunk, pilot), total=len(pilot), desc="pilot", file=sys.stderr):
            r = results[key(out)]
            r["pvalues"] += out["pvalues"]
            r["seconds"] += out["seconds"]
            r["last_pilot"] = out["last"]
        rest = []
        for c in cells:
            r = results[key(c)]
            per_test = r["last_pilot"]  # the first call of a worker includes numba compilation
            planned = reps if per_test * reps <= budget else max(min_reps, int(budget / max(per_test, 1e-9)))
            r["planned_reps"] = min(planned, reps)
            todo = list(range(2, r["planned_reps"]))
            rest += [{**c, "seed": seed, "reps": todo[i : i + chunk]} for i in range(0, len(todo), chunk)]
        rest.sort(key=lambda t: -results[key(t)]["last_pilot"])  # slow chunks first, for balance
        for out in tqdm(pool.imap_unordered(run_chunk, rest), total=len(rest), desc="cells", file=sys.stderr):
            r = results[key(out)]
            r["pvalues"] += out["pvalues"]
            r["seconds"] += out["seconds"]
    rows = []
    for r in results.values():
        ps = np.array(r.pop("pvalues"), dtype=float)
        r.pop("last_pilot", None)
        ok = np.isfinite(ps)
        rejected = int(np.sum(ps[ok] < ALPHA))
        lo, hi = wilson(rejected, int(ok.sum()))
        rate = rejected / ok.sum() if ok.sum() else float("nan")
        rows.append({
            **r,
            "reps": int(len(ps)),
            "nan": int((~ok).sum()),
            "rejection_rate": rate,
            "ci95": [lo, hi],
            "seconds_per_test": r.pop("seconds") / max(len(ps), 1),
            "within_target": bool(TARGET[0] <= rate <= TARGET[1]) if r["study"] == "null" else None,
            "reduced_reps": bool(len(ps) < reps),
        })
    rows.sort(key=lambda r: (r["study"], r["test"], r["dgp"], r["k"], r["n"]))
    return rows


# ------------------------------------------------------------------ report
def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Calibration and power of the CI tests",
        "",
        f"alpha = {ALPHA}; target null rejection rate {TARGET[0]}-{TARGET[1]}; seed {meta['seed']}; "
        f"{meta['reps']} replications per cell unless marked (a cell is cut to its time budget of "
        f"{meta['budget']:.0f} s, at least {meta['min_reps']} replications). "
        "95% Wilson intervals. Generated by `benchmarks/calibration.py`"
        + (" (--quick: smoke run, not the reference figures)." if meta["quick"] else "."),
        "",
        "## Null rejection rates",
        "",
        "| test | data | \\|Z\\| | n | reps | rate | 95% CI | in target | s / test |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["study"] != "null":
            continue
        reps = f"**{r['reps']} (reduced)**" if r["reduced_reps"] else str(r["reps"])
        mark = "yes" if r["within_target"] else "**no**"
        lines.append(
            f"| {r['test']} | {r['dgp']} | {r['k']} | {r['n']} | {reps} | {r['rejection_rate']:.3f} | "
            f"{r['ci95'][0]:.3f}-{r['ci95'][1]:.3f} | {mark} | {r['seconds_per_test']:.4f} |"
        )
    lines += [
        "",
        "## Power (rejection rate at alpha = 0.05 under fixed nonlinear alternatives)",
        "",
        "`alt-marginal`: y = 0.3 cos(2x) + N(0,1), x ~ U(-2, 2), |Z| = 0. "
        "`alt-conditional`: z ~ N(0,1), x = tanh(z) + 0.8 N, y = z^2/2 + 0.25 sin(2x) + 0.8 N, |Z| = 1. "
        "All tests see the same data sets.",
        "",
        "| alternative | n | " + " | ".join(POWER_TESTS) + " |",
        "|---|---|" + "---|" * len(POWER_TESTS),
    ]
    power = {(r["test"], r["dgp"], r["n"]): r for r in rows if r["study"] == "power"}
    for dgp in ("alt-marginal", "alt-conditional"):
        for n in sorted({r["n"] for r in rows if r["study"] == "power"}):
            cells = []
            for t in POWER_TESTS:
                r = power.get((t, dgp, n))
                cells.append("-" if r is None else f"{r['rejection_rate']:.2f} ({r['reps']})")
            lines.append(f"| {dgp} | {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Power cells give the rate and (replications).",
        "",
        "Reading notes: `fisherz` and `mixed` test partial correlation / conditional-Gaussian "
        "likelihoods, so a nonlinear confounder z (the `nonlinear`, |Z| = 1 null: x and y both depend "
        "on z nonlinearly) leaves residual correlation and they reject; that is the expected failure "
        "of a linear test, not a calibration defect. A reduced cell's interval is wide: judge it by "
        "its 95% interval, not the point rate.",
        "",
    ]
    if meta.get("skipped"):
        lines += [f"Tests not available when this ran: {', '.join(meta['skipped'])}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: few replications, small budget")
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--min-reps", type=int, default=30)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds of test time per cell")
    ap.add_argument("--power-reps", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20260501)
    ap.add_argument("--tests", default=None, help="comma-separated subset (default: all available)")
    ap.add_argument("--out", default=str(ROOT / "results" / "benchmarks"))
    ap.add_argument("--render", action="store_true", help="only rewrite the markdown from the JSON")
    args = ap.parse_args(argv)
    if args.render:
        out = Path(args.out)
        stem = "calibration_quick" if args.quick else "calibration"
        saved = json.loads((out / f"{stem}.json").read_text())
        write_text(out / f"{stem}.md", markdown(saved["rows"], saved["meta"]))
        return 0
    workers = max(1, min(args.workers, 2))
    sizes, power_sizes = [500, 2000], [500, 1000]
    reps, power_reps, budget, min_reps = args.reps, args.power_reps, args.budget, args.min_reps
    if args.quick:
        sizes, power_sizes = [300], [300]
        reps, power_reps, budget, min_reps = 40, 20, 5.0, 10
    wanted = ["fisherz", "chisq", "gsq", "kci", "hsic", "rcit", "rcot", "lowrank", "mixed", "gcm"]
    if args.tests:
        wanted = [t.strip() for t in args.tests.split(",") if t.strip()]
    have = available_tests()
    tests = [t for t in wanted if t in have]
    skipped = [t for t in wanted if t not in have]
    ptests = [t for t in POWER_TESTS if t.startswith("causallearn-") or t in have]
    if args.tests:
        ptests = [t for t in ptests if t in wanted or t.startswith("causallearn-")]

    t0 = time.perf_counter()
    rows = run(null_cells(tests, sizes), reps, min_reps, budget, args.seed, workers, chunk=25)
    rows += run(power_cells(ptests, power_sizes), power_reps, min(min_reps, power_reps), budget * 2,
                args.seed + 1, workers, chunk=10)
    meta = {
        "seed": args.seed, "reps": reps, "power_reps": power_reps, "budget": budget, "min_reps": min_reps,
        "quick": args.quick, "workers": workers, "sizes": sizes, "power_sizes": power_sizes,
        "skipped": skipped, "alpha": ALPHA, "target": list(TARGET),
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    out = Path(args.out)
    suffix = "_quick" if args.quick else ""
    write_json(out / f"calibration{suffix}.json", {"meta": meta, "rows": rows})
    text = markdown(rows, meta)
    write_text(out / f"calibration{suffix}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
