"""Hyperparameters for a problem type: the regression defaults give way to the classifier's,
the class count comes from the data, and values that contradict the data are refused."""

from __future__ import annotations

import pytest

from smlp.algorithms import get_algorithm
from smlp.algorithms.problems import adapt, default_objective, objective_fits


def xgb(values: dict[str, object], problem: str, classes: int = 0) -> dict[str, object]:
    return adapt("xgboost", values, problem, classes, get_algorithm("xgboost").defaults)


def test_xgboost_objectives_and_num_class() -> None:
    assert xgb({"objective": "reg:squarederror"}, "binary", 2)["objective"] == "binary:logistic"
    multi = xgb({"objective": "reg:squarederror"}, "multiclass", 5)
    assert (multi["objective"], multi["num_class"]) == ("multi:softprob", 5)
    assert xgb({"scale_pos_weight": 3.0}, "binary", 2)["scale_pos_weight"] == 3.0
    assert xgb({"objective": "reg:squarederror"}, "regression") == {
        "objective": "reg:squarederror"}  # regression untouched


@pytest.mark.parametrize(
    ("values", "problem", "classes", "message"),
    [
        ({"objective": "reg:tweedie"}, "binary", 2, "objective: reg:tweedie does not fit binary"),
        ({"objective": "binary:logistic"}, "regression", 0,
         "objective: binary:logistic is a classification objective"),
        ({"num_class": 3}, "multiclass", 4, "num_class: 3 does not match the data's 4 classes"),
        ({"num_class": 2}, "binary", 2, "num_class: only for multiclass data"),
        ({"scale_pos_weight": 2.0}, "multiclass", 3, "scale_pos_weight: only for binary data"),
        ({"eval_metric": "rmse"}, "multiclass", 3, "eval_metric: rmse does not fit multiclass"),
    ],
)
def test_contradictions_are_refused(values: dict[str, object], problem: str, classes: int,
                                    message: str) -> None:
    with pytest.raises(ValueError, match=message):
        xgb(values, problem, classes)


def test_knn_and_sklearn_follow_the_data() -> None:
    knn = get_algorithm("knn").defaults
    assert adapt("knn", dict(knn), "binary", 2, knn)["predictor_type"] == "classifier"
    with pytest.raises(ValueError, match="predictor_type: classifier does not fit regression"):
        adapt("knn", {"predictor_type": "classifier"}, "regression", 0, knn)
    gbm = adapt("sklearn-gbm", {}, "multiclass", 3, {})
    assert gbm == {"problem_type": "multiclass"}
    assert default_objective("knn", "multiclass", "test:mse") == "test:accuracy"
    assert objective_fits("sklearn-gbm", "binary", "validation:logloss")
    assert not objective_fits("sklearn-gbm", "binary", "validation:rmse")
