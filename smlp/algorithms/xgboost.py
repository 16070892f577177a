"""SageMaker's built-in XGBoost: hyperparameter names, metric regexes and artifact layout."""

from __future__ import annotations

from smlp.algorithms.hyperparameters import Hyperparameter as H
from smlp.algorithms.spec import NUMBER, AlgorithmSpec, MetricDefinition

_HYPERPARAMETERS = [
    H("num_round", "int", 1, 100_000, required=True),
    H("max_depth", "int", 0, 64),
    H("eta", "float", 0, 1),
    H("subsample", "float", 1e-6, 1),
    H("colsample_bytree", "float", 1e-6, 1),
    H("colsample_bylevel", "float", 1e-6, 1),
    H("colsample_bynode", "float", 1e-6, 1),
    H("min_child_weight", "float", 0),
    H("gamma", "float", 0),
    H("alpha", "float", 0),
    H("lambda", "float", 0),
    H("max_delta_step", "float", 0),
    H("max_bin", "int", 2),
    H("max_leaves", "int", 0),
    H("num_parallel_tree", "int", 1),
    H("early_stopping_rounds", "int", 1),
    H("objective", "str", choices=("reg:squarederror", "reg:absoluteerror",
                                   "reg:pseudohubererror", "reg:tweedie", "reg:gamma"),
      tunable=False),
    H("eval_metric", "str", choices=("rmse", "mae", "mse"), tunable=False),
    H("tree_method", "str", choices=("auto", "exact", "approx", "hist")),
    H("grow_policy", "str", choices=("depthwise", "lossguide")),
    H("booster", "str", choices=("gbtree", "dart", "gblinear")),
    H("base_score", "float"),
    H("seed", "int", 0, tunable=False),
    H("nthread", "int", 1, tunable=False),
    H("verbosity", "int", 0, 3, tunable=False),
]

_METRICS = tuple(
    MetricDefinition(f"{channel}:{metric}", rf".*\[[0-9]+\].*#011{channel}-{metric}:{NUMBER}.*")
    for channel in ("validation", "train")
    for metric in ("rmse", "mse", "mae")
)

SPEC = AlgorithmSpec(
    name="xgboost",
    title="XGBoost (SageMaker built-in)",
    entry_point="xgboost_builtin.py",
    image_framework="xgboost",
    default_container_version="3.2-0",
    content_type="text/csv",
    channels={"train": "train", "validation": "validation"},
    required_channels=("train",),
    hyperparameters={h.name: h for h in _HYPERPARAMETERS},
    defaults={
        "num_round": 100,
        "max_depth": 5,
        "eta": 0.2,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "objective": "reg:squarederror",
    },
    metrics=_METRICS,
    default_objective="validation:rmse",
)
