"""`causaltraits discover` (placeholder until implemented)."""

import click


@click.command("discover")
def discover() -> None:
    """Not implemented yet."""
    raise click.ClickException("'discover' is not implemented yet")
