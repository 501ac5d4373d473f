"""How well PC recovers the demo truths: adjacency and arrowhead F1 per demo and CI test.

Runs PC with the datasets' tier knowledge at alpha 0.05 (test-wise deletion of missing values)
twice per demo and test: with causaltraits' own search (``causaltraits.discovery.search``) and
with causal-learn's ``pc`` driven by the same causaltraits CI test through a ``CIT_Base``
adapter. Also times the in-memory generation of each demo. Prints a table (and the missed / extra
adjacencies) and writes
``results/benchmarks/demo_recovery.json``.

Usage: ``python benchmarks/demo_recovery.py [--seeds 20250911 1 2] [--tests mixed fisherz]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from causaltraits.data.demo import DEFAULT_SEED, DEMOS, generate_demo
from causaltraits.discovery.graph import Graph
from causaltraits.independence import make_test

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "demo_recovery.json"


def _scores(est: Graph, truth: Graph) -> dict:
    """Adjacency and arrowhead precision / recall / F1 (own arithmetic, kept beside the tool's)."""

    def prf(tp: int, n_est: int, n_true: int) -> tuple[float, float, float]:
        p = tp / n_est if n_est else 1.0
        r = tp / n_true if n_true else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    ea, ta = est.adjacencies(), truth.adjacencies()
    ap, ar, af = prf(len(ea & ta), len(ea), len(ta))

    def heads(g: Graph) -> set[tuple[str, str]]:
        out = set()
        for e in g.edges:
            if e.type[2] == ">":
                out.add((e.source, e.target))
            if e.type[0] == "<":
                out.add((e.target, e.source))
        return out

    eh, th = heads(est), heads(truth)
    hp, hr, hf = prf(len(eh & th), len(eh), len(th))
    missed = sorted(f"{a}-{b}" for a, b in (tuple(sorted(s)) for s in ta - ea))
    extra = sorted(f"{a}-{b}" for a, b in (tuple(sorted(s)) for s in ea - ta))
    return {"adj_precision": ap, "adj_recall": ar, "adj_f1": af,
            "arrow_precision": hp, "arrow_recall": hr, "arrow_f1": hf,
            "missed": missed, "extra": extra}


def standardized(ds):
    """A copy of ``ds`` whose non-categorical columns are centred and scaled.

    Every test used here is invariant to affine maps of a numeric column, so this changes no
    p-value in exact arithmetic; it was a workaround for an early ``mixed`` test whose rank
    tolerance was relative to a column's raw scale (``Birthyear`` ~ 1995 with sd ~ 5 is nearly
    collinear with the intercept), kept to check that invariance.
    """
    from dataclasses import replace

    frame = ds.frame.copy()
    cat = set(ds.roles.categorical)
    for c in ds.analysis_variables():
        if c not in cat:
            v = frame[c]
            frame[c] = (v - v.mean()) / v.std()
    return replace(ds, frame=frame)


def oracle_separation(ds, test: str = "mixed") -> dict:
    """CI tests at the true separating sets: a quick view of what PC can and cannot recover.

    For every non-adjacent pair (a, b) of the truth, ``a _||_ b | pa(a) + pa(b)`` holds in the
    population (one of the two is a non-descendant of the other); a p-value below alpha there
    marks a likely extra edge. For every true edge, the p-value given the child's other parents
    shows how strongly the data carry it.
    """
    import networkx as nx

    cols = ds.analysis_variables()
    t = make_test(test, ds.matrix(cols), kinds=ds.kinds(cols))
    idx = {c: i for i, c in enumerate(cols)}
    dag = nx.DiGraph(list(ds.truth.directed()))
    dag.add_nodes_from(cols)
    pa = {v: set(dag.predecessors(v)) for v in cols}
    nonedge, edge = {}, {}
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            if dag.has_edge(a, b) or dag.has_edge(b, a):
                child, parent = (b, a) if dag.has_edge(a, b) else (a, b)
                z = sorted(pa[child] - {parent})
                edge[f"{parent}->{child}"] = t(idx[a], idx[b], tuple(idx[c] for c in z))
            else:
                z = sorted((pa[a] | pa[b]) - {a, b})
                nonedge[f"{a}-{b}"] = t(idx[a], idx[b], tuple(idx[c] for c in z))
    return {"nonedge_p": nonedge, "edge_p": edge}


def _causallearn_pc(ds, test: str, alpha: float) -> Graph:
    """causal-learn's PC with tier knowledge, calling a causaltraits CI test (test-wise deletion)."""
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.search.ConstraintBased.PC import pc
    from causallearn.utils.cit import CIT_Base, register_ci_test
    from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

    cols = ds.analysis_variables()
    data = ds.matrix(cols)
    ct = make_test(test, data, kinds=ds.kinds(cols))

    class _Adapter(CIT_Base):
        def __init__(self, data, **kwargs):
            super().__init__(data, **kwargs)
            self.method = f"causaltraits_{test}"

        def __call__(self, X, Y, condition_set=None):
            return ct(int(X), int(Y), tuple(int(c) for c in (condition_set or ())))

    register_ci_test("causaltraits_adapter", _Adapter)
    bk = BackgroundKnowledge()
    for k, tier in enumerate(ds.tiers(cols)):
        for v in tier:
            bk.add_node_to_tier(GraphNode(v), k)
    with open(os.devnull, "w") as devnull:  # causal-learn prints; keep stdout for the table
        old, sys.stdout = sys.stdout, devnull
        try:
            cg = pc(data, alpha, "causaltraits_adapter", background_knowledge=bk, node_names=cols,
                    show_progress=False)
        finally:
            sys.stdout = old
    return Graph.from_causallearn(cg.G, cols)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[DEFAULT_SEED])
    ap.add_argument("--tests", nargs="+", default=["mixed", "fisherz"])
    ap.add_argument("--demos", nargs="+", default=list(DEMOS))
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--no-causallearn", action="store_true")
    ap.add_argument("--causallearn-seeds", type=int, default=1,
                    help="cross-check with causal-learn's pc on the first N seeds only (it is slower)")
    ap.add_argument("--standardize", action="store_true",
                    help="centre and scale numeric columns first (changes no p-value of an affine-invariant test)")
    ap.add_argument("--max-depth", type=int, default=None)
    ap.add_argument("--oracle", action="store_true",
                    help="only the CI tests at the true separating sets (fast), no search")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)

    from causaltraits.discovery.search import discover

    gen_seconds = {}
    for name in args.demos:  # generation time: median of 5 in-memory generations
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            generate_demo(name, seed=DEFAULT_SEED)
            times.append(time.perf_counter() - t0)
        gen_seconds[name] = float(np.median(times))
        print(f"generate {name}: median {gen_seconds[name]:.3f} s", file=sys.stderr)

    rows = []
    for name in args.demos:
        for seed in args.seeds:
            ds = generate_demo(name, seed=seed)
            if args.standardize:
                ds = standardized(ds)
            if args.oracle:
                for test in args.tests:
                    o = oracle_separation(ds, test)
                    bad = {k: round(v, 4) for k, v in o["nonedge_p"].items() if v < args.alpha}
                    weak = {k: float(f"{v:.2g}") for k, v in o["edge_p"].items() if v > 1e-4}
                    print(f"{name} seed={seed} {test}: {len(bad)} non-edges dependent at the true "
                          f"separating set {bad}; weak true edges {weak}")
                continue
            for test in args.tests:
                t0 = time.perf_counter()
                res = discover(ds, test=test, alpha=args.alpha, max_depth=args.max_depth)
                dt = time.perf_counter() - t0
                rows.append({"demo": name, "seed": seed, "test": test, "search": "causaltraits",
                             "seconds": dt, **_scores(res.graph, ds.truth)})
                if not args.no_causallearn and seed in args.seeds[: args.causallearn_seeds]:
                    t0 = time.perf_counter()
                    g = _causallearn_pc(ds, test, args.alpha)
                    dt = time.perf_counter() - t0
                    rows.append({"demo": name, "seed": seed, "test": test, "search": "causal-learn",
                                 "seconds": dt, **_scores(g, ds.truth)})
                print(f"... {name} seed={seed} {test} done", file=sys.stderr)

    head = f"{'demo':<11} {'seed':>9} {'test':<8} {'search':<13} {'adjP':>5} {'adjR':>5} {'adjF1':>5} " \
           f"{'arrP':>5} {'arrR':>5} {'arrF1':>5} {'sec':>6}"
    print(head)
    for r in rows:
        print(f"{r['demo']:<11} {r['seed']:>9} {r['test']:<8} {r['search']:<13} {r['adj_precision']:5.2f} "
              f"{r['adj_recall']:5.2f} {r['adj_f1']:5.2f} {r['arrow_precision']:5.2f} {r['arrow_recall']:5.2f} "
              f"{r['arrow_f1']:5.2f} {r['seconds']:6.1f}")
    for r in rows:
        if r["missed"] or r["extra"]:
            print(f"{r['demo']} seed={r['seed']} {r['test']} {r['search']}: missed {r['missed']} extra {r['extra']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"alpha": args.alpha, "standardized": bool(args.standardize),
                               "generate_seconds": gen_seconds, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
