"""``smlp config validate|show``."""

from __future__ import annotations

import typer

from smlp.cli.common import ConfigOption, console, load

app = typer.Typer(help="Check and show the resolved configuration.", no_args_is_help=True)


@app.command()
def validate(config: ConfigOption = None) -> None:
    """Load and validate the config; exit non-zero with one line per problem."""
    from smlp.config import resolve_path

    load(config)
    path = resolve_path(config)
    console.print(f"{path or 'packaged defaults'}: valid")


@app.command()
def show(config: ConfigOption = None) -> None:
    """Print the fully resolved config (defaults + file) as YAML."""
    from smlp.config import to_yaml

    console.print(to_yaml(load(config)), end="", markup=False)
