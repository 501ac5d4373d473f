"""The variant-digits CRL benchmark (the CRL model and three baselines), saved after every seed.

Writes ``results/benchmarks/crl_benchmark.json`` and ``crl_benchmark.md`` (atomically, after each
seed, so an interrupted run keeps the seeds it finished). Same computation as
``causaltraits crl benchmark``; this script exists to record the reference numbers.

    python benchmarks/crl_benchmark.py --seeds 5 --rows 10000 --epochs 150
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--mnist", default=None)
    ap.add_argument("--methods", default="crl,autoencoder,beta_vae,published")
    ap.add_argument("--out", default="results/benchmarks/crl_benchmark")
    args = ap.parse_args(argv)

    from causaltraits.crl.benchmark import format_tables, run_benchmark
    from causaltraits.runs import atomic_write, package_versions, write_json

    out = Path(args.out)

    def save(res: dict) -> None:
        res = dict(res)
        res["versions"] = package_versions()
        res["argv"] = sys.argv[1:]
        res["load_average_1min"] = os.getloadavg()[0]
        res["table_markdown"] = format_tables(res["summary"], res["runs"], res["true_latents"])
        write_json(out.with_suffix(".json"), res)
        with atomic_write(out.with_suffix(".md"), encoding="utf-8") as fh:
            s = res["settings"]
            fh.write("# CRL benchmark: variant digits\n\n")
            fh.write(f"{s['rows']} rows ({s['source']}), seeds done {s['seeds_done']} of {s['seeds']}, "
                     f"max {s['epochs']} epochs, test split 20%; mean ± sd over seeds.\n\n")
            fh.write(res["table_markdown"])

    res = run_benchmark(seeds=list(range(args.seeds)), rows=args.rows, mnist=args.mnist,
                        methods=[m for m in args.methods.split(",") if m], epochs=args.epochs,
                        progress=True, log=lambda s: print(s, flush=True), on_seed=save)
    print(format_tables(res["summary"], res["runs"], res["true_latents"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
