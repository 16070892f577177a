"""The ``smlp`` command: sub-apps per command group, and the one place exit codes are decided."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from smlp.cli.common import err_console

_state = {"debug": False}


class SmlpGroup(TyperGroup):
    """Turns every deliberate smlp error, and every usage mistake, into one line on stderr and
    its exit code; lists commands in pipeline order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from smlp.cli.usage import tidy_help

        tidy_help()

    def list_commands(self, ctx: Any) -> list[str]:
        from smlp.cli.usage import pipeline_order

        return pipeline_order(super().list_commands(ctx))

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        import sys

        from typer import _click

        from smlp.cli.usage import usage_error_line

        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except _click.exceptions.ClickException as exc:
            line = usage_error_line(exc)
            if line is None:  # `smlp` alone, or a group alone: its help was shown
                sys.exit(exc.exit_code)
            err_console.print(f"[bold red]error:[/] {line}", markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            err_console.print("[bold red]aborted[/]")
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: Any) -> Any:  # a typer (click) Context
        from smlp.errors import SmlpError

        try:
            return super().invoke(ctx)
        except SmlpError as exc:
            if _state["debug"]:
                raise
            for line in str(exc).splitlines() or [type(exc).__name__]:
                err_console.print(f"[bold red]error:[/] {line}", markup=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            err_console.print("[bold red]interrupted[/]")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=SmlpGroup,
    name="smlp",
    help="Tabular data to a tuned, compared, batch-deployed model: locally, or on SageMaker.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # sub-commands inherit it
)


def _version(value: bool) -> None:
    """``--version`` after other options (``smlp --debug --version``); ``smlp --version``
    alone is answered by smlp.cli.entry before this module loads."""
    if value:
        from smlp import __version__

        typer.echo(f"smlp {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _register() -> None:
    """Every command; `smlp --help` lists them in pipeline order (smlp.cli.usage.PIPELINE)."""
    from smlp.cli import (
        clean,
        compare,
        config_cmd,
        data,
        infra,
        prices,
        report,
        run,
        serve,
        status,
        train,
        transform,
        tune,
    )

    app.add_typer(data.app, name="data")
    for command in (train.train, tune.tune, compare.compare, transform.transform, run.run,
                    report.report, status.status, serve.deploy, serve.invoke, clean.clean):
        app.command()(command)
    app.add_typer(serve.app, name="endpoint")
    app.add_typer(infra.app, name="infra")
    app.add_typer(prices.app, name="prices")
    app.add_typer(config_cmd.app, name="config")


_register()


def run() -> None:
    """Console-script entry point."""
    app()
