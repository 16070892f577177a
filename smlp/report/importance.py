"""Why a model predicts what it does, in the user's own columns.

Permutation importance: how much worse the comparison metric gets on the test split when one
original column is shuffled; a categorical column's one-hot group is shuffled as one block,
so the answer is about the column, not one of its dummies. XGBoost's per-row contributions
(SHAP values, xgboost's own ``pred_contribs``) are summed over each one-hot group, which is
exact because they add up to the prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_ROWS = 2000  # a larger split is subsampled (fixed seed): the ranking is stable long before
REPEATS = 3
SEED = 0
# Rows predicted in all (baseline and every shuffle) for models whose prediction is a search
# of the training set: k-NN scans it for every row, at ~50x a tree ensemble's cost per row.
PREDICTION_BUDGET = {"knn": 10_000}
MIN_ROWS = 200


def rows_for(algo: str, rows: int, groups: int, repeats: int = REPEATS) -> int:
    """How many test rows ``algo``'s permutation importance uses."""
    budget = PREDICTION_BUDGET.get(algo)
    limit = MAX_ROWS if budget is None else max(MIN_ROWS, budget // (groups * repeats + 1))
    return min(rows, MAX_ROWS, limit)


@dataclass
class Importance:
    """Per original column: mean and standard deviation over the repeats of the metric's
    change (positive: the model needs the column)."""

    baseline: float
    columns: dict[str, tuple[float, float]]
    rows: int


def column_groups(schema: Any) -> list[tuple[str, list[int]]]:
    """Each original column and the encoded (model input) positions it became."""
    groups, position = [], 0
    for feature in schema.features:
        width = len(feature.encoded_names)
        groups.append((feature.name, list(range(position, position + width))))
        position += width
    return groups


def subsample(rows: int, limit: int = MAX_ROWS, seed: int = SEED) -> Any:
    """The same rows every time: a sorted draw without replacement, or all rows."""
    import numpy as np

    if rows <= limit:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))


def permutation_importance(predict: Callable[[Any], Any], features: Any, labels: Any,
                           groups: list[tuple[str, list[int]]],
                           loss: Callable[[Any, Any], float], repeats: int = REPEATS,
                           seed: int = SEED, limit: int = MAX_ROWS) -> Importance:
    """``loss`` is lower-is-better (negate a higher-is-better metric before passing it)."""
    import numpy as np

    rows = subsample(len(labels), limit)
    x = np.asarray(features)[rows]
    y = np.asarray(labels)[rows]
    baseline = loss(y, predict(x))
    rng = np.random.default_rng(seed)
    columns: dict[str, tuple[float, float]] = {}
    for name, positions in groups:
        changes = []
        for _ in range(repeats):
            shuffled = x.copy()
            shuffled[:, positions] = x[rng.permutation(len(y))][:, positions]
            changes.append(loss(y, predict(shuffled)) - baseline)
        columns[name] = (float(np.mean(changes)), float(np.std(changes)))
    return Importance(baseline=float(baseline), columns=columns, rows=len(y))


@dataclass
class Contributions:
    """SHAP values per original column (rows x columns) and the bias term."""

    columns: list[str]
    values: Any
    bias: float
    rows: Any  # the test-split rows they are for

    def mean_abs(self) -> dict[str, float]:
        import numpy as np

        return {c: float(np.mean(np.abs(self.values[:, i]))) for i, c in enumerate(self.columns)}


def xgboost_contributions(booster: Any, features: Any,
                          groups: list[tuple[str, list[int]]]) -> Contributions:
    """xgboost's exact TreeSHAP (``pred_contribs``) summed over each column's group."""
    import numpy as np
    import xgboost

    rows = subsample(len(features))
    x = np.asarray(features, dtype=np.float32)[rows]
    matrix = xgboost.DMatrix(x, feature_names=booster.feature_names)
    raw = np.asarray(booster.predict(matrix, pred_contribs=True), dtype=np.float64)
    if raw.ndim == 3:  # one set per class (multi:softprob): explain the summed magnitude
        raw = np.abs(raw).sum(axis=1)
    values = np.column_stack([raw[:, positions].sum(axis=1) for _, positions in groups])
    return Contributions(columns=[name for name, _ in groups], values=values,
                         bias=float(raw[0, -1]), rows=rows)
