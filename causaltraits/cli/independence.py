"""`causaltraits independence` (placeholder until implemented)."""

import click


@click.command("independence")
def independence() -> None:
    """Not implemented yet."""
    raise click.ClickException("'independence' is not implemented yet")
