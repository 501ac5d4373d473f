"""`causaltraits crl`: causal representation learning (fit on a dataset; the variant-digits benchmark)."""

from __future__ import annotations

import click

from causaltraits.cli.common import pass_dataset, report_after_run
from causaltraits.errors import ParameterError


@click.group("crl")
def crl() -> None:
    """Learn latent variables from embeddings (multimodal, multi-measurement) and a graph among them."""


@crl.command("benchmark")
@click.option("--seeds", default=5, show_default=True, type=int, help="Number of seeds (0..N-1).")
@click.option("--rows", default=10_000, show_default=True, type=int, help="Rows of variant digits.")
@click.option("--mnist", metavar="PATH", type=click.Path(exists=True),
              help="MNIST IDX image file (or its directory) instead of scikit-learn's digits.")
@click.option("--epochs", default=150, show_default=True, type=int,
              help="Maximum epochs per model (early stopping usually ends them sooner).")
@click.option("--methods", default="crl,autoencoder,beta_vae,published", show_default=True,
              help="Comma-separated methods to run.")
@click.option("--out", metavar="DIR", type=click.Path(file_okay=False), help="Run directory.")
@click.option("--force", is_flag=True, help="Replace a non-empty --out once the run is complete.")
@click.option("--report", "make_report", is_flag=True, help="Also build the PDF report.")
def benchmark(seeds: int, rows: int, mnist: str | None, epochs: int, methods: str, out: str | None,
              force: bool, make_report: bool) -> None:
    """Variant-digits benchmark: the CRL model and three baselines, scored on a held-out test split."""
    from causaltraits.crl.pipeline import benchmark_run
    from causaltraits.runs import check_output_dir, open_run

    if seeds < 1:
        raise ParameterError(f"--seeds must be >= 1, got {seeds}")
    if epochs < 1:
        raise ParameterError(f"--epochs must be >= 1, got {epochs}")
    if out is not None:
        check_output_dir(out, force=force)
    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    with open_run(out, "crl-benchmark", force=force) as run:
        res = benchmark_run(run, list(range(seeds)), rows, mnist, epochs, methods=chosen, progress=True,
                            log=lambda s: click.echo(s, err=True))
    click.echo(res["table_markdown"], nl=False)
    click.echo(f"run directory: {run.path}")
    if make_report:
        report_after_run(run.path)


@crl.command("fit")
@pass_dataset
@click.option("--text-latents", default=7, show_default=True, type=int, help="Latents of the text modality.")
@click.option("--face-latents", default=4, show_default=True, type=int, help="Latents of the face modality.")
@click.option("--shared", default=0, show_default=True, type=int, help="Latents shared by all modalities.")
@click.option("--epochs", default=200, show_default=True, type=int, help="Maximum epochs.")
@click.option("--ica-init/--no-ica-init", default=True, show_default=True,
              help="Warm-start the latents from a linear ICA of each modality.")
@click.option("--refine/--no-refine", default=False, show_default=True,
              help="After training, refit each modality's latent coordinates to the prior and the "
                   "independent-mechanism contrast (kept only if it improves the validation rows).")
@click.option("--pc-test", type=click.Choice(["fisherz", "gcm"]), default="fisherz", show_default=True,
              help="CI test of the PC graphs over the latents; gcm regresses on splines of the "
                   "conditioning latents, so a monotone map of a latent does not add edges.")
@click.option("--restarts", default=1, show_default=True, type=int,
              help="Initialisations trained in full; the one whose face and text latents share the "
                   "most information (held-out, no labels) is kept. N times the training time.")
@click.option("--content-correction", is_flag=True,
              help="After training, correct the face and the text latent that share the most with the "
                   "other modality by a few terms of their modality's other latents, so that the rest "
                   "of the modality shares as little as possible with the other given it (assumes one "
                   "latent per modality carries what the two share; a warning says where it does not).")
@click.option("--restore-effects", is_flag=True,
              help="With --content-correction: put back a latent that the model has replaced by its own "
                   "noise (an effect minus a function of its modality's content latent), judged by the "
                   "measurements' local Jacobian; applied only where the evidence is strong.")
@click.option("--code-independence", default=0.0, show_default=True, type=float, metavar="WEIGHT",
              help="Weight of a penalty on the correlations between the noise codes of the text "
                   "modality's measurements (the three LLMs' embeddings), which the model takes as "
                   "independent; it keeps what they all show in the text latents. The variant-digits "
                   "benchmark uses 10; on the demo tables it did not raise MCC.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of all randomness.")
