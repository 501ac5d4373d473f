"""`causaltraits crl` (placeholder until implemented)."""

import click


@click.command("crl")
def crl() -> None:
    """Not implemented yet."""
    raise click.ClickException("'crl' is not implemented yet")
