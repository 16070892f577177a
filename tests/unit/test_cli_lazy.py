"""The CLI imports only the command it runs (issue 14: start-up cost).

``smlp --help`` lists every command from smlp.cli.main.COMMANDS without importing a command
module; ``smlp transform ...`` imports smlp/cli/transform.py and none of the other commands.
benchmarks/startup.py and benchmarks/scale.py measure the time; these tests hold the laziness.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from smlp.cli.main import COMMANDS, LazyCommands, app, build_command

# The real console script in a fresh interpreter (this test process has imported everything
# already); the last line says which command modules and heavy libraries the run imported.
PROBE = """
import json, sys
sys.argv = ["smlp", *sys.argv[1:]]
from smlp.cli.entry import run
try:
    run()
except SystemExit:
    pass
from smlp.cli.main import COMMANDS
loaded = {name.rpartition(".")[2] for name in sys.modules if name.startswith("smlp.cli.")}
plugins = getattr(sys.modules.get("pydantic.plugin._loader"), "_plugins", None)
print(json.dumps({
    "plugins_scanned": plugins is not None,
    "commands": sorted({entry.module for entry in COMMANDS.values()} & loaded),
    "heavy": sorted(m for m in ("pydantic", "pandas", "sklearn", "xgboost", "rich.markdown",
                                "rich.traceback", "pygments", "markdown_it", "rich.progress")
                    if m in sys.modules),
}))
"""


def probe(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          check=False, env=env, cwd=cwd)
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], [], ["-h"]])
def test_help_imports_no_command_module_nor_pydantic_markdown_or_pygments(args: list[str]) -> None:
    assert probe(*args) == {"plugins_scanned": False, "commands": [], "heavy": []}


def test_a_mistyped_command_imports_no_command_module() -> None:
    assert probe("trian")["commands"] == []  # did-you-mean names commands without loading


@pytest.mark.parametrize(
    ("args", "module"),
    [
        (["transform", "--help"], "transform"),
        (["transform", "--input-filter", "$[oops"], "transform"),  # runs, fails on the flag
        (["deploy", "--help"], "serve"),
        (["data", "prepare", "--help"], "data"),
        (["config", "--help"], "config_cmd"),
    ],
)
def test_a_command_imports_its_own_module_only(args: list[str], module: str) -> None:
    assert probe(*args)["commands"] == [module]


def test_a_run_draws_no_bar_and_imports_no_progress_bars() -> None:
    """rich.progress is imported when a bar is drawn (long inputs on a terminal), not on every
    run of the commands that can draw one."""
    assert "rich.progress" not in probe("transform", "--input-filter", "$[oops")["heavy"]


def first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_table_help_is_the_commands_own(name: str) -> None:
    """`smlp --help` shows COMMANDS' help; it must be what the command itself says."""
    command = build_command(name)
    assert command.name == name
    assert first_paragraph(command.short_help or command.help or "") == COMMANDS[name].help
    assert not command.hidden and not command.deprecated  # the stand-in shows neither


def _help(group: Any) -> str:
    """``smlp --help`` as this click group prints it."""
    with CliRunner().isolation(env={"COLUMNS": "100"}) as (out, _err, _mixed):
        with pytest.raises(SystemExit) as done:
            group.main(["--help"], prog_name="smlp")
        assert done.value.code == 0
        return out.getvalue().decode()


def test_help_lists_the_same_with_every_command_loaded() -> None:
    lazy = typer.main.get_command(app)
    assert isinstance(lazy.commands, LazyCommands)
    listed = _help(lazy)
    assert all(lazy.commands.built(name) is None for name in COMMANDS)  # stand-ins only
    loaded = typer.main.get_command(app)
    assert [name for name, _ in loaded.commands.items()] == list(COMMANDS)  # builds each
    assert _help(loaded) == listed
    for name, entry in COMMANDS.items():
        assert f" {name} " in listed and entry.help.split()[0] in listed


def test_lazy_commands_name_without_building() -> None:
    commands = LazyCommands(["transform", "train"])
    assert list(commands) == ["transform", "train"] and len(commands) == 2
    assert "train" in commands and "trian" not in commands
    assert commands.get("trian") is None
    assert commands.built("train") is None
    assert commands["train"].name == "train"
    assert commands.built("train") is commands["train"]
    assert commands.built("transform") is None


def test_deferred_rich_names_build_the_real_classes() -> None:
    """typer.rich_utils, loaded with rich.markdown and rich.traceback deferred, still renders
    markdown help and tracebacks with the real classes."""
    code = """
import sys
from smlp.cli.usage import load_rich_help
load_rich_help()
assert "typer.rich_utils" in sys.modules and "rich.markdown" not in sys.modules
import typer.rich_utils as ru
from typer.models import DeveloperExceptionConfig
text = ru._make_rich_text(text="*x*", style="", markup_mode="markdown")
try:
    raise ValueError("boom")
except ValueError as exc:
    trace = ru.get_traceback(exc, DeveloperExceptionConfig(), [])
from rich.markdown import Markdown
from rich.traceback import Traceback
print(type(text) is Markdown, type(trace) is Traceback)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_pydantic_plugins_are_not_scanned_unless_asked_for(tmp_path: Path) -> None:
    """The scan of every installed distribution's entry points costs every command ~50 ms;
    a user who sets PYDANTIC_DISABLE_PLUGINS (even to "") keeps pydantic's own behaviour."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    seen = probe("config", "show", env=env, cwd=tmp_path)
    assert seen["commands"] == ["config_cmd"] and "pydantic" in seen["heavy"]
    assert seen["plugins_scanned"] is False
    asked = probe("config", "show", env={**env, "PYDANTIC_DISABLE_PLUGINS": ""}, cwd=tmp_path)
    assert asked["plugins_scanned"] is True
