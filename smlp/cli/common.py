"""What every command shares: the ``--config`` option, config loading, consoles, rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c",
        help="YAML config (default: ./smlp.yaml if present, else the packaged defaults).",
        dir_okay=False,
    ),
]
StoreOption = Annotated[
    str | None, typer.Option("--store", help="Artifact store: a folder or s3://bucket/prefix.")
]


def load(config: Path | None, overrides: dict[str, Any] | None = None) -> Any:
    """Load the config, applying only the flags the user actually gave."""
    from smlp.config import load_config

    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    return load_config(config, given)


def open_project(config: Any) -> tuple[Any, Any]:
    """The store and backend a loaded config names."""
    from smlp.backends import get_backend
    from smlp.store import open_store

    store = open_store(config.store)
    return store, get_backend(config, store)
