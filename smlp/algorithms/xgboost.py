"""SageMaker's built-in XGBoost: hyperparameter names, metric regexes and artifact layout."""

from __future__ import annotations

from smlp.algorithms.hyperparameters import Hyperparameter as H
from smlp.algorithms.spec import NUMBER, AlgorithmSpec, MetricDefinition

# Valid ranges as the container validates them (aws/sagemaker-xgboost-container,
# src/sagemaker_xgboost_container/algorithm_mode/hyperparameter_validation.py; AWS docs "XGBoost
# hyperparameters"). `tunable` follows the container's `tunable=True` entries, which are the
# rows of the "Tunable XGBoost hyperparameters" table of "Tune an XGBoost Model": SageMaker
# rejects a tuning job that searches any other one. smlp lists the subset of the categorical
# values (objective, eval_metric) its problem types use, and no GPU tree method.
REGRESSION_METRICS = ("rmse", "mse", "mae")
# Binary: xgboost's own metrics only. The container's custom ones (accuracy, f1, ...) turn a
# binary:logistic prediction into a label with `preds > 0.0` (metrics/custom_metrics.py
# margin_to_class_label), which on probabilities calls every row positive.
BINARY_METRICS = ("auc", "logloss", "error")
MULTICLASS_METRICS = ("mlogloss", "merror", "accuracy", "balanced_accuracy", "f1")
PROBLEM_METRICS = {"regression": REGRESSION_METRICS, "binary": BINARY_METRICS,
                   "multiclass": MULTICLASS_METRICS}
PROBLEM_OBJECTIVES = {"binary": "binary:logistic", "multiclass": "multi:softprob"}
# The container's XGB_MAXIMIZE_METRICS (constants/xgb_constants.py), among smlp's metrics.
MAXIMIZE = frozenset({"auc", "accuracy", "balanced_accuracy", "f1"})
_HYPERPARAMETERS = [
    H("num_round", "int", 1, required=True),
    H("max_depth", "int", 0),
    H("eta", "float", 0, 1),
    H("subsample", "float", 0, 1, min_open=True),
    H("colsample_bytree", "float", 0, 1, min_open=True),
    H("colsample_bylevel", "float", 0, 1, min_open=True),
    H("colsample_bynode", "float", 0, 1, min_open=True),
    H("min_child_weight", "float", 0),
    H("gamma", "float", 0),
    H("alpha", "float", 0),
    H("lambda", "float", 0),
    H("max_delta_step", "float", 0),
    H("max_bin", "int", 2, tunable=False),  # the container says >= 0; xgboost itself needs 2
    H("max_leaves", "int", 0, tunable=False),
    H("num_parallel_tree", "int", 1, tunable=False),
    H("early_stopping_rounds", "int", 1, tunable=False),
    H("objective", "str", choices=("reg:squarederror", "reg:absoluteerror",
                                   "reg:pseudohubererror", "reg:tweedie", "reg:gamma",
                                   "binary:logistic", "multi:softprob"),
      tunable=False),
    H("eval_metric", "str", choices=REGRESSION_METRICS + BINARY_METRICS + MULTICLASS_METRICS,
      tunable=False),
    H("num_class", "int", 2, tunable=False),  # required by multi:softprob, refused otherwise
    H("scale_pos_weight", "float", 0, min_open=True, tunable=False),
    H("tree_method", "str", choices=("auto", "exact", "approx", "hist"), tunable=False),
    H("grow_policy", "str", choices=("depthwise", "lossguide"), tunable=False),
    H("booster", "str", choices=("gbtree", "dart", "gblinear"), tunable=False),
    H("base_score", "float", 0, tunable=False),
    H("seed", "int", 0, 2**31 - 2, tunable=False),  # container: (-2^31, 2^31 - 1)
    H("nthread", "int", 1, tunable=False),
    H("verbosity", "int", 0, 3, tunable=False),
]

# The container defines one metric per eval_metric on the validation channel, all of them
# tuning objectives (algorithm_mode/metrics.py; the metric table of "Tune an XGBoost Model":
# validation:* only). xgboost also logs train-<metric> on every round: smlp reads those lines,
# but they are no tuning objective.
# The container also defines validation:balanced_accuracy, but the AWS docs' metric table of
# "Tune an XGBoost Model" does not list it (accuracy, auc, error, f1, logloss, mae, map, merror,
# mlogloss, mse, ndcg, rmse): where they differ the docs win, so it is logged, not tuned on.
_NOT_IN_DOCS_TABLE = ("balanced_accuracy",)
_METRICS = tuple(
    MetricDefinition(f"{channel}:{metric}", rf".*\[[0-9]+\].*#011{channel}-{metric}:{NUMBER}.*",
                     minimize=metric not in MAXIMIZE,
                     tunable=channel == "validation" and metric not in _NOT_IN_DOCS_TABLE)
    for channel in ("validation", "train")
    for metric in REGRESSION_METRICS + BINARY_METRICS + MULTICLASS_METRICS
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
    # "Use checkpoints": built-in XGBoost (0.90-1 or later) checkpoints without script
    # changes (container checkpointing.py: xgboost-checkpoint.<round> in the LocalPath).
    supports_checkpoints=True,
    resource="num_round",
)
