"""`causaltraits data ...`: list, fetch, describe and export datasets."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from causaltraits.cli.common import split_list
from causaltraits.errors import OutputError, ParameterError

_data_dir_option = click.option(
    "--data-dir", metavar="DIR", envvar="CAUSALTRAITS_DATA", type=click.Path(),
    help="Data root holding <name>/ (or a directory/file holding the table) [env CAUSALTRAITS_DATA; "
         "default ~/.cache/causaltraits].",
)


@click.group("data")
def data() -> None:
    """Released (athle, celeb) and bundled (athle-demo, celeb-demo) datasets.

    \b
    causaltraits data list                 where each dataset is, or is not, on disk
    causaltraits data fetch athle          download AthlePersona from the Hugging Face hub
    causaltraits data info athle           what the loader found: files, roles, notes
    causaltraits data export athle a.csv   the mapped table as the analyses see it
    """


@data.command("list")
@_data_dir_option
def list_datasets(data_dir: str | None) -> None:
    """Each dataset and whether it is on disk."""
    from causaltraits.data.personax import HUB_REPOS, TITLES, status

    for name in ("athle", "celeb"):
        st = status(name, data_dir)
        if st["on_disk"]:
            commit = f", commit {st['commit'][:12]}" if st.get("commit") else ""
            where = f"on disk: {st['path']} ({len(st['files'])} table file(s){commit})"
        else:
            where = f"not on disk (looked in {st['path']}); fetch with: causaltraits data fetch {name}"
        click.echo(f"{name:<11} {TITLES[name]} ({HUB_REPOS[name]}): {where}")
    demo_ok = importlib.util.find_spec("causaltraits.data.demo") is not None
    for name in ("athle-demo", "celeb-demo"):
        where = "bundled, generated offline with a known causal truth" if demo_ok else \
            "not available in this install (causaltraits.data.demo missing)"
        click.echo(f"{name:<11} demo: {where}")


@data.command("fetch")
@click.argument("name", type=click.Choice(["athle", "celeb"], case_sensitive=False))
@_data_dir_option
@click.option("--revision", default="main", show_default=True, help="Hub branch, tag or commit.")
@click.option("--force", is_flag=True, help="Download again even if an intact copy of this commit is on disk.")
def fetch_dataset(name: str, data_dir: str | None, revision: str, force: bool) -> None:
    """Download a released dataset (Persona-X on the Hugging Face hub) into the data directory."""
    from causaltraits.data.personax import LICENCE_TERMS, fetch, load_personax

    name = name.lower()
    click.echo(LICENCE_TERMS)
    click.echo("By downloading you accept these terms.")
    manifest = fetch(name, data_dir, revision=revision, force=force)
    size = sum(f["bytes"] for f in manifest["files"].values())
    done = "already on disk, files match fetch.json" if manifest["up_to_date"] else "fetched"
    click.echo(f"{done}: {manifest['repo']} at commit {manifest['commit']} in {manifest['path']}: "
               f"{len(manifest['files'])} file(s), {size / 1e6:.1f} MB; sha256 recorded in fetch.json")
    ds = load_personax(name, data_dir=data_dir, embeddings=False)
    _echo_summary(ds)


@data.command("info")
@click.argument("name")
@_data_dir_option
@click.option("--schema", metavar="FILE", type=click.Path(dir_okay=False), help="Mapping file (JSON).")
@click.option("--columns", metavar="A,B,C", help="Generic table: the columns to use.")
@click.option("--categorical", metavar="A,B", help="Generic table: categorical columns.")
def info_dataset(name: str, data_dir: str | None, schema: str | None, columns: str | None,
                 categorical: str | None) -> None:
    """What the loader made of a dataset: rows, roles, files read, aggregate checks."""
    ds = _load(name, data_dir, schema, columns, categorical)
    _echo_summary(ds)


@data.command("export")
@click.argument("name")
@click.argument("out", type=click.Path(dir_okay=False))
@_data_dir_option
@click.option("--schema", metavar="FILE", type=click.Path(dir_okay=False), help="Mapping file (JSON).")
@click.option("--columns", metavar="A,B,C", help="Generic table: the columns to use.")
@click.option("--categorical", metavar="A,B", help="Generic table: categorical columns.")
@click.option("--no-embeddings", is_flag=True, help="Leave the embedding columns out.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def export_dataset(name: str, out: str, data_dir: str | None, schema: str | None, columns: str | None,
                   categorical: str | None, no_embeddings: bool, force: bool) -> None:
    """Write the mapped table (numeric, categorical codes, missing as empty) to OUT (.csv or .parquet).

    NAME is a dataset (athle, celeb, athle-demo, celeb-demo) or a path to a table. A parquet
    export keeps the roles, codes and LLM names: '--data OUT.parquet' gives the same dataset back.
    """
    from causaltraits.data.tables import EXPORT_SUFFIXES, export_frame

    target = Path(out)
    if target.suffix.lower() not in EXPORT_SUFFIXES:
        raise ParameterError(f"cannot export to {target}: the file name must end in .csv or .parquet")
    if target.is_dir():
        raise OutputError(f"{target} is a directory; give a file name ending in .csv or .parquet")
    if target.exists() and not force:
        raise OutputError(f"{target} exists; choose another file or pass --force")
    ds = _load(name, data_dir, schema, columns, categorical, embeddings=not no_embeddings)
    frame = export_frame(ds, target, embeddings=not no_embeddings)
    from causaltraits.data.dataset import Dataset

    written = Dataset(name=ds.name, frame=frame, roles=ds.roles).content_hash
    click.echo(f"wrote {target}: {len(frame)} rows x {frame.shape[1]} columns ({ds.name}, "
               f"content hash {written[:16]})")


def _load(name: str, data_dir: str | None, schema: str | None, columns: str | None, categorical: str | None,
          embeddings: bool = True):
    from causaltraits.data import RELEASED, load_dataset

    if (columns or categorical) and name.strip().lower() in RELEASED:
        raise ParameterError("--columns and --categorical apply to generic tables (a path), not to " + name)
    return load_dataset(name, columns=split_list(columns), categorical=split_list(categorical), schema=schema,
                        data_dir=data_dir, embeddings=embeddings)


def _echo_summary(ds) -> None:
    r = ds.roles
    click.echo(f"{ds.name}: {ds.n} rows from {ds.source}")
    if ds.info.get("files"):
        click.echo(f"  files read: {', '.join(map(str, ds.info['files']))}"
                   + (f"; joined: {', '.join(ds.info['joined_files'])}" if ds.info.get("joined_files") else "")
                   + (f"; ignored: {', '.join(ds.info['ignored_files'])}" if ds.info.get("ignored_files") else ""))
    if r.traits:
        click.echo(f"  traits: {', '.join(r.traits)} ({ds.info.get('aggregate', 'given')})")
    if ds.llms:
        click.echo(f"  LLMs: {', '.join(ds.llms)}")
    if "aggregate_disagreements" in ds.info:
        click.echo(f"  released aggregate differs from the LLM median in {ds.info['aggregate_disagreements']} "
                   f"row(s) (kept as released); tie-breaks of two-score medians: {ds.info['aggregate_tie_breaks']}")
    for label, cols in (("biography", [*r.bio_continuous, *r.bio_categorical]), ("face", r.face),
                        ("variables", [*r.other_continuous, *r.other_categorical])):
        if cols:
            click.echo(f"  {label}: {', '.join(cols)}")
    if r.embeddings:
        click.echo("  embeddings: " + ", ".join(f"{m} ({len(c)}-d)" for m, c in r.embeddings.items()))
    if ds.info.get("set_missing"):
        click.echo("  set to missing (implausible values): "
                   + ", ".join(f"{k} {v}" for k, v in ds.info["set_missing"].items()))
    if ds.info.get("duplicate_ids"):
        click.echo(f"  warning: {ds.info['duplicate_ids']} row(s) repeat an earlier id")
    if ds.info.get("absent"):
        click.echo(f"  expected but absent: {', '.join(ds.info['absent'])}")
    if ds.info.get("unused_columns"):
        click.echo(f"  columns not used: {', '.join(ds.info['unused_columns'])}")
    if ds.licence:
        click.echo(f"  licence: {ds.licence}")
