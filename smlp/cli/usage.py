"""Usage mistakes as one line, and help that reads well: no ``<bool>`` on flags (the commands'
order is smlp.cli.main.COMMANDS)."""

from __future__ import annotations

import re
from typing import Any

from smlp.suggest import did_you_mean


def tidy_help() -> None:
    """Boolean flags take no value, so their help shows none (typer 0.29 prints ``<bool>``)."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(TyperOption, "_smlp_tidy", False):
        return  # another typer: its help may show <bool>, nothing worse

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag and self.metavar is None else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    TyperOption._smlp_tidy = True  # type: ignore[attr-defined]


def usage_error_line(exc: Any) -> str | None:
    """``smlp train: no such option --algoo; did you mean '--algo'?``; None for "no arguments,
    help shown" (typer has printed the help already)."""
    kind = type(exc).__name__
    if kind == "NoArgsIsHelpError":
        return None
    ctx = getattr(exc, "ctx", None)
    where = f"{ctx.command_path}: " if ctx is not None else ""
    message = exc.format_message().strip().splitlines()[0] if exc.format_message() else kind
    if kind == "NoSuchOption" and ctx is not None:
        options = [opt for param in ctx.command.params for opt in param.opts + param.secondary_opts]
        return f"{where}no such option {exc.option_name}{did_you_mean(exc.option_name, options)}"
    command = re.match(r"No such command '(.+?)'", message)
    if command and ctx is not None:
        names = list(getattr(ctx.command, "commands", {}))
        return f"{where}no such command {command.group(1)!r}{did_you_mean(command.group(1), names)}"
    choice = re.search(r"'([^']*)' is not one of (.*)\.$", message)
    param = getattr(exc, "param", None)
    if choice and param is not None:
        choices = re.findall(r"'([^']*)'", choice.group(2))
        flag = max(param.opts, key=len)
        return (f"{where}{flag}: expected one of {', '.join(choices)}, got {choice.group(1)!r}"
                f"{did_you_mean(choice.group(1), choices)}")
    return f"{where}{message[0].lower() + message[1:] if message else message}"
