"""The ``smlp`` command: a lazy group over one module per command, and the one place exit codes
are decided.

``smlp transform ...`` imports smlp/cli/transform.py and nothing of the other commands; ``smlp
--help`` lists every command from ``COMMANDS`` without importing any of them (typer building
every command's parameters, and importing every command module, cost most of the start-up).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from typing import Annotated, Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup


class Entry(NamedTuple):
    module: str  # under smlp.cli
    attribute: str  # a command function, or a typer.Typer of sub-commands
    help: str  # the first paragraph of the command's own help: what `smlp --help` lists


# Every command, in the order a new user meets them (the order `smlp --help` lists them).
# tests/unit/test_cli_lazy.py holds each help equal to the command's own, so they cannot drift.
COMMANDS: dict[str, Entry] = {
    "data": Entry("data", "app", "Create or import the dataset."),
    "train": Entry("train", "train", "Train one or more algorithms on the prepared data; each "
                   "becomes a candidate."),
    "tune": Entry("tune", "tune", "Tune hyperparameters; the best trial of each algorithm "
                  "becomes <algo>-tuned."),
    "compare": Entry("compare", "compare", "Score every candidate on the same held-out split "
                     "and pick the best."),
    "transform": Entry("transform", "transform", "Batch-predict a file or folder with SageMaker "
                       "Batch Transform semantics."),
    "run": Entry("run", "run", "The whole pipeline: data, train (and tune), compare, transform "
                 "the test split, report."),
    "report": Entry("report", "report", "Write report/index.html: leaderboard with "
                    "uncertainty, plots, importance, tuning, data."),
    "status": Entry("status", "status", "Show what the manifest holds: stages, candidates, "
                    "metrics, artifacts."),
    "deploy": Entry("serve", "deploy", "Serve candidates as a real-time endpoint with "
                    "SageMaker's inference contract."),
    "invoke": Entry("serve", "invoke", "Send rows to an endpoint; write <file>.out with one "
                    "prediction per line."),
    "endpoint": Entry("serve", "app", "List, describe, re-weight or delete endpoints."),
    "clean": Entry("clean", "clean", "Remove local scratch (.smlp/) and store files the "
                   "manifest no longer references."),
    "infra": Entry("infra", "app", "AWS resources for the SageMaker backend (bucket, KMS key, "
                   "role, logs) via the AWS CDK."),
    "prices": Entry("prices", "app", "SageMaker on-demand rates used by --dry-run cost "
                    "estimates."),
    "config": Entry("config_cmd", "app", "Create, check and show the configuration."),
}

_state = {"debug": False, "resume_gc": False}


def build_command(name: str) -> Any:
    """The click command for ``COMMANDS[name]``, built as ``app.command()`` or
    ``app.add_typer(..., name=name)`` would have built it."""
    from typer.main import get_command_from_info, get_group_from_info
    from typer.models import CommandInfo, TyperInfo

    entry = COMMANDS[name]
    target = getattr(importlib.import_module(f"smlp.cli.{entry.module}"), entry.attribute)
    if isinstance(target, typer.Typer):
        return get_group_from_info(TyperInfo(target, name=name),
                                   pretty_exceptions_short=app.pretty_exceptions_short,
                                   suggest_commands=app.suggest_commands,
                                   rich_markup_mode=app.rich_markup_mode)
    return get_command_from_info(CommandInfo(name=name, callback=target),
                                 pretty_exceptions_short=app.pretty_exceptions_short,
                                 rich_markup_mode=app.rich_markup_mode)


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name: naming them (listing, did-you-mean) imports nothing; a
    command's module is imported when that command itself is asked for."""

    def __init__(self, names: Iterable[str], built: dict[str, Any] | None = None) -> None:
        self._built = dict(built or {})
        self._names = list(dict.fromkeys([*names, *self._built]))

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._names:
                raise KeyError(name)
            self._built[name] = build_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._names:
            self._names.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def built(self, name: str) -> Any | None:
        """The command if its module has been imported already, else None."""
        return self._built.get(name)


class SmlpGroup(TyperGroup):
    """Turns every deliberate smlp error, and every usage mistake, into one line on stderr and
    its exit code; resolves commands lazily from ``COMMANDS``."""

    def __init__(self, *args: Any, commands: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from smlp.cli.usage import tidy_help

        self.commands = LazyCommands(COMMANDS, dict(commands or {}))
        self._listing = False
        tidy_help()

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        commands = self.commands
        if self._listing and isinstance(commands, LazyCommands) and cmd_name in COMMANDS \
                and commands.built(cmd_name) is None:
            # Only the one-line help is shown: a stand-in, so help imports no command module.
            return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name].help)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # typer's walks items(), which would build every command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(self, args: Sequence[str] | None = None, *rest: Any, standalone_mode: bool = True,
             **kwargs: Any) -> Any:
        import sys

        from smlp.cli.usage import load_rich_help

        argv = sys.argv[1:] if args is None else list(args)
        if not argv or {"-h", "--help"} & set(argv):
            load_rich_help()
        if not standalone_mode:
            return super().main(args, *rest, standalone_mode=False, **kwargs)
        from typer import _click

        from smlp.cli.common import err_console
        from smlp.cli.usage import usage_error_line

        try:
            result = super().main(args, *rest, standalone_mode=False, **kwargs)
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
        from smlp.cli.common import err_console
        from smlp.errors import SmlpError

        if _state.pop("resume_gc", False):  # see smlp.cli.entry: start-up is over
            import gc

            gc.freeze()
            gc.enable()
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


def resume_gc_at_invoke() -> None:
    """The console script paused the cyclic collector for start-up: resume it (with start-up's
    objects frozen) when the command is invoked. In-process callers (tests) never pause it."""
    _state["resume_gc"] = True


def run() -> None:
    """Console-script entry point."""
    app()
