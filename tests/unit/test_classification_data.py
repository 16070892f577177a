"""Classification data: problem type decided from the target, labels 0..K-1 with the label map
in the schema, stratified splits, and one-line errors for targets that cannot be classes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from smlp.config.data import SplitFractions
from smlp.data.prepare import prepare_table, read_table
from smlp.data.synthetic import generate, generate_for
from smlp.errors import DataError

SPLITS = SplitFractions()


def table(labels: list[object], rows: int | None = None) -> pa.Table:
    count = rows or len(labels)
    rng = np.random.default_rng(0)
    return pa.table({"x": rng.normal(size=count), "z": rng.normal(size=count),
                     "y": pa.array(labels)})


def test_auto_text_target_with_two_values_is_binary_coded_in_sorted_order() -> None:
    labels = ["yes", "no"] * 50
    prepared = prepare_table(table(labels), "y", None, SPLITS, 1, True, "t.csv", "auto")
    assert prepared.schema.problem_type == "binary"
    assert prepared.schema.classes == ["no", "yes"]
    for array in prepared.splits.values():
        assert set(np.unique(array[:, 0])) == {0.0, 1.0}


def test_auto_text_with_three_values_is_multiclass_and_numbers_stay_regression() -> None:
    labels = ["b", "a", "c"] * 40
    prepared = prepare_table(table(labels), "y", None, SPLITS, 1, True, "t.csv", "auto")
    assert (prepared.schema.problem_type, prepared.schema.classes) == ("multiclass",
                                                                       ["a", "b", "c"])
    numeric = prepare_table(table([float(i) for i in range(120)]), "y", None, SPLITS, 1, True,
                            "t.csv", "auto")
    assert numeric.schema.problem_type == "regression"


def test_numeric_target_told_multiclass_keeps_numeric_order_and_bools_are_classes() -> None:
    labels = [10, 2, 3] * 40
    prepared = prepare_table(table(labels), "y", None, SPLITS, 1, True, "t.csv", "multiclass")
    assert prepared.schema.classes == ["2", "3", "10"]  # by value, not as text
    flags = prepare_table(table([True, False] * 30), "y", None, SPLITS, 1, True, "t", "auto")
    assert (flags.schema.problem_type, flags.schema.classes) == ("binary", ["false", "true"])


def test_splits_are_stratified_and_codes_map_back_to_the_rows_labels() -> None:
    labels = ["rare"] * 20 + ["common"] * 180
    source = table(labels)
    prepared = prepare_table(source, "y", None, SPLITS, 7, True, "t.csv", "auto")
    shares = {split: float(np.mean(array[:, 0] == prepared.schema.classes.index("rare")))
              for split, array in prepared.splits.items()}
    for share in shares.values():
        assert share == pytest.approx(0.1, abs=0.02)
    # Every row's code is its own label: x is unique per row, so rows can be matched.
    by_x = dict(zip(source.column("x").to_pylist(), labels, strict=True))
    train = prepared.splits["train"]
    schema = prepared.schema
    x = schema.features[0]
    for row in train[:50]:
        original = row[1] * x.scale + x.mean
        nearest = min(by_x, key=lambda value: abs(value - original))
        assert schema.classes[int(row[0])] == by_x[nearest]


def test_regression_schema_json_has_no_classification_fields() -> None:
    prepared = prepare_table(generate(300, 1), "MedHouseVal", None, SPLITS, 1, True, "s")
    body = json.loads(prepared.schema.to_json())
    assert "problem_type" not in body and "classes" not in body
    binary = prepare_table(generate_for("binary", 300, 1), "Expensive", None, SPLITS, 1, True,
                           "s", "auto")
    assert json.loads(binary.schema.to_json())["classes"] == ["no", "yes"]


def test_generated_classification_sets() -> None:
    binary = generate_for("binary", 1000, 3)
    assert set(binary.column("Expensive").to_pylist()) == {"no", "yes"}
    bands = generate_for("multiclass", 1000, 3)
    assert set(bands.column("PriceBand").to_pylist()) == {"low", "mid", "high", "top"}
    # the same generator: the features are the regression set's
    assert binary.column("MedInc").equals(generate(1000, 3).column("MedInc"))


@pytest.mark.parametrize(
    ("labels", "problem_type", "message"),
    [
        (["a"] * 30, "auto", "target column 'y' has one class ('a') in every row"),
        (["a"] * 30, "binary", "has one class ('a')"),
        (["a", "b", "c"] * 10, "binary",
         "problem type binary, but target column 'y' has 3 classes (a, b, c); use "
         "--problem-type multiclass"),
        (["a", "b"] * 15, "multiclass",
         "problem type multiclass, but target column 'y' has 2 classes (a, b); use "
         "--problem-type binary"),
        (["a", "b"] * 15, "regression",
         "target column 'y' must be numeric for regression (it holds 'a')"),
        (["a", "b"] * 15 + ["c", "c"], "auto",
         "class 'c' of target 'y' has 2 rows; stratified splits need at least 3 per class"),
        ([float(i) for i in range(300)], "multiclass",
         "has 300 distinct values (at most 200 classes); is it a regression target?"),
    ],
)
def test_bad_classification_targets(labels: list[object], problem_type: str,
                                    message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("?", r"\?")):
        prepare_table(table(labels), "y", None, SPLITS, 1, True, "t.csv", problem_type)


def test_missing_labels_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(40)) + "41,\n")
    prepared = prepare_table(read_table(path), "y", None, SPLITS, 1, True, str(path), "auto")
    assert prepared.dropped_rows == 1
    assert sum(a.shape[0] for a in prepared.splits.values()) == 40
