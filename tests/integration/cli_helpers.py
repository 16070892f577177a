"""Helpers for driving the real CLI in tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from smlp.cli.main import app

SMALL_YAML = """\
data:
  rows: 1500
algorithms:
  xgboost:
    hyperparameters: {num_round: 20}
  sklearn-gbm:
    hyperparameters: {n_estimators: 20}
"""


def smlp(*args: str, ok: bool = True) -> Any:
    """Run ``smlp ARGS``; with ``ok`` assert it succeeded, showing its output if not."""
    result = CliRunner().invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def write_small_config(folder: Path) -> Path:
    path = folder / "smlp.yaml"
    path.write_text(SMALL_YAML)
    return path


def manifest(folder: Path, store: str = "smlp-artifacts") -> dict[str, Any]:
    """The manifest as JSON, with its store-relative keys resolved to full URIs (as smlp
    reads it)."""
    from smlp.manifest import load_manifest
    from smlp.store import LocalStore

    json.loads((folder / store / "manifest.json").read_text())  # valid JSON on disk
    return load_manifest(LocalStore(folder / store)).model_dump(mode="json", by_alias=True)


def assert_one_line_error(result: Any, expected: str, code: int | None = None) -> None:
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code, result.output
    text = result.output.strip()
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text  # progress lines may precede it; the error is one line
    assert expected in errors[0], text
