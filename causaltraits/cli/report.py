"""`causaltraits report`: one PDF from one or more run directories."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR [RUN_DIR ...]",
                type=click.Path(path_type=Path))
@click.option("--out", metavar="FILE.pdf", type=click.Path(path_type=Path), default=None,
              help="Where to write the PDF [default: <first RUN_DIR>/report.pdf].")
@click.option("--force", is_flag=True, help="Overwrite an existing PDF.")
def report(run_dirs: tuple[Path, ...], out: Path | None, force: bool) -> None:
    """Build one PDF report (data, Level I, discovery, CRL, limitations) from run directories.

    Example: causaltraits report results/runs/athle-demo-20261125T180000Z
    """
    from causaltraits.report.pdf import REPORT_NAME, build_report, count_pages, read_run
    from causaltraits.errors import OutputError

    # validate everything before any work: every run directory, then the output file
    for d in run_dirs:
        read_run(d)
    target = out if out is not None else run_dirs[0] / REPORT_NAME
    if target.exists() and not target.is_dir() and not force:
        raise OutputError(f"{target} exists; pass --force to overwrite it or choose another --out")
    path = build_report(list(run_dirs), out=target, overwrite=force)
    click.echo(f"wrote {path} ({count_pages(path)} pages)")
