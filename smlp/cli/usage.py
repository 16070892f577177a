"""Usage mistakes as one line, and help that reads well: no ``<bool>`` on flags (the commands'
order is smlp.cli.main.COMMANDS)."""

from __future__ import annotations

import importlib
import re
import sys
import types
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


# What typer.rich_utils imports at its top but uses only for markup_mode="markdown" and for
# pretty tracebacks, neither of which smlp uses: markdown-it and pygments, a third of `smlp --help`.
DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _Deferred(type):
    """Class attributes (``Traceback.from_exception``) come from the real class."""

    def __getattr__(cls, attr: str) -> Any:
        return getattr(cls.real(), attr)  # type: ignore[attr-defined]


def _stand_in(module: str, name: str) -> type:
    """A class that imports ``module.name`` when first used and builds one of those instead."""

    def real(_cls: type) -> Any:
        return getattr(importlib.import_module(module), name)

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return real(cls)(*args, **kwargs)

    return _Deferred(name, (), {"__new__": new, "real": classmethod(real),
                                "__module__": module})


def load_rich_help() -> None:
    """Import typer's help renderer with rich.markdown and rich.traceback deferred to first use.

    Both names are bound to stand-ins that import the real class when called, so help renders
    as before; if this typer wants more from either module, the ordinary import happens later.
    """
    if "typer.rich_utils" in sys.modules:
        return
    placed = {}
    for module, name in DEFERRED.items():
        if module not in sys.modules:
            stub = types.ModuleType(module)
            setattr(stub, name, _stand_in(module, name))
            placed[module] = sys.modules[module] = stub
    try:
        importlib.import_module("typer.rich_utils")
    except ImportError:
        pass  # typer imports it itself when it renders help
    finally:
        for module, stub in placed.items():
            if sys.modules.get(module) is stub:
                del sys.modules[module]


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
