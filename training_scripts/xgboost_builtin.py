"""SageMaker's built-in XGBoost container (3.2-0), emulated for smlp's local backend.

Training: ``python xgboost_builtin.py`` inside a job folder (``$OPT_ML``, default ``/opt/ml``)
reads ``input/config/hyperparameters.json`` and the ``train`` / ``validation`` CSV channels,
prints the container's per-round lines (``[3]<TAB>train-rmse:0.5<TAB>validation-rmse:0.6``),
which ``MetricDefinitions`` regexes turn into metrics, and saves ``model/xgboost-model`` with
``Booster.save_model`` as the container does. Errors go to ``output/failure`` and exit 1.

Batch transform imports this file and calls ``model_fn`` then ``predict_fn``; those need only
xgboost and numpy, never the ``_sm_io`` helper that training uses.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xgboost

MODEL_FILE = "xgboost-model"
# The regression metrics smlp supports. The container computes each of them itself and hands
# them to xgboost.train as custom_metric, never as eval_metric, so xgboost also logs its
# objective's own default metric (rmse for reg:squarederror) natively
# (sagemaker-xgboost-container: metrics/custom_metrics.py CUSTOM_METRICS,
# algorithm_mode/train_utils.py get_eval_metrics_and_feval).
# Classification: xgboost's own metrics go to xgboost as eval_metric; the container's custom
# ones (accuracy, balanced_accuracy, f1: macro F1) through custom_metric. XGB_MAXIMIZE_METRICS
# (constants/xgb_constants.py) decides the early-stopping direction.
NATIVE_METRICS = ("auc", "logloss", "error", "mlogloss", "merror")
CUSTOM_CLASSIFICATION = ("accuracy", "balanced_accuracy", "f1")
METRICS = ("rmse", "mae", "mse") + NATIVE_METRICS + CUSTOM_CLASSIFICATION
MAXIMIZE = ("auc", "accuracy", "balanced_accuracy", "f1")
OBJECTIVES = (
    "reg:squarederror", "reg:squaredlogerror", "reg:absoluteerror", "reg:pseudohubererror",
    "reg:tweedie", "reg:gamma", "reg:logistic", "binary:logistic", "count:poisson",
    "multi:softprob", "multi:softmax",
)
MULTI = ("multi:softprob", "multi:softmax")
# Hyperparameters that are not booster parameters (they steer xgboost.train itself).
_TRAIN_ARGS = ("num_round", "early_stopping_rounds", "eval_metric")


def model_fn(model_dir: str) -> xgboost.Booster:
    """Load ``xgboost-model`` the way the container's serving stack does."""
    xgboost = _import_xgboost()
    booster = xgboost.Booster()
    # From a buffer: xgboost sniffs JSON vs UBJSON from the bytes, whereas a path without an
    # extension makes it warn that it is guessing.
    booster.load_model(bytearray((Path(model_dir) / MODEL_FILE).read_bytes()))
    return booster


def predict_fn(data: np.ndarray, model: xgboost.Booster) -> np.ndarray:
    """One float32 prediction per row of ``data`` (features only, no target column): the
    value, binary:logistic's probability of class 1, or for multi:softprob a row of class
    probabilities (rows x num_class), as the container's ``booster.predict`` returns them."""
    # float32 as it comes (what xgboost uses internally); a float64 copy would only cost time.
    dtype = data.dtype if data.dtype in (np.float32, np.float64) else np.float32
    features = np.ascontiguousarray(data, dtype=dtype)
    if features.ndim == 1:
        features = features.reshape(1, -1)
    predictions = np.asarray(model.inplace_predict(features), dtype=np.float32)
    if predictions.ndim == 2 and predictions.shape[1] > 1:
        return predictions
    return predictions.reshape(-1)


def batch_lines(predictions: np.ndarray) -> list[str]:
    """What the container writes per record in a batch transform (SAGEMAKER_BATCH):
    ``str`` of each ``tolist()`` item, so ``0.25`` or ``[0.25, 0.75]`` (algorithm_mode/serve.py
    ``invocations``: ``"\\n".join(map(str, preds_list))``)."""
    return [str(item) for item in np.asarray(predictions).tolist()]


