"""Every bad input: one line naming the file/field/column, non-zero exit, nothing earlier lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data_paths import split_path
from tests.integration.cli_helpers import (
    assert_one_line_error,
    manifest,
    smlp,
    write_small_config,
)


def snapshot(folder: Path) -> dict[str, bytes]:
    store = folder / "smlp-artifacts"
    return {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("data: {rows: [1, 2\n", "smlp.yaml:2:1: YAML syntax error"),
        ("algoritms: {}\n", "smlp.yaml: algoritms: unknown key"),
        ("data: {rows: lots}\n", "smlp.yaml: data.rows: Input should be a valid integer"),
        ("data: {rows: -5}\n", "smlp.yaml: data.rows: Input should be greater than or equal"),
    ],
)
def test_bad_config_leaves_everything_intact(trained: Path, yaml_text: str,
                                             expected: str) -> None:
    before = snapshot(trained)
    (trained / "smlp.yaml").write_text(yaml_text)
    result = smlp("train", ok=False)
    assert_one_line_error(result, expected, code=2)
    assert snapshot(trained) == before


def test_unknown_algorithm(trained: Path) -> None:
    before = snapshot(trained)
    result = smlp("train", "--algo", "catboost", ok=False)
    assert_one_line_error(result, "--algo: unknown algorithm 'catboost'; expected one of "
                                  "xgboost, knn, sklearn-gbm", code=2)
    assert snapshot(trained) == before


def test_unknown_hyperparameter_override(trained: Path) -> None:
    result = smlp("train", "--algo", "xgboost", "--hp", "n_estimators=3", ok=False)
    assert_one_line_error(result, "no selected algorithm has a hyperparameter 'n_estimators'")


@pytest.mark.parametrize(
    ("content", "target", "expected"),
    [
        (None, "price", "missing.csv: input file not found"),
        ("", "price", "empty.csv: input file is empty"),
        ("a,b\n" + "1,2\n" * 20, "price", "target column 'price' not found; columns are a, b"),
        ("a,b,price\n" + "1,,2\n" * 20, "price", "column 'b' is all missing"),
    ],
)
def test_bad_prepare_input(trained: Path, content: str | None, target: str,
                           expected: str) -> None:
    before = manifest(trained)
    name = "missing.csv" if content is None else ("empty.csv" if content == "" else "in.csv")
    if content is not None:
        (trained / name).write_text(content)
    result = smlp("data", "prepare", "--input", name, "--target", target, ok=False)
    assert_one_line_error(result, expected, code=3)
    after = manifest(trained)
    assert after["data"] == before["data"]
    assert after["candidates"] == before["candidates"]
    assert after["stages"]["data"]["status"] == "failed"  # recorded, earlier data kept


def test_stage_before_its_inputs_names_the_command(project: Path) -> None:
    write_small_config(project)
    assert_one_line_error(smlp("train", ok=False), "run `smlp data generate` (synthetic data) "
                          "or `smlp data prepare --input FILE --target COLUMN` first")
    smlp("data", "generate")
    assert_one_line_error(smlp("compare", ok=False), "run `smlp train` first")
    smlp("train", "--algo", "knn")
    assert_one_line_error(smlp("transform", ok=False), "run `smlp compare` first")


def test_transform_input_with_wrong_columns_or_text(trained: Path) -> None:
    smlp("compare")
    before = manifest(trained)
    (trained / "narrow.csv").write_text("1,2,3\n4,5,6\n")
    result = smlp("transform", "--input", "narrow.csv", "--output", "o", ok=False)
    assert_one_line_error(result, "narrow.csv: expected 8 feature columns")
    (trained / "text.csv").write_text("1,2,3,4,5,6,7,8\n1,2,x,4,5,6,7,8\n")
    result = smlp("transform", "--input", "text.csv", "--output", "o", ok=False)
    assert_one_line_error(result, "expected a number, got 'x'")
    assert not (trained / "o" / "text.csv.out").exists()
    assert manifest(trained)["candidates"] == before["candidates"]


def test_raw_input_with_text_in_numeric_column(trained: Path) -> None:
    smlp("compare")
    header = "MedInc,HouseAge,AveRooms,AveBedrms,Population,AveOccup,Latitude,Longitude"
    (trained / "raw.csv").write_text(f"{header}\n3.1,20,5,1,800,3,34.1,-118.2\n"
                                     "lots,20,5,1,800,3,34.1,-118.2\n")
    result = smlp("transform", "--input", "raw.csv", "--output", "o", ok=False)
    assert_one_line_error(result, "MedInc")


def test_tampered_training_data_and_model(trained: Path) -> None:
    store = trained / "smlp-artifacts"
    train_csv = split_path(store, "train")
    original = train_csv.read_bytes()
    train_csv.write_bytes(original.replace(b"1", b"2", 1))
    result = smlp("train", "--algo", "xgboost", ok=False)
    assert_one_line_error(result, "does not match the manifest", code=4)
    train_csv.write_bytes(original)

    smlp("compare")
    model = Path(manifest(trained)["candidates"]["xgboost"]["model"]["uri"])
    model.write_bytes(model.read_bytes() + b"junk")
    result = smlp("transform", ok=False)
    assert_one_line_error(result, "does not match the manifest")


def test_debug_shows_the_traceback(project: Path) -> None:
    result = smlp("--debug", "train", ok=False)
    assert result.exit_code != 0
    assert result.exception is not None and "data generate" in str(result.exception)


def test_missing_explicit_config_file(project: Path) -> None:
    result = smlp("config", "validate", "-c", "nope.yaml", ok=False)
    assert_one_line_error(result, "nope.yaml: config file not found", code=2)
