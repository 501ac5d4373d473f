"""`causaltraits independence`: the Level I battery (traits x attributes, several tests, corrected)."""

from __future__ import annotations

import time

import click

from causaltraits.cli.common import check_alpha, pass_dataset, report_after_run, split_list
from causaltraits.errors import ParameterError


@click.command("independence")
@pass_dataset(embeddings=False)
@click.option("--traits", metavar="A,B", help="Trait columns (or bare trait names) to test [default: all].")
@click.option("--attributes", metavar="C,D", help="Attribute columns to test [default: all].")
@click.option("--tests", "tests", metavar="T1,T2", default=None,
              help="CI tests [default: kci,rcit,hsic,chisq,gsq,fisherz, those installed].")
@click.option("--llm", default="aggregate", show_default=True, metavar="aggregate|all|NAME",
              help="Whose trait scores: the aggregate, every LLM, or one LLM.")
@click.option("--correction", default="fdr_bh", show_default=True, metavar="fdr_bh|bonferroni|none",
              help="Multiple-testing correction, per LLM and test.")
@click.option("--alpha", default=0.05, show_default=True, type=float, help="Significance level of the q-values.")
@click.option("--out", metavar="DIR", type=click.Path(), default=None,
              help="Run directory [default: results/runs/<dataset>-independence-<timestamp>/].")
@click.option("--force", is_flag=True, help="Replace a non-empty --out directory (once the new run is complete).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the randomised tests.")
@click.option("--report", "make_report", is_flag=True, help="Build the PDF report from the run afterwards.")
def independence(ds, traits, attributes, tests, llm, correction, alpha, out, force, seed, make_report) -> None:
    """Test every trait against every attribute (Level I) and write matrices, heatmaps and a summary.

    Example: causaltraits independence --dataset athle-demo --tests rcit,chisq --llm all
    """
    from causaltraits import runs
    from causaltraits.independence.base import available_tests
    from causaltraits.independence.battery import CORRECTIONS, DEFAULT_TESTS, plan_battery, run_battery

    # ---- validate everything before any work, so that bad input writes nothing
    check_alpha(alpha)
    if correction not in CORRECTIONS:
        raise ParameterError(f"--correction must be one of {', '.join(CORRECTIONS)}, got '{correction}'")
    known = available_tests()
    skipped: list[str] = []
    if tests is None:
        chosen = [t for t in DEFAULT_TESTS if t in known]
        skipped = [t for t in DEFAULT_TESTS if t not in known]
    else:
        chosen = split_list(tests) or []
        if not chosen:
            raise ParameterError("--tests is empty; give e.g. --tests rcit,chisq")
        chosen = [t.lower() for t in chosen]
        unknown = [t for t in chosen if t not in known]
        if unknown:
            raise ParameterError(f"--tests: unknown test(s) {', '.join(unknown)}; available: {', '.join(known)}")
    trait_list, attr_list = split_list(traits), split_list(attributes)
    llm = llm.strip()
    by_llm, attrs, _ = plan_battery(ds, llm, trait_list, attr_list)
    # all-missing or constant columns are refused up front; rows are deleted test by test later
    ds.check_variables(list(dict.fromkeys([*attrs, *(c for v in by_llm.values() for c in v)])), min_rows=0)
    if out is not None:
        runs.check_output_dir(out, force=force)

    # ---- run
    params = {"tests": chosen, "llm": llm, "correction": correction, "alpha": alpha,
              "traits": trait_list, "attributes": attr_list}
    t0 = time.perf_counter()
    with runs.open_run(out, f"{ds.name}-independence", force=force) as run:
        _reuse_cache(out, run.path / "cache")
        result = run_battery(ds, tests=chosen, llm=llm, correction=correction, alpha=alpha,
                             traits=trait_list, attributes=attr_list, seed=seed,
                             cache_dir=run.path / "cache", progress=True)
        result.write(run.path)
        from causaltraits.report import profile_dataset

        run.write_json("data_profile.json", profile_dataset(ds))
        manifest = runs.base_manifest("independence", ds, {**params, **result.parameters()}, seed)
        manifest["timings_s"] = {**{k: round(v, 4) for k, v in result.timings_s.items()},
                                 "total": round(time.perf_counter() - t0, 4)}
        manifest["tests_not_installed"] = skipped
        manifest["cache"] = result.cache_stats
        run.write_json("manifest.json", manifest)
    elapsed = time.perf_counter() - t0

    # ---- terminal summary
    counts = result.dependent_counts()
    click.echo(f"Level I battery on {ds.name} ({ds.n:,} rows): {len(attrs)} attributes x "
               f"{', '.join(f'{k} ({len(v)} traits)' for k, v in result.traits.items())}; "
               f"{correction} at alpha {alpha:g}")
    llms = result.llms
    width = max(12, *(len(m) + 2 for m in llms))
    click.echo("dependent pairs (q < alpha) / pairs tested:")
    click.echo(f"  {'test':<9}" + "".join(f"{m:>{width}}" for m in llms) + f"{'seconds':>10}")
    for test in result.tests:
        sub = counts[counts["test"] == test].set_index("llm")
        frac = [f"{sub.at[m, 'dependent']}/{sub.at[m, 'tested']}" for m in llms]
        cells = "".join(f"{v:>{width}}" for v in frac)
        click.echo(f"  {test:<9}{cells}{result.timings_s.get(test, float('nan')):>10.2f}")
    na = counts.groupby("test", sort=False)["not_applicable"].max()
    na = na[na > 0]
    if len(na):
        click.echo("  not applicable (a variable of a kind the test does not take): "
                   + ", ".join(f"{t} {k} cells" for t, k in na.items()))
    if result.cache_stats and result.cache_stats.get("hits"):
        click.echo(f"result cache: {result.cache_stats['hits']} read back, {result.cache_stats['misses']} computed")
    if skipped:
        click.echo(f"not installed, skipped: {', '.join(skipped)}")
    click.echo(f"done in {elapsed:.1f} s; written to {run.path}")

    if make_report:
        report_after_run(run.path)


def _reuse_cache(out, cache_dir) -> None:
    """Start from the result cache of the run being replaced (--force): a rerun of the same test on
    the same data is then read back instead of recomputed (the cache keys check both)."""
    import shutil
    from pathlib import Path

    if out is None:
        return
    old = Path(out) / "cache"
    if old.is_dir():
        shutil.copytree(old, cache_dir, dirs_exist_ok=True)