def _schema() -> dict[str, Any]:
    from _sm_io import Param

    unit = Param(float, 0, 1)
    fraction = Param(float, 1e-6, 1)
    return {
        "num_round": Param(int, 1, required=True),
        "max_depth": Param(int, 0),
        "eta": unit,
        "subsample": fraction,
        "colsample_bytree": fraction,
        "colsample_bylevel": fraction,
        "colsample_bynode": fraction,
        "min_child_weight": Param(float, 0),
        "gamma": Param(float, 0),
        "alpha": Param(float, 0),
        "lambda": Param(float, 0),
        "max_delta_step": Param(float, 0),
        "max_bin": Param(int, 2),
        "max_leaves": Param(int, 0),
        "num_parallel_tree": Param(int, 1),
        "early_stopping_rounds": Param(int, 1),
        "objective": Param(str, choices=OBJECTIVES),
        "eval_metric": Param(str),  # a comma list, checked in _metric_plan
        "tree_method": Param(str, choices=("auto", "exact", "approx", "hist")),
        "grow_policy": Param(str, choices=("depthwise", "lossguide")),
        "booster": Param(str, choices=("gbtree", "dart", "gblinear")),
        "base_score": Param(float),
        "seed": Param(int, 0),
        "nthread": Param(int, 1),
        "verbosity": Param(int, 0, 3),
        "num_class": Param(int, 2),
        "scale_pos_weight": Param(float, 1e-12),
    }


def _check_objective(hps: dict[str, Any]) -> None:
    """The container's objective/num_class rule (algorithm_mode/hyperparameter_validation.py
    ``objective_validator``) and its 'auc' rule (``eval_metric_dep_validator``)."""
    from _sm_io import JobError

    objective = hps.get("objective")
    if objective in MULTI and "num_class" not in hps:
        raise JobError("Require input for parameter 'num_class' for multi-classification")
    if objective not in MULTI and "num_class" in hps:
        raise JobError("Do not need to setup parameter 'num_class' for learning task other than "
                       "multi-classification.")
    metrics = str(hps.get("eval_metric", "")) + "," + str(hps.get("_tuning_objective_metric", ""))
    if "auc" in metrics and not str(objective).startswith(("binary:", "rank:")):
        raise JobError("Metric 'auc' can only be applied for classification and ranking "
                       "problems.")


def _metrics_for(objective: str) -> tuple[str, ...]:
    """The metrics this emulation computes for an objective's kind of labels (the container
    itself refuses auc for other than binary and ranking objectives)."""
    if objective in MULTI:
        return ("mlogloss", "merror") + CUSTOM_CLASSIFICATION
    if objective.startswith("binary:"):
        return ("auc", "logloss", "error", "rmse", "mae", "mse")
    return ("rmse", "mae", "mse")


def _metric_plan(hps: dict[str, Any]) -> tuple[list[str], str | None]:
    """The metrics a job computes, and the one early stopping watches, as the container picks.

    sagemaker-xgboost-container, algorithm_mode/train.py ``train_job`` with
    train_utils.py ``get_eval_metrics_and_feval``: the tuning objective's metric and
    ``eval_metric`` are united (sorted when both are given). Early stopping watches the
    objective's metric, else the last ``eval_metric`` entry, else nothing at all: with neither,
    ``early_stopping_rounds`` is ignored and every round is trained.
    """
    from _sm_io import JobError

    allowed = _metrics_for(str(hps.get("objective", "reg:squarederror")))
    given = [m.strip() for m in str(hps.get("eval_metric", "")).split(",") if m.strip()]
    for name in given:
        if name not in allowed:
            raise JobError(f"hyperparameter eval_metric: {name!r} is not one of "
                           f"{', '.join(allowed)}")
    objective = hps.get("_tuning_objective_metric")
    tuned: list[str] = []
    if objective:
        # The container accepts validation:<metric> only (algorithm_mode/metrics.py).
        channel, _, name = str(objective).partition(":")
        if channel != "validation" or name not in allowed:
            raise JobError(f"hyperparameter _tuning_objective_metric: {objective!r} is not one "
                           f"of {', '.join('validation:' + m for m in allowed)}")
        tuned = [name]
    metrics = sorted(set(given) | set(tuned)) if given and tuned else tuned or given
    watched = None
    if hps.get("early_stopping_rounds"):
        watched = tuned[-1] if tuned else given[-1] if given else None
    return metrics, watched


def _custom_metric(names: list[str]) -> Any:
    """``custom_metric`` computing ``names`` in float64, in that order, as one list.

    Classification metrics take the label as the container does (custom_metrics.py
    ``margin_to_class_label``): argmax of a row of class scores; ``f1`` is macro F1.
    """

    def evaluate(predt: np.ndarray, dmatrix: xgboost.DMatrix) -> list[tuple[str, float]]:
        label = dmatrix.get_label().astype(np.float64)
        values: dict[str, float] = {}
        if any(name in CUSTOM_CLASSIFICATION for name in names):
            values.update(_classification_scores(label, predt))
        if any(name not in CUSTOM_CLASSIFICATION for name in names):
            residual = predt.astype(np.float64).reshape(label.shape) - label
            mse = float(np.mean(residual * residual))
            values.update({"mse": mse, "rmse": mse ** 0.5,
                           "mae": float(np.mean(np.abs(residual)))})
        return [(name, values[name]) for name in names]

    return evaluate