@click.option("--out", metavar="DIR", type=click.Path(file_okay=False), help="Run directory.")
@click.option("--force", is_flag=True, help="Replace a non-empty --out once the run is complete.")
@click.option("--report", "make_report", is_flag=True, help="Also build the PDF report.")
def fit(ds, text_latents: int, face_latents: int, shared: int, epochs: int, ica_init: bool, refine: bool,
        pc_test: str, restarts: int, content_correction: bool, restore_effects: bool, code_independence: float,
        seed: int, out: str | None,
        force: bool, make_report: bool) -> None:
    """Fit the CRL model to the face and text embeddings; write latents, graphs and metrics."""
    from causaltraits.crl.pipeline import fit_dataset
    from causaltraits.runs import check_output_dir, open_run

    for name, v in (("--text-latents", text_latents), ("--face-latents", face_latents), ("--shared", shared)):
        if v < 0:
            raise ParameterError(f"{name} must be >= 0, got {v}")
    if epochs < 1:
        raise ParameterError(f"--epochs must be >= 1, got {epochs}")
    if restarts < 1:
        raise ParameterError(f"--restarts must be >= 1, got {restarts}")
    if restarts > 1 and min(text_latents, face_latents) == 0:
        raise ParameterError("--restarts chooses by what the face and text latents share: it needs "
                             "--text-latents and --face-latents >= 1")
    if content_correction and (shared or min(text_latents, face_latents) == 0):
        raise ParameterError("--content-correction corrects by what the face and text latents share: it "
                             "needs --text-latents and --face-latents >= 1 and --shared 0")
    if not code_independence >= 0:
        raise ParameterError(f"--code-independence must be >= 0, got {code_independence}")
    if restore_effects and not content_correction:
        raise ParameterError("--restore-effects works on the content correction's result: add --content-correction")
    if out is not None:
        check_output_dir(out, force=force)
    with open_run(out, f"crl-{ds.name}", force=force) as run:
        m = fit_dataset(ds, run, seed=seed, latent_dims={"text": text_latents, "face": face_latents},
                        n_shared=shared, epochs=epochs, progress=True, refine=refine, pc_test=pc_test,
                        **({} if ica_init else {"anchor": 0.0}),
                        **({"restarts": restarts, "restart_select": "crossmodal"} if restarts > 1 else {}),
                        **({"content_correction": True} if content_correction else {}),
                        **({"restore_effects": True} if restore_effects else {}),
                        **({"code_independence": code_independence} if code_independence else {}))
    click.echo(f"CRL fit on {ds.name}: {m['rows_used']} rows, {m['epochs_run']} epochs in {m['timings_s']['fit']:.1f} s")
    if "restarts" in m:
        r = m["restarts"]
        click.echo(f"kept initialisation {r['chosen'] + 1} of {len(r['scores'])} (cross-modal scores "
                   f"{', '.join(f'{x:.3f}' for x in r['scores'])}; {r['epochs_trained']} epochs trained in all)")
    for c in m.get("content_correction", []):
        click.echo(f"content correction of {c['column']}: what the rest of its modality still shares with the "
                   f"other given it {c['residual_correlation_before']:.3f} -> {c['residual_correlation_after']:.3f} "
                   f"({c['criterion']} criterion; the full criterion's minimum {c['residual_correlation_min']:.3f}, "
                   f"independence level {c['residual_correlation_null']:.3f}, p = {c['residual_p_value']:.3f})")
        if not c["one_latent_shares"]:
            click.echo(f"warning: {c['column']}'s modality may share with the other through more than one latent "
                       f"(still {c['residual_correlation_min']:.3f} at the full criterion's minimum, over twice "
                       "the independence level); the correction assumes one", err=True)
    for e in m.get("effect_restoration", []):
        state = ("applied" if e["applied"] else
                 "not applied: the content latent is not pure enough" if not e["content_pure"] else
                 f"not applied: below {e['min_gain']}")
        click.echo(f"effect restoration of {', '.join(e['columns'])} by {e['content_column']}: gain "
                   f"{e['gain']:.3f}, {state}")
    if "truth" in m:
        t = m["truth"]
        click.echo(f"recovery on test rows: MCC {t['mcc_pearson']:.3f} (Spearman {t['mcc_spearman']:.3f}), "
                   f"R^2 {t['r2']:.3f}; PC(est) vs PC(true) SHD {t['pc_estimated_vs_pc_true']['shd']}")
    click.echo(f"run directory: {run.path}")
    if make_report:
        report_after_run(run.path)
