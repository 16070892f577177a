"""Output shapes of the CLI: version, -h, --json, progress, log tabs, narrow tables (issue 10)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest

from tests.integration.cli_helpers import smlp


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the real app, groups included (``("data", "prepare")``...)."""
    import typer.main

    from smlp.cli.main import app

    command = group if prefix else typer.main.get_command(app)
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _commands(sub, prefix + (name,))
    return paths


def test_version_prints_the_installed_distribution_version() -> None:
    result = smlp("--version")
    assert result.stdout.strip() == f"smlp {version('smlp')}"


def test_every_command_takes_dash_h_as_help() -> None:
    paths = _commands(None)
    assert ("train",) in paths and ("data", "prepare") in paths and ("infra", "synth") in paths
    for path in paths:
        short = smlp(*path, "-h")
        assert "Usage:" in short.stdout, (path, short.output)
        assert short.stdout == smlp(*path, "--help").stdout, path


@pytest.mark.parametrize("args", [("train", "-h"), ("-h",)])
def test_dash_h_runs_nothing(project: Any, args: tuple[str, ...]) -> None:
    smlp(*args)
    assert not (project / "smlp-artifacts").exists()
