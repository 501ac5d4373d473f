"""Benchmark: discovery time on the demo data, causaltraits against causal-learn, side by side.

For each demo (athle-demo, celeb-demo) and algorithm (PC, FCI):

- ``causaltraits``: ``discover(ds, algorithm, test)`` (own PC-stable / FCI search, tier knowledge,
  every CI test logged), search time only (data loaded once);
- ``causal-learn``: ``pc`` / ``fci`` driven by the same causaltraits CI test through a
  ``CIT_Base`` adapter registered with ``register_ci_test`` (its own cache disabled), with the same
  tier knowledge as a ``BackgroundKnowledge``; FCI's stdout suppressed.

Both sides use the same test (``--test``, default ``mixed``: the test ``auto`` picks on the demos)
and alpha; the table reports the median of ``--repeats`` runs, the ratio, the number of CI tests
each side ran and the adjacency F1 against the demo truth. Also the end-to-end command
``causaltraits discover --dataset NAME`` wall time (a subprocess: imports, load, search, all files).

Usage: python benchmarks/discover_speed.py [--repeats 3] [--test mixed] [--no-cli]
Writes results/benchmarks/discover_speed.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks" / "discover_speed.json"


def _causallearn_run(ds, algorithm: str, test: str, alpha: float):
    from causallearn.search.ConstraintBased.FCI import fci
    from causallearn.search.ConstraintBased.PC import pc
    from causallearn.utils.cit import CIT_Base, register_ci_test

    from causaltraits.discovery.graph import Graph
    from causaltraits.discovery.knowledge import Knowledge
    from causaltraits.independence import make_test

    cols = ds.analysis_variables()
    data = ds.matrix(cols)
    ours = make_test(test, data, kinds=ds.kinds(cols))
    counter = {"n": 0}

    class Adapter(CIT_Base):
        def __init__(self, d, **kwargs):
            super().__init__(np.nan_to_num(d))  # CIT_Base refuses nothing, but hashes the data
            self.method = "ct_bench"

        def __call__(self, X, Y, condition_set=None):
            counter["n"] += 1
            return ours(int(X), int(Y), tuple(int(c) for c in (condition_set or ())))

    register_ci_test("ct_bench", Adapter)
    bk = Knowledge.from_dataset(ds, cols).to_causallearn(cols)
    t0 = time.perf_counter()
    if algorithm == "pc":
        cg = pc(data, alpha, "ct_bench", background_knowledge=bk, show_progress=False, node_names=cols)
        mat = cg.G.graph
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            g, _ = fci(data, "ct_bench", alpha, background_knowledge=bk, show_progress=False, node_names=cols)
        mat = g.graph
    dt = time.perf_counter() - t0
    try:
        graph = Graph.from_causallearn(mat, cols)
        adj = graph.adjacencies()
    except ValueError:  # tail-circle marks (causal-learn issue 266): score the skeleton only
        adj = {frozenset((cols[i], cols[j])) for i in range(len(cols)) for j in range(i + 1, len(cols))
               if mat[i, j] != 0}
    truth = ds.truth.restricted(cols).adjacencies()
    tp = len(adj & truth)
    p = tp / len(adj) if adj else 0.0
    r = tp / len(truth) if truth else 0.0
    return dt, counter["n"], (2 * p * r / (p + r) if p + r else 0.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--test", default="mixed")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--demos", nargs="+", default=["athle-demo", "celeb-demo"])
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end command timing")
    args = ap.parse_args(argv)

    from causaltraits.data import load_dataset
    from causaltraits.discovery.search import discover

    rows = []
    for name in args.demos:
        ds = load_dataset(name)
        for algorithm in ("pc", "fci"):
            ours_t, theirs_t = [], []
            for _ in range(args.repeats):
                res = discover(ds, algorithm=algorithm, test=args.test, alpha=args.alpha)
                ours_t.append(res.timings_s["search"])
                dt, n_theirs, f1_theirs = _causallearn_run(ds, algorithm, args.test, args.alpha)
                theirs_t.append(dt)
            row = {
                "dataset": name, "algorithm": algorithm, "test": args.test, "n": ds.n,
                "variables": len(res.graph.nodes),
                "causaltraits_s": statistics.median(ours_t), "causallearn_s": statistics.median(theirs_t),
                "ratio": statistics.median(theirs_t) / statistics.median(ours_t),
                "causaltraits_tests": len(res.citests) + res.info.get("memo_hits", 0),
                "causaltraits_tests_run": len(res.citests), "causallearn_tests": n_theirs,
                "causaltraits_adj_f1": res.scores["adj_f1"], "causallearn_adj_f1": f1_theirs,
            }
            if not args.no_cli:
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "causaltraits", "discover", "--dataset", name,
                                    "--algorithm", algorithm, "--out", str(Path(tmp) / "run")],
                                   check=True, capture_output=True)
                    row["cli_wall_s"] = time.perf_counter() - t0
            rows.append(row)
            print(f"{name:11s} {algorithm:3s} ours {row['causaltraits_s']:7.2f} s ({row['causaltraits_tests_run']:6d} tests run)"
                  f"  causal-learn {row['causallearn_s']:7.2f} s ({row['causallearn_tests']:6d} calls)"
                  f"  ratio {row['ratio']:5.2f}  adjF1 {row['causaltraits_adj_f1']:.2f} / {row['causallearn_adj_f1']:.2f}"
                  + (f"  CLI {row['cli_wall_s']:.1f} s" if "cli_wall_s" in row else ""), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    print(f"written {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
