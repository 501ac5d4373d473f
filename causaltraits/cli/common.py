"""Options shared by the analysis commands, and turning them into a Dataset."""

from __future__ import annotations

import functools
from typing import Any, Callable

import click

from causaltraits.errors import ParameterError


def split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def dataset_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--dataset / --data / --columns / --categorical / --schema / --data-dir."""
    opts = [
        click.option("--dataset", "dataset", metavar="NAME",
                     help="athle | celeb (released tables) | athle-demo | celeb-demo (bundled)."),
        click.option("--data", "data_path", metavar="PATH", type=click.Path(dir_okay=True),
                     help="Any CSV or parquet table (every column a variable unless --columns)."),
        click.option("--columns", metavar="A,B,C", help="With --data: the columns to use."),
        click.option("--categorical", metavar="A,B", help="With --data: columns that are categorical."),
        click.option("--schema", metavar="FILE", type=click.Path(dir_okay=False),
                     help="Mapping file (JSON) saying which column plays which role."),
        click.option("--data-dir", metavar="DIR", type=click.Path(file_okay=False), envvar="CAUSALTRAITS_DATA",
                     help="Where released tables are cached [env CAUSALTRAITS_DATA]."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def load_from_options(dataset: str | None, data_path: str | None, columns: str | None,
                      categorical: str | None, schema: str | None, data_dir: str | None,
                      embeddings: bool = True):
    """Resolve the dataset options to a :class:`~causaltraits.data.Dataset` (or a one-line error).

    ``embeddings=False`` skips the released tables' embedding columns (about 0.9 GB as float64 for
    CelebPersona), which only the CRL commands use.
    """
    from causaltraits.data import load_dataset

    if dataset and data_path:
        raise ParameterError("give either --dataset or --data, not both")
    if not dataset and not data_path:
        raise ParameterError("no data: give --dataset NAME (e.g. athle-demo) or --data PATH")
    if dataset and (columns or categorical):
        raise ParameterError("--columns and --categorical apply to --data tables only")
    return load_dataset(dataset or data_path, columns=split_list(columns),
                        categorical=split_list(categorical), schema=schema, data_dir=data_dir,
                        embeddings=embeddings)


def check_alpha(alpha: float) -> float:
    if not (0.0 < alpha < 1.0):
        raise ParameterError(f"--alpha must be in (0, 1), got {alpha}")
    return alpha


def pass_dataset(f: Callable[..., Any] | None = None, *, embeddings: bool = True) -> Any:
    """Decorator: consume the dataset options and pass ``ds`` (a Dataset) instead.

    Use as ``@pass_dataset`` or ``@pass_dataset(embeddings=False)`` for commands that never look
    at embedding columns.
    """

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @dataset_options
        @functools.wraps(f)
        def wrapper(*args: Any, dataset=None, data_path=None, columns=None, categorical=None, schema=None,
                    data_dir=None, **kwargs: Any):
            ds = load_from_options(dataset, data_path, columns, categorical, schema, data_dir,
                                   embeddings=embeddings)
            return f(*args, ds=ds, **kwargs)

        return wrapper

    return decorate(f) if f is not None else decorate


def report_after_run(run_dir) -> None:
    """``--report``: build the PDF of a finished run. The run is complete whatever happens here; a
    failure of the report alone is one line on stderr naming the run directory, and exit status 1."""
    import sys

    from causaltraits.report import build_report

    try:
        pdf = build_report([run_dir])
    except Exception as e:
        click.echo(f"causaltraits: error: the run is written to {run_dir}, but the report failed: "
                   f"{type(e).__name__}: {' '.join(str(e).split())}", err=True)
        sys.exit(1)
    click.echo(f"report: {pdf}")
