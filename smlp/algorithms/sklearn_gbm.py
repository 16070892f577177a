"""scikit-learn gradient boosting in script mode (``training_scripts/sklearn_gbm.py``).

Script mode has no built-in metrics: the ``MetricDefinitions`` below must match what the
script prints, and the SageMaker backend sends them with the job.
"""

from __future__ import annotations

from smlp.algorithms.hyperparameters import Hyperparameter as H
from smlp.algorithms.spec import NUMBER, AlgorithmSpec, MetricDefinition

_HYPERPARAMETERS = [
    H("n_estimators", "int", 1, 100_000),
    H("max_depth", "int", 1, 64),
    H("learning_rate", "float", 1e-6, 10),
    H("subsample", "float", 1e-6, 1),
    H("min_samples_split", "int", 2),
    H("min_samples_leaf", "int", 1),
    H("min_weight_fraction_leaf", "float", 0, 0.5),
    H("max_features", "float", 1e-6, 1),
    H("max_leaf_nodes", "int", 2),
    H("min_impurity_decrease", "float", 0),
    # Regression losses, then GradientBoostingClassifier's.
    H("loss", "str", choices=("squared_error", "absolute_error", "huber", "quantile",
                              "log_loss", "exponential")),
    H("alpha", "float", 1e-6, 1 - 1e-6),
    H("n_iter_no_change", "int", 1),
    H("validation_fraction", "float", 1e-6, 1 - 1e-6),
    H("random_state", "int", 0, tunable=False),
    # The script's own: which estimator it fits (smlp sets it from the data), and
    # class_weight=balanced for imbalanced classes.
    H("problem_type", "str", choices=("regression", "binary", "multiclass"), tunable=False),
    H("class_weight", "str", choices=("balanced",), tunable=False),
]

_METRICS = tuple(
    MetricDefinition(f"{channel}:{metric}", rf"{channel}:{metric}={NUMBER};",
                     minimize=metric != "accuracy")
    for channel in ("validation", "train")
    for metric in ("rmse", "mse", "mae", "logloss", "accuracy")
)

SPEC = AlgorithmSpec(
    name="sklearn-gbm",
    title="scikit-learn gradient boosting (script mode)",
    entry_point="sklearn_gbm.py",
    image_framework="sklearn",
    default_container_version="1.9-0",
    content_type="text/csv",
    channels={"train": "train", "validation": "validation"},
    required_channels=("train",),
    hyperparameters={h.name: h for h in _HYPERPARAMETERS},
    defaults={"n_estimators": 100, "max_depth": 3, "learning_rate": 0.1, "random_state": 0},
    metrics=_METRICS,
    default_objective="validation:rmse",
    script_mode=True,
    # The script prints validation:rmse once per boosting stage: Hyperband's epochs.
    resource="n_estimators",
)
