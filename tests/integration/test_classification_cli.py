"""Classification through the CLI: generate/prepare with --problem-type, and every bad input
of issue 11 as one clear line with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cli_helpers import assert_one_line_error, manifest, smlp, write_small_config


def schema_of(folder: Path) -> dict[str, object]:
    uri = manifest(folder)["data"]["schema"]["uri"]
    return json.loads(Path(uri).read_text())


def test_generate_binary_records_the_label_map(project: Path) -> None:
    write_small_config(project)
    result = smlp("data", "generate", "--problem-type", "binary")
    assert "problem type: binary (target 'Expensive', 2 classes: no, yes)" in result.output
    schema = schema_of(project)
    assert (schema["problem_type"], schema["classes"]) == ("binary", ["no", "yes"])


@pytest.mark.parametrize(
    ("content", "flag", "expected"),
    [
        ("x,y\n" + "1,a\n" * 30, "auto", "target column 'y' has one class ('a') in every row"),
        ("x,y\n" + "1,a\n2,b\n3,c\n" * 10, "binary",
         "problem type binary, but target column 'y' has 3 classes (a, b, c)"),
        ("x,y\n" + "1,a\n2,b\n" * 10, "regression",
         "target column 'y' must be numeric for regression"),
        ("x,y\n" + "1,a\n2,b\n" * 10 + "3,c\n", "auto",
         "class 'c' of target 'y' has 1 row; stratified splits need at least 3 per class"),
    ],
)
def test_bad_targets_are_one_line(project: Path, content: str, flag: str, expected: str) -> None:
    path = project / "in.csv"
    path.write_text(content)
    result = smlp("data", "prepare", "--input", str(path), "--target", "y", "--problem-type",
                  flag, ok=False)
    assert_one_line_error(result, f"{path}: {expected}", code=3)


def test_unknown_problem_type_is_a_config_error(project: Path) -> None:
    result = smlp("data", "generate", "--problem-type", "ordinal", ok=False)
    assert_one_line_error(result, "multiclass", code=2)  # names the choices
