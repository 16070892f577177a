"""What each algorithm needs for a problem type: objective, class count, metrics to stop on.

The contracts in this package hold the regression defaults (what the containers default to).
For a classification data set smlp replaces the regression defaults with the classifier's
(XGBoost ``binary:logistic``/``multi:softprob`` with ``num_class``; k-NN
``predictor_type: classifier``; the scikit-learn script's ``problem_type``) and refuses
values that contradict the data.
"""

from __future__ import annotations

from typing import Any

from smlp.algorithms import xgboost

CLASSIFICATION = ("binary", "multiclass")

# The tuning objective (and what XGBoost early-stops on) when none is configured.
DEFAULT_OBJECTIVES: dict[str, dict[str, str]] = {
    "xgboost": {"binary": "validation:logloss", "multiclass": "validation:mlogloss"},
    "knn": {"binary": "test:accuracy", "multiclass": "test:accuracy"},
    "sklearn-gbm": {"binary": "validation:logloss", "multiclass": "validation:logloss"},
}
_REGRESSION_OBJECTIVES = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror",
                          "reg:tweedie", "reg:gamma")


def default_objective(algo: str, problem_type: str, regression_default: str) -> str:
    return DEFAULT_OBJECTIVES.get(algo, {}).get(problem_type, regression_default)


def objective_fits(algo: str, problem_type: str, metric: str) -> bool:
    """Whether a metric (``validation:auc``) means something for this problem type."""
    name = metric.partition(":")[2]
    if algo == "xgboost":
        return name in xgboost.PROBLEM_METRICS[problem_type]
    if algo == "knn":
        return name == ("mse" if problem_type == "regression" else "accuracy")
    regression = name in ("rmse", "mse", "mae")
    return regression == (problem_type == "regression")


def adapt(algo: str, values: dict[str, Any], problem_type: str, n_classes: int,
          defaults: dict[str, Any]) -> dict[str, Any]:
    """``values`` for ``problem_type``: the regression defaults swapped for the classifier's,
    the class count filled in; ValueError naming the hyperparameter that contradicts the data."""
    values = dict(values)
    classify = problem_type in CLASSIFICATION
    if algo == "xgboost":
        _xgboost(values, problem_type, n_classes, defaults)
    elif algo == "knn":
        wanted = "classifier" if classify else "regressor"
        given = str(values.get("predictor_type", wanted))
        if given != wanted and not (classify and given == defaults.get("predictor_type")):
            raise ValueError(f"predictor_type: {given} does not fit {problem_type} data; use "
                             f"{wanted}")
        values["predictor_type"] = wanted
    elif algo == "sklearn-gbm":
        given = str(values.get("problem_type", problem_type))
        if given != problem_type:
            raise ValueError(f"problem_type: {given} does not fit the data, which is "
                             f"{problem_type}")
        if classify:
            values["problem_type"] = problem_type
    return values


def _xgboost(values: dict[str, Any], problem_type: str, n_classes: int,
             defaults: dict[str, Any]) -> None:
    objective = str(values.get("objective", defaults.get("objective", "")))
    if problem_type in CLASSIFICATION:
        wanted = xgboost.PROBLEM_OBJECTIVES[problem_type]
        if objective == defaults.get("objective") or objective in ("", wanted):
            objective = wanted
        if objective != wanted:
            raise ValueError(f"objective: {objective} does not fit {problem_type} data; use "
                             f"{wanted}")
        values["objective"] = objective
    elif objective not in ("",) + _REGRESSION_OBJECTIVES:
        raise ValueError(f"objective: {objective} is a classification objective, but the data "
                         "is regression")
    given = values.get("num_class")
    if problem_type == "multiclass":
        if given is not None and int(given) != n_classes:
            raise ValueError(f"num_class: {given} does not match the data's {n_classes} classes")
        values["num_class"] = n_classes
    elif given is not None:
        raise ValueError(f"num_class: only for multiclass data (this data is {problem_type})")
    if "scale_pos_weight" in values and problem_type != "binary":
        raise ValueError(f"scale_pos_weight: only for binary data (this data is {problem_type})")
    metric = values.get("eval_metric")
    if metric is not None:
        fitting = xgboost.PROBLEM_METRICS[problem_type]
        for name in str(metric).split(","):
            if name.strip() and name.strip() not in fitting:
                raise ValueError(f"eval_metric: {name.strip()} does not fit {problem_type} "
                                 f"data; use one of {', '.join(fitting)}")
