"""The console script: ``smlp --version`` answers before the CLI (typer, rich, every command)
is imported, which costs most of a second; everything else goes to smlp.cli.main."""

from __future__ import annotations

import gc
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
    # Start-up makes ~60,000 objects that live as long as the process (typer, pydantic's
    # schemas, rich), and the cyclic collector would walk them again and again while they are
    # made (~150 collections, one of them full: ~4 % of a 10-row transform's instructions).
    # Paused until the command starts, when smlp.cli.main moves them out of its way for good
    # (gc.freeze) and turns it back on.
    gc.disable()
    from smlp.cli import main

    main.resume_gc_at_invoke()
    try:
        main.run()
    finally:
        gc.enable()
