"""Cost of one conditional CI test at n = 4,181 (athle-demo), its growth in n, and PC with lowrank.

Every measurement runs in its own Python process (one BLAS thread), so that its peak resident
memory (``ru_maxrss``) is its own; the process first warms up (imports, numba compilation) on a
small slice, then records

- ``cold``: median wall time of one test on a freshly built test object (nothing cached: the
  cost of a test never seen before);
- ``cached``: median time of the same test again on the same object (lowrank reuses the
  feature blocks of columns it has seen, as in PC; the regression and null are recomputed);
- ``traced_mb``: peak of Python/numpy allocations during one cold test (tracemalloc);
- ``rss_mb``: peak resident memory of the whole process (interpreter, numpy, scipy, numba,
  causal-learn and data included), and ``rss_base_mb`` the same before the first measured test.

Data: the 13 athle-demo columns that PC sees (5 aggregate traits, 8 biographical attributes;
League categorical, traits ordinal). x = Extraversion, y = Weight, Z = Height, League,
Birthyear (first 1, 2 or 3). Every size n (4,181 included) is a seeded bootstrap resample of the
rows complete in these five columns (causal-learn's tests fail on NaN). The PC runs use the
table as it is (with its missing values; test-wise deletion).

Usage::

    python benchmarks/ci_speed.py [--quick] [--kci-reps 1]

Writes ``results/benchmarks/ci_speed.json`` and ``ci_speed.md``.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRAITS = ["Openness", "Conscientiousness", "Extraversion", "Agreeableness", "Neuroticism"]
BIO = ["League", "Birthyear", "Birthmonth", "Birthday", "Latitude", "Longitude", "Weight", "Height"]
X, Y, ZS = "Extraversion", "Weight", ["Height", "League", "Birthyear"]
SIZES = [1000, 2000, 4000, 8000, 16000]


def load_table(n: int | None, seed: int = 0) -> tuple[np.ndarray, list[str], list[str], str]:
    """The 13 PC columns of athle-demo (bootstrapped to ``n`` rows), names, kinds, source."""
    try:
        from causaltraits.data import load_dataset

        ds = load_dataset("athle-demo")
        names = TRAITS + BIO
        data = ds.frame[names].to_numpy(dtype=float)
        kinds = ds.kinds(names)
        source = "athle-demo"
    except Exception:  # noqa: BLE001 - fall back to an athlete-shaped synthetic table
        rng = np.random.default_rng(seed)
        m = 4181
        league = rng.integers(0, 6, size=m)
        height = 180 + 3 * league + 7 * rng.normal(size=m)
        weight = -100 + height + 8 * rng.normal(size=m)
        bio = np.column_stack((league, rng.integers(1960, 2005, m), rng.integers(1, 13, m), rng.integers(1, 29, m),
                               rng.uniform(-40, 60, m), rng.uniform(-120, 150, m), weight, height))
        traits = np.clip(np.round(rng.normal(size=(m, 5)) + 0.02 * (weight - 80)[:, None]), -1, 1) + 1
        data = np.column_stack((traits, bio))
        names = TRAITS + BIO
        kinds = ["ordinal"] * 5 + ["categorical"] + ["continuous"] * 7
        source = "synthetic athlete-shaped table (athle-demo not loadable)"
    if n is not None:
        # causal-learn fails on any NaN: keep the tested columns, resample their complete rows to n
        used = [names.index(c) for c in (X, Y, *ZS)]
        data = data[:, used]
        names, kinds = [names[i] for i in used], [kinds[i] for i in used]
        complete = np.flatnonzero(~np.isnan(data).any(axis=1))
        data = data[complete[np.random.default_rng([seed, n]).integers(0, len(complete), size=n)]]
    return data, names, kinds, source


# ------------------------------------------------------------------ one measurement (child process)
def _caller(impl: str, data: np.ndarray, kinds: list[str], seed: int):
    """A function building a fresh test object and a function running one test on it."""
    if impl.startswith("causallearn-"):
        from causallearn.utils.cit import CIT

        method = impl.split("-", 1)[1]
        return (lambda: CIT(data, method)), (lambda t, x, y, z: t(x, y, list(z)))
    from causaltraits.independence import make_test

    return (lambda: make_test(impl, data, kinds=kinds, seed=seed)), (lambda t, x, y, z: t(x, y, z))


def measure(spec: dict) -> dict:
    """Time one (impl, n, |Z|) cell; run inside a fresh process."""
    impl, n, k, reps = spec["impl"], spec["n"], spec["k"], spec["reps"]
    data, names, kinds, source = load_table(None if impl.startswith("pc-") else n)
    if impl.startswith("pc-"):
        from causaltraits.discovery.search import run_search

        test = impl.split("-", 1)[1]
        run_search(data[:300], names, kinds, algorithm="pc", test=test, seed=0)  # warm-up
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0, c0 = time.perf_counter(), time.process_time()
        graph, log, info = run_search(data, names, kinds, algorithm="pc", test=test, seed=0)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        n_tests = len(log.memo)
        return {**spec, "source": source, "seconds": seconds, "cpu_seconds": cpu, "tests": n_tests, "memo_hits": info.get("memo_hits"),
                "edges": len(graph.edges) if hasattr(graph, "edges") else None,
                "rss_base_mb": base, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    x, y, z = names.index(X), names.index(Y), tuple(names.index(c) for c in ZS[:k])
    build, call = _caller(impl, data, kinds, spec.get("seed", 0))
    wbuild, wcall = _caller(impl, data[:200], kinds, 0)
    if impl.startswith("causallearn-"):
        np.random.seed(0)
    wcall(wbuild(), x, y, z)  # warm-up: imports, numba compilation
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cold, cold_cpu, cached, pvals = [], [], [], []
    for _ in range(reps):
        t = build()
        t0, c0 = time.perf_counter(), time.process_time()
        pvals.append(float(call(t, x, y, z)))
        cold.append(time.perf_counter() - t0)
        cold_cpu.append(time.process_time() - c0)
        if not impl.startswith("causallearn-kci"):
            t0 = time.perf_counter()
            call(t, x, y, z) if not impl.startswith("causallearn-") else call(build(), x, y, z)
            cached.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    traced = None
    if spec.get("trace", True):
        tracemalloc.start()
        call(build(), x, y, z)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {
        **spec, "source": source, "cold_median_ms": 1e3 * float(np.median(cold)),
        "cold_ms": [1e3 * c for c in cold], "cold_cpu_median_ms": 1e3 * float(np.median(cold_cpu)),
        "cached_median_ms": 1e3 * float(np.median(cached)) if cached else None,
        "pvalue": pvals[0], "traced_mb": traced, "rss_base_mb": base, "rss_mb": rss,
    }


def run_child(spec: dict, timeout: float = 3600) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--measure", json.dumps(spec)], capture_output=True,
                          text=True, timeout=timeout, cwd=str(ROOT))
    if proc.returncode != 0:
        return {**spec, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ table
def _f(v, fmt="{:.1f}"):
    return "-" if v is None else fmt.format(v)


def markdown(res: dict) -> str:
    meta = res["meta"]
    lines = [
        "# Cost of one conditional CI test",
        "",
        f"Data: {meta['source']}, x = {X}, y = {Y}, Z = first |Z| of {', '.join(ZS)}. One process per row "
        f"(one BLAS thread), {meta['reps']} repetitions unless stated; machine: {meta['cpus']} cores shared "
        f"with other jobs (load average {meta['load']:.1f} at start), so times are upper bounds. "
        "Generated by `benchmarks/ci_speed.py`" + (" --quick." if meta["quick"] else "."),
        "",
        "## One test at n = 4,181 (and lowrank at n = 10,000 for the memory target)",
        "",
        "| test | n | \\|Z\\| | reps | cold median (ms) | cold CPU (ms) | cached (ms) | traced peak (MB) | process peak RSS (MB) | RSS before (MB) | p |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["single"]:
        if "error" in r:
            lines.append(f"| {r['impl']} | {r['n']:,} | {r['k']} | - | error: {r['error']} | | | | | | |")
            continue
        lines.append(
            f"| {r['impl']} | {r['n']:,} | {r['k']} | {r['reps']} | {_f(r['cold_median_ms'])} | {_f(r['cold_cpu_median_ms'])} | "
            f"{_f(r['cached_median_ms'])} | "
            f"{_f(r['traced_mb'])} | {_f(r['rss_mb'], '{:.0f}')} | {_f(r['rss_base_mb'], '{:.0f}')} | "
            f"{_f(r['pvalue'], '{:.3g}')} |"
        )
    if any(r.get("reused_from_earlier_run") for r in res["single"]):
        lines += ["", "The causal-learn KCI row was measured in an earlier run of this script (--reuse-kci)."]
    lines += ["", "Ratios of cold median CPU times: "]
    for a, b in res.get("ratios", []):
        lines.append(f"- {a}")
    lines += ["", "## Growth in n (|Z| = 3, bootstrap resamples of the table)", "",
              "| test | n | cold median (ms) | cold CPU (ms) | CPU ms per 1,000 rows | traced peak (MB) | process peak RSS (MB) |",
              "|---|---|---|---|---|---|---|"]
    for r in res["growth"]:
        if "error" in r:
            lines.append(f"| {r['impl']} | {r['n']} | error: {r['error']} | | | | |")
            continue
        lines.append(f"| {r['impl']} | {r['n']} | {_f(r['cold_median_ms'])} | {_f(r['cold_cpu_median_ms'])} | "
                     f"{_f(r['cold_cpu_median_ms'] / r['n'] * 1000, '{:.2f}')} | "
                     f"{_f(r['traced_mb'])} | {_f(r['rss_mb'], '{:.0f}')} |")
    if res.get("pc"):
        lines += ["", "## PC on the 13 athle-demo columns (n = 4,181)", "",
                  "| test | seconds | CPU seconds | CI tests run | memo hits | edges | peak RSS (MB) |",
                  "|---|---|---|---|---|---|---|"]
        for r in res["pc"]:
            if "error" in r:
                lines.append(f"| {r['impl']} | error: {r['error']} | | | | | |")
                continue
            lines.append(f"| {r['impl'].split('-', 1)[1]} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {_f(r['tests'], '{}')} | "
                         f"{_f(r['memo_hits'], '{}')} | {_f(r['edges'], '{}')} | {r['rss_mb']:.0f} |")
    lines.append("")
    return "\n".join(lines)


def cpu_ratios(single: list[dict]) -> list[tuple[str, float]]:
    """Ratios of median CPU times per test (CPU time is what a loaded machine distorts least)."""
    cpu = {(r["impl"], r["n"], r["k"]): r.get("cold_cpu_median_ms") for r in single}
    ratios = []
    for k in (1, 2, 3):
        lr = cpu.get(("lowrank", 4181, k))
        for other in ("rcit", "causallearn-rcit", "causallearn-kci"):
            o = cpu.get((other, 4181, k))
            if lr and o:
                ratios.append((f"|Z| = {k}: {other} / lowrank = {o / lr:,.1f}", o / lr))
    return ratios


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--kci-reps", type=int, default=1, help="causal-learn KCI repetitions (~40 s each)")
    ap.add_argument("--no-kci", action="store_true", help="skip causal-learn KCI")
    ap.add_argument("--reuse-kci", action="store_true",
                    help="take the causal-learn KCI row from the existing ci_speed.json (it takes minutes)")
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--render", action="store_true", help="only rewrite the markdown from the JSON")
    ap.add_argument("--out", default=str(ROOT / "results" / "benchmarks"))
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return 0
    if args.render:
        from causaltraits.runs import write_json, write_text

        path = Path(args.out) / ("ci_speed_quick.json" if args.quick else "ci_speed.json")
        res = json.loads(path.read_text())
        res["ratios"] = cpu_ratios(res["single"])
        write_json(path, res)
        write_text(path.with_suffix(".md"), markdown(res))
        return 0
    from tqdm import tqdm

    reps = 3 if args.quick else args.reps
    sizes = [1000, 2000, 4000] if args.quick else SIZES
    specs = []
    for k in (1, 2, 3):
        for impl in ("lowrank", "rcit", "rcot", "causallearn-rcit"):
            specs.append({"group": "single", "impl": impl, "n": 4181, "k": k, "reps": reps})
    if not args.no_kci and not args.quick:
        specs.append({"group": "single", "impl": "causallearn-kci", "n": 4181, "k": 1, "reps": args.kci_reps,
                      "trace": False})
    specs.append({"group": "single", "impl": "lowrank", "n": 10000, "k": 3, "reps": reps})
    for n in sizes:
        for impl in ("lowrank", "rcit"):
            specs.append({"group": "growth", "impl": impl, "n": n, "k": 3, "reps": max(3, reps // 3)})
    for impl in ("pc-fisherz", "pc-lowrank"):
        specs.append({"group": "pc", "impl": impl, "n": 4181, "k": 0, "reps": 1})
    res: dict = {"single": [], "growth": [], "pc": []}
    previous = {}
    old = Path(args.out) / "ci_speed.json"
    if args.reuse_kci and old.exists():
        previous = {(r["impl"], r["n"], r["k"]): r for r in json.loads(old.read_text())["single"]
                    if r["impl"] == "causallearn-kci" and "error" not in r}
    for spec in tqdm(specs, desc="measurements", file=sys.stderr):
        reused = previous.get((spec["impl"], spec["n"], spec["k"]))
        res[spec["group"]].append({**reused, "reused_from_earlier_run": True} if reused else run_child(spec))
    res["ratios"] = cpu_ratios(res["single"])
    res["meta"] = {"quick": args.quick, "reps": reps, "cpus": os.cpu_count(), "load": os.getloadavg()[0],
                   "source": load_table(None)[3], "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    from causaltraits.runs import write_json, write_text

    out = Path(args.out)
    suffix = "_quick" if args.quick else ""
    write_json(out / f"ci_speed{suffix}.json", res)
    text = markdown(res)
    write_text(out / f"ci_speed{suffix}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
