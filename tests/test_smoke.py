from click.testing import CliRunner

from causaltraits.cli import cli


def test_help_lists_commands():
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0
    for cmd in ("data", "discover", "independence", "crl", "report"):
        assert cmd in r.output
