"""`causaltraits discover`: PC or FCI on a dataset, written to a run directory."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click

from causaltraits.cli.common import check_alpha, dataset_options, load_from_options, report_after_run
from causaltraits.errors import ParameterError


def _check_test_name(test: str) -> str:
    from causaltraits.independence import available_tests

    names = available_tests()
    if test != "auto" and test not in names:
        raise ParameterError(f"unknown --test '{test}'; expected auto or one of {', '.join(names)}")
    return test


@click.command("discover")
@dataset_options
@click.option("--algorithm", type=click.Choice(["pc", "fci"], case_sensitive=False), default="pc", show_default=True,
              help="pc: a pattern (no hidden confounders); fci: a PAG (allows hidden confounders).")
@click.option("--test", "test", default="auto", show_default=True, metavar="NAME",
              help="CI test: auto | fisherz | chisq | gsq | kci | rcit | lowrank | mixed | ... "
                   "(auto picks from the column kinds).")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level of each CI test.")
@click.option("--llm", default="aggregate", show_default=True, help="Trait columns: aggregate or one LLM's name.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run directory [default: results/runs/<dataset>-<timestamp>/].")
@click.option("--force", is_flag=True, help="Replace a non-empty --out directory (once the new run is complete).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of randomised tests.")
@click.option("--max-depth", type=click.IntRange(min=0), default=None,
              help="Largest conditioning set in the skeleton search [default: no limit].")
@click.option("--bootstrap", type=click.IntRange(min=0), default=0, show_default=True,
              help="Edge stability over N seeded bootstrap resamples (writes stability.csv).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="With --bootstrap: run the resamples on the dask.distributed scheduler at ADDRESS "
                   "(e.g. tcp://HOST:8786; optional extra dask). Same results as a local run.")
@click.option("--report", "make_report", is_flag=True, help="Build the PDF report from the run directory.")
def discover(dataset, data_path, columns, categorical, schema, data_dir, algorithm, test, alpha, llm, out, force,
             seed, max_depth, bootstrap, scheduler, make_report) -> None:
    """Estimate a causal graph over traits and attributes with PC or FCI.

    Biography comes first in time: traits and face attributes never cause biography (tier
    knowledge). Writes graph.json/.graphml/.dot/.png, citests.csv, adjacencies.csv, manifest.json,
    data_profile.json and, when the truth is known (demo data), scores.json and truth.json.

    Example: causaltraits discover --dataset athle-demo --algorithm fci
    """
    from causaltraits import runs
    from causaltraits.discovery.search import discover as run_discover
    from causaltraits.discovery.search import plan_discovery

    t_start = time.perf_counter()
    # validate every option, and the output location, before any work
    check_alpha(alpha)
    algorithm = algorithm.lower()
    _check_test_name(test)
    if scheduler and not bootstrap:
        raise ParameterError("--scheduler needs --bootstrap N")
    if scheduler:  # dask installed and the scheduler answering, before any work
        from causaltraits.parallel import check_scheduler

        check_scheduler(scheduler)
    if out is not None:
        runs.check_output_dir(out, force=force)
    ds = load_from_options(dataset, data_path, columns, categorical, schema, data_dir,
                           embeddings=False)
    plan = plan_discovery(ds, algorithm=algorithm, test=test, alpha=alpha, llm=llm)
    t_loaded = time.perf_counter()

    params = {"algorithm": algorithm, "test": test, "test_used": plan.test, "alpha": alpha, "llm": llm,
              "max_depth": max_depth, "bootstrap": bootstrap, "scheduler": scheduler, "out": out, "force": force,
              "variables": plan.variables, "kinds": dict(zip(plan.variables, plan.kinds)),
              "knowledge": plan.knowledge.to_dict()}
    with runs.open_run(out, ds.name, force=force) as run:
        old_cache = run.final / "cache"
        if old_cache.is_dir():  # --force over an earlier run: keep its CI-test results
            shutil.copytree(old_cache, run.path / "cache", dirs_exist_ok=True)
        res = run_discover(ds, algorithm=algorithm, test=plan.test, alpha=alpha, llm=llm, seed=seed,
                           max_depth=max_depth, knowledge=plan.knowledge, progress=True,
                           cache_dir=run.path / "cache")
        t_search = time.perf_counter()
        res.save(run)
        from causaltraits.report import profile_dataset

        run.write_json("data_profile.json", profile_dataset(ds))
        stability = None
        t_boot = 0.0
        if bootstrap:
            from causaltraits.discovery.stability import bootstrap_edges

            t_boot = time.perf_counter()
            stability = bootstrap_edges(ds, n_resamples=bootstrap, algorithm=algorithm, test=plan.test, alpha=alpha,
                                        llm=llm, seed=seed, max_depth=max_depth, scheduler=scheduler, progress=True)
            stability.to_csv(run.file("stability.csv"), index=False)
            t_boot = time.perf_counter() - t_boot  # the resamples alone, not the graph files written before
        t_end = time.perf_counter()
        params["pds_depth"] = res.params.get("pds_depth") if algorithm == "fci" else None
        manifest = runs.base_manifest("discover", ds, params, seed)
        manifest["test_used"] = plan.test
        manifest["results"] = {
            "edges": len(res.graph), "edge_types": res.edge_counts(), "ci_tests": len(res.citests),
            "memo_hits": res.info.get("memo_hits", 0), "cache_hits": res.info.get("cache_hits"),
            "pc_orientation_conflicts": res.info.get("conflicts"), "scores": res.scores,
        }
        manifest["timings_s"] = {"load_and_validate": round(t_loaded - t_start, 3),
                                 "search": round(res.timings_s.get("search", t_search - t_loaded), 3),
                                 "bootstrap": round(t_boot, 3),
                                 "total": round(t_end - t_start, 3)}
        manifest["files"] = sorted(p.name for p in Path(run.path).iterdir()) + ["manifest.json"]
        run.write_json("manifest.json", manifest)
    run_dir = run.path

    click.echo(res.summary())
    if stability is not None:
        click.echo(f"bootstrap: {bootstrap} resamples -> stability.csv")
    click.echo(f"total time: {time.perf_counter() - t_start:.1f} s")
    click.echo(f"run written to {run_dir}")
    if make_report:
        report_after_run(run_dir)
