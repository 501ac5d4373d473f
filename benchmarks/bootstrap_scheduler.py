"""Benchmark: bootstrap edge stability run serially vs on a 2-worker dask.distributed cluster.

Side by side in one run, on athle-demo (PC, ``--test`` auto by default, seed 0),
``bootstrap_edges`` with ``--resamples`` resamples:

- serial: ``scheduler=None`` (the default path, one process);
- dask, 2 worker processes x 1 thread: ``LocalCluster(n_workers=2, threads_per_worker=1)``,
  passed by address exactly as ``causaltraits discover --scheduler ADDRESS`` does;
- dask, 2 worker threads in this process: ``LocalCluster(n_workers=2, processes=False)``
  (no pickling of the dataset to other processes, but the workers share the GIL).

The modes alternate within each repeat (same machine load). Cluster start-up is timed
separately and not included in the per-mode wall time (a user's cluster is already running).
Every mode must return exactly the serial frequencies; the script fails otherwise.

Usage: python benchmarks/bootstrap_scheduler.py [--resamples 20] [--repeats 2] [--test lowrank]
Writes results/benchmarks/bootstrap_scheduler.json and .md (``bootstrap_scheduler_<test>.*`` for a
test other than auto: with ``auto`` one resample takes about 0.2 s, too little work to gain from
two processes; ``lowrank`` takes seconds per resample).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resamples", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dataset", default="athle-demo")
    ap.add_argument("--test", default="auto", help="CI test of every PC run (as discover --test)")
    args = ap.parse_args()
    import logging

    logging.getLogger("distributed").setLevel(logging.WARNING)  # keep the table readable

    from distributed import LocalCluster

    from causaltraits.data import load_dataset
    from causaltraits.discovery.stability import bootstrap_edges

    ds = load_dataset(args.dataset)
    load_before = os.getloadavg()[0]
    kw = dict(algorithm="pc", test=args.test, seed=0)
    t0 = time.perf_counter()
    procs = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    start_procs = time.perf_counter() - t0
    t0 = time.perf_counter()
    threads = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    start_threads = time.perf_counter() - t0
    modes = {"serial": None, "dask-2-processes": procs.scheduler_address,
             "dask-2-threads": threads.scheduler_address}
    walls: dict[str, list[float]] = {m: [] for m in modes}
    cpus: dict[str, list[float]] = {m: [] for m in modes}
    reference = None
    try:
        for _ in range(args.repeats):
            for mode, address in modes.items():
                c0, w0 = time.process_time(), time.perf_counter()
                freq = bootstrap_edges(ds, args.resamples, scheduler=address, **kw)
                walls[mode].append(time.perf_counter() - w0)
                cpus[mode].append(time.process_time() - c0)  # this process only (not other workers)
                if reference is None:
                    reference = freq
                elif not freq.equals(reference):
                    raise SystemExit(f"{mode}: frequencies differ from the serial run")
    finally:
        procs.close()
        threads.close()

    load_after = os.getloadavg()[0]
    serial = statistics.median(walls["serial"])
    rows = []
    for mode in modes:
        wall = statistics.median(walls[mode])
        rows.append({"mode": mode, "wall_s_median": round(wall, 3), "walls_s": [round(w, 3) for w in walls[mode]],
                     "client_cpu_s_median": round(statistics.median(cpus[mode]), 3),
                     "speedup_vs_serial": round(serial / wall, 2), "identical_to_serial": True})
    result = {"benchmark": "bootstrap_scheduler", "dataset": ds.name, "n": ds.n, "resamples": args.resamples,
              "repeats": args.repeats, "algorithm": "pc", "test": args.test, "seed": 0,
              "cluster_start_s": {"dask-2-processes": round(start_procs, 3), "dask-2-threads": round(start_threads, 3)},
              "cpu_count": os.cpu_count(), "load_average_1min": [round(load_before, 2), round(load_after, 2)],
              "python": platform.python_version(), "rows": rows}
    from causaltraits.runs import write_json, write_text

    stem = "bootstrap_scheduler" + ("" if args.test == "auto" else f"_{args.test}")
    write_json(OUT / f"{stem}.json", result)
    lines = [f"# bootstrap_edges on {ds.name} (n={ds.n}), test {args.test}, {args.resamples} resamples, "
             f"median of {args.repeats}",
             "", "| mode | wall s (median) | runs | speedup vs serial |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['wall_s_median']} | {r['walls_s']} | {r['speedup_vs_serial']} |")
    lines.append("")
    lines.append(f"cluster start-up (not included): {result['cluster_start_s']}; cores: {os.cpu_count()} (shared; "
                 f"1-min load average {load_before:.1f} before, {load_after:.1f} after)")
    write_text(OUT / f"{stem}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
