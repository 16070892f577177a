"""The console script: ``smlp --version`` answers before the CLI (typer, rich, every command)
is imported, which costs most of a second; everything else goes to smlp.cli.main."""

from __future__ import annotations

import os
import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from smlp import __version__

        print(f"smlp {__version__}")
        return
    # Pydantic looks for plugins in every installed distribution's entry points the first time
    # a model is built (importlib.metadata and a scan of site-packages: ~50 ms of every
    # command's start-up); smlp's models want none. Typer does the same for its own adapters.
    # Set the variable to "" to let plugins load.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from smlp.cli.main import run as run_cli

    run_cli()
