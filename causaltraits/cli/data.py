"""`causaltraits data` (placeholder until implemented)."""

import click


@click.command("data")
def data() -> None:
    """Not implemented yet."""
    raise click.ClickException("'data' is not implemented yet")
