"""Classification targets: which problem a target is, its label map, and stratified splits.

SageMaker's built-in classifiers want labels 0..K-1 in column 0 (XGBoost's binary:logistic
and multi:softprob: "label must be in [0, num_class)"). smlp sorts the original values, codes
them by position and keeps the list in the schema, so every output maps back.
"""

from __future__ import annotations

from typing import Any

from smlp.errors import DataError

PROBLEM_TYPES = ("auto", "regression", "binary", "multiclass")
CLASSIFICATION = ("binary", "multiclass")
MAX_CLASSES = 200  # more distinct values than this is a regression target, not classes
SHOWN = 5


def is_text_like(arrow_type: Any) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
            or pa.types.is_boolean(arrow_type) or pa.types.is_dictionary(arrow_type))


def decide(column: Any, target: str, problem_type: str, source: str) -> str:
    """``auto``: text, booleans and categories are classes (two of them: binary); numbers stay
    regression unless told. An explicit regression needs numbers."""
    if problem_type not in PROBLEM_TYPES:
        raise DataError(f"{source}: problem type {problem_type!r}; expected one of "
                        + ", ".join(PROBLEM_TYPES))
    text = is_text_like(column.type)
    if problem_type == "regression":
        if text:
            raise not_numeric(column, target, source)
        return "regression"
    if problem_type in CLASSIFICATION:
        return problem_type
    if not text:
        return "regression"
    return "binary" if len(_distinct(column)) == 2 else "multiclass"


def not_numeric(column: Any, target: str, source: str) -> DataError:
    example = next((v for v in _as_text(column).to_pylist() if v is not None), "?")
    return DataError(f"{source}: target column {target!r} must be numeric for regression (it "
                     f"holds {example!r}); use --problem-type auto, binary or multiclass")


def _as_text(column: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    return pc.cast(column, pa.string())


def _distinct(column: Any) -> list[Any]:
    """The target's distinct non-missing values in their natural order (numbers by value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    values = pc.unique(pc.drop_null(column)).to_pylist()
    values = [v for v in values if not (isinstance(v, float) and v != v)]
    return sorted(values)


def class_names(column: Any) -> list[str]:
    """The distinct values as text, as a CSV holds them (``true``, ``3``, ``2.5``, ``cat``)."""
    import pyarrow as pa

    values = _distinct(column)
    if not values:
        return []
    import pyarrow.compute as pc

    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    return pc.cast(pa.array(values, kind), pa.string()).to_pylist()


def encode_labels(column: Any, target: str, problem_type: str,
                  source: str) -> tuple[list[str], Any]:
    """(class names in code order, int64 codes 0..K-1 per row); the class count must fit."""
    import pyarrow as pa
    import pyarrow.compute as pc

    classes = class_names(column)
    count = len(classes)
    shown = ", ".join(classes[:SHOWN]) + (", ..." if count > SHOWN else "")
    if count == 1:
        raise DataError(f"{source}: target column {target!r} has one class ({classes[0]!r}) in "
                        "every row; classification needs at least two")
    if problem_type == "binary" and count != 2:
        raise DataError(f"{source}: problem type binary, but target column {target!r} has "
                        f"{count} classes ({shown}); use --problem-type multiclass")
    if problem_type == "multiclass" and count == 2:
        raise DataError(f"{source}: problem type multiclass, but target column {target!r} has 2 "
                        f"classes ({shown}); use --problem-type binary")
    if count > MAX_CLASSES:
        raise DataError(f"{source}: problem type {problem_type}, but target column {target!r} "
                        f"has {count:,} distinct values (at most {MAX_CLASSES} classes); is it a "
                        "regression target? use --problem-type regression")
    codes = pc.index_in(_as_text(column), value_set=pa.array(classes, pa.string()))
    return classes, codes.to_numpy(zero_copy_only=False).astype("int64")


def stratified_split(codes: Any, classes: list[str], splits: Any, rng: Any, target: str,
                     source: str) -> dict[str, Any]:
    """Row indices per split, each class divided by the split fractions (at least one row of
    every class in every split, so each split can score every class)."""
    import numpy as np

    parts: dict[str, list[Any]] = {"train": [], "validation": [], "test": []}
    for code, name in enumerate(classes):
        rows = np.flatnonzero(codes == code)
        if len(rows) < 3:
            raise DataError(f"{source}: class {name!r} of target {target!r} has {len(rows)} "
                            f"row{'s' if len(rows) != 1 else ''}; stratified splits need at "
                            "least 3 per class (one each for train, validation and test); add "
                            "rows or drop the class")
        rows = rows[rng.permutation(len(rows))]
        n_validation = max(1, int(round(splits.validation * len(rows))))
        n_test = max(1, int(round(splits.test * len(rows))))
        n_train = max(1, len(rows) - n_validation - n_test)
        n_validation = len(rows) - n_train - n_test
        parts["train"].append(rows[:n_train])
        parts["validation"].append(rows[n_train:n_train + n_validation])
        parts["test"].append(rows[n_train + n_validation:])
    result = {}
    for split, chunks in parts.items():
        joined = np.concatenate(chunks)
        result[split] = joined[rng.permutation(len(joined))]
    return result
