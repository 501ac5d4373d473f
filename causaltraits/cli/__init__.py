"""The command line: a thin click shell over the library.

Each subcommand module parses options, calls one library function and prints a summary. Known
user errors (:class:`~causaltraits.errors.CausalTraitsError`, click usage errors) become one line
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

from causaltraits import __version__
from causaltraits.errors import CausalTraitsError


class _Group(click.Group):
    """A click group whose errors are one line on stderr with exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name or "causaltraits",
                              complete_var=complete_var, standalone_mode=False, **extra)
        except CausalTraitsError as e:
            _fail(str(e), e.exit_code)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help(), err=True)
            sys.exit(2)
        except click.exceptions.UsageError as e:
            hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            _fail(e.format_message() + hint, 2)
        except click.exceptions.ClickException as e:
            _fail(e.format_message(), 2)
        except (click.exceptions.Abort, KeyboardInterrupt):
            _fail("interrupted; nothing was written", 130)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
        if standalone_mode:
            sys.exit(0)
        return rv


def _fail(message: str, code: int) -> None:
    click.echo(f"causaltraits: error: {' '.join(message.split())}", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="causaltraits")
def cli() -> None:
    """Causal structure among LLM-inferred Big Five traits, biographical and facial attributes.

    Start offline with the bundled demo data: causaltraits discover --dataset athle-demo
    """


def _register() -> None:
    from causaltraits.cli import crl, data, discover, independence, report

    cli.add_command(data.data)
    cli.add_command(discover.discover)
    cli.add_command(independence.independence)
    cli.add_command(crl.crl)
    cli.add_command(report.report)


_register()


def main() -> None:
    """Console-script entry point."""
    cli.main()
