"""Permutation importance and SHAP values, grouped back into the user's original columns."""

from __future__ import annotations

import numpy as np

from smlp.data.schema import CategoricalFeature, NumericFeature, Schema
from smlp.report import importance

SCHEMA = Schema(target="y", features=[
    NumericFeature(name="a", fill=0.0),
    CategoricalFeature(name="colour", categories=["red", "green", "blue"]),
    NumericFeature(name="noise", fill=0.0),
])


def _features(rows: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    one_hot = np.eye(3)[rng.integers(0, 3, rows)]
    return np.column_stack([rng.normal(size=rows), one_hot, rng.normal(size=rows)])


def _rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - p) ** 2)))


def test_groups_follow_the_schema() -> None:
    assert importance.column_groups(SCHEMA) == [("a", [0]), ("colour", [1, 2, 3]),
                                                ("noise", [4])]


def test_a_one_hot_group_is_shuffled_as_a_block_and_unused_columns_score_zero() -> None:
    x = _features(600)
    weights = np.array([1.0, 4.0, -4.0, 0.0, 0.0])
    y = x @ weights

    def predict(features: np.ndarray) -> np.ndarray:
        assert np.all(features[:, 1:4].sum(axis=1) == 1.0)  # every row still one category
        return features @ weights

    found = importance.permutation_importance(predict, x, y, importance.column_groups(SCHEMA),
                                              _rmse)
    assert found.baseline == 0.0 and found.rows == 600
    assert found.columns["noise"] == (0.0, 0.0)
    assert found.columns["colour"][0] > found.columns["a"][0] > 0.5
    again = importance.permutation_importance(predict, x, y, importance.column_groups(SCHEMA),
                                              _rmse)
    assert again.columns == found.columns  # fixed seed


def test_large_splits_are_subsampled_the_same_way_and_knn_gets_fewer_rows() -> None:
    assert np.array_equal(importance.subsample(10_000), importance.subsample(10_000))
    assert len(importance.subsample(10_000)) == importance.MAX_ROWS
    assert importance.rows_for("xgboost", 3096, 8) == importance.MAX_ROWS
    assert importance.rows_for("knn", 3096, 8) == 10_000 // (8 * importance.REPEATS + 1)
    assert importance.rows_for("knn", 150, 8) == 150


def test_xgboost_contributions_add_up_to_the_prediction() -> None:
    import xgboost

    x = _features(400)
    y = x @ np.array([1.0, 4.0, -4.0, 0.0, 0.0])
    booster = xgboost.train({"max_depth": 3, "eta": 0.3, "seed": 0}, xgboost.DMatrix(x, y), 30)
    found = importance.xgboost_contributions(booster, x, importance.column_groups(SCHEMA))
    assert found.columns == ["a", "colour", "noise"] and found.values.shape == (400, 3)
    margin = booster.predict(xgboost.DMatrix(x), output_margin=True)
    np.testing.assert_allclose(found.values.sum(axis=1) + found.bias, margin, atol=1e-4)
    mean_abs = found.mean_abs()
    assert mean_abs["colour"] > mean_abs["a"] > mean_abs["noise"]
