"""The console script: ``smlp --version`` answers before the CLI (typer, rich, every command)
is imported, which costs most of a second; everything else goes to smlp.cli.main."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from smlp import __version__

        print(f"smlp {__version__}")
        return
    from smlp.cli.main import run as run_cli

    run_cli()