def _classification_scores(label: np.ndarray, predt: np.ndarray) -> dict[str, float]:
    scores = np.asarray(predt)
    predicted = (np.argmax(scores, axis=-1) if scores.ndim == 2
                 else (scores > 0.0).astype(np.int64))
    truth = label.astype(np.int64)
    classes = np.union1d(truth, predicted)
    recall, f1 = [], []
    for value in classes:
        hit = float(np.sum((predicted == value) & (truth == value)))
        actual = float(np.sum(truth == value))
        claimed = float(np.sum(predicted == value))
        if actual:
            recall.append(hit / actual)
        f1.append(2 * hit / (actual + claimed) if actual + claimed else 0.0)
    return {"accuracy": float(np.mean(predicted == truth)),
            "balanced_accuracy": float(np.mean(recall)), "f1": float(np.mean(f1))}


def _import_xgboost() -> Any:
    """Import xgboost without sklearn, which ``xgboost.compat`` imports eagerly.

    sklearn drags in scipy and pandas: ~0.8 s of a job's start-up, and ``xgboost.train`` never
    needs it. Done only when neither is imported yet (a training job, or a transform process
    that serves this model); ``xgboost``'s own scikit-learn wrappers are then unavailable.
    """
    if "sklearn" in sys.modules or "xgboost" in sys.modules:
        import xgboost

        return xgboost
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` fail
    try:
        import xgboost
    finally:
        del sys.modules["sklearn"]
    return xgboost


def train() -> None:
    """The training job: hyperparameters and channels in, ``model/xgboost-model`` out."""
    import _sm_io as io

    hps = io.parse_hyperparameters(io.read_hyperparameters(), _schema())
    declared = io.check_channels(("train", "validation"), required=("train",))
    metrics, watched = _metric_plan(hps)
    train_data = io.read_channel("train", required=True)
    val_data = io.read_channel("validation", required="validation" in declared)
    assert train_data is not None
    y_train, x_train = train_data
    if val_data is not None and val_data[1].shape[1] != x_train.shape[1]:
        raise io.JobError(
            f"validation has {val_data[1].shape[1]} feature columns but train has "
            f"{x_train.shape[1]}"
        )

    xgb = _import_xgboost()
    params: dict[str, Any] = {
        name: value for name, value in hps.items()
        if name not in _TRAIN_ARGS and not name.startswith(("_", "sagemaker_"))
    }
    params.setdefault("objective", "reg:squarederror")
    _check_objective(hps)
    native = [name for name in metrics if name in NATIVE_METRICS]
    custom = [name for name in metrics if name not in NATIVE_METRICS]
    if native:  # xgboost computes these itself (the container's cleaned eval_metric)
        params["eval_metric"] = native
    objective = hps.get("_tuning_objective_metric")
    if objective:  # the line the container logs
        print(f"Setting up HPO optimized metric to be : {objective.partition(':')[2]}",
              flush=True)
    # verbose_eval=True's per-round printer, placed first as the container places it
    # (callback.py get_callbacks): callbacks after the one that stops training are skipped,
    # and the round that triggers early stopping must still be logged.
    callbacks = [xgb.callback.EvaluationMonitor()]
    if watched is not None and val_data is not None:
        # As get_callbacks sets it up: the validation channel only (no validation, no early
        # stopping), the metric named, and the booster cut back to its best round; maximised
        # when it is in the container's XGB_MAXIMIZE_METRICS.
        callbacks.append(xgb.callback.EarlyStopping(
            rounds=hps["early_stopping_rounds"], data_name="validation", metric_name=watched,
            maximize=watched in MAXIMIZE, save_best=True,
        ))

    dtrain = xgb.DMatrix(x_train, label=y_train)
    evals = [(dtrain, "train")]
    if val_data is not None:
        evals.append((xgb.DMatrix(val_data[1], label=val_data[0]), "validation"))
    print(
        f"Train matrix has {dtrain.num_row()} rows and {dtrain.num_col()} columns"
        + (f"; validation matrix has {evals[1][0].num_row()} rows" if len(evals) > 1 else ""),
        flush=True,
    )
    try:
        booster = xgb.train(
            params, dtrain,
            num_boost_round=hps["num_round"],
            evals=evals,
            custom_metric=_custom_metric(custom) if custom else None,
            callbacks=callbacks,
            verbose_eval=False,  # printed by the EvaluationMonitor above
        )
    except xgb.core.XGBoostError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip() and not ln.startswith("Stack")]
        raise io.JobError(f"XGBoost training failed: {lines[0] if lines else exc}") from None
    # What the container's save_model("xgboost-model") writes (UBJSON), minus the warning
    # xgboost raises for a file name without a .json/.ubj extension.
    (io.model_dir() / MODEL_FILE).write_bytes(booster.save_raw("ubj"))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _sm_io import run_job

    sys.exit(run_job(train))
