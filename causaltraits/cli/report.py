"""`causaltraits report` (placeholder until implemented)."""

import click


@click.command("report")
def report() -> None:
    """Not implemented yet."""
    raise click.ClickException("'report' is not implemented yet")
