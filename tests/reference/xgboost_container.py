"""SageMaker's built-in XGBoost container (algorithm mode), mirrored in plain xgboost.

Written from aws/sagemaker-xgboost-container (read, not copied):

- training: ``algorithm_mode/train.py`` (``sagemaker_train``, ``train_job``),
  ``callback.py`` (``get_callbacks``), ``algorithm_mode/train_utils.py``
  (``get_eval_metrics_and_feval``, ``MetricNameComponents``), ``metrics/custom_metrics.py``
  (``CUSTOM_METRICS``), ``data_utils.py`` (``_get_csv_dmatrix_file_mode``) and
  ``algorithm_mode/hyperparameter_validation.py`` (types and aliases);
- serving: ``algorithm_mode/serve.py`` (``invocations``), ``algorithm_mode/serve_utils.py``
  (``get_loaded_booster``, ``parse_content_data``, ``predict``) and ``encoder.py``
  (``csv_to_dmatrix``).

Only the single-host, File-mode, CSV, no-checkpoint, no-k-fold path is mirrored: the one smlp
uses. Anything else raises ``NotImplementedError`` rather than guessing.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "xgboost-model"  # constants/xgb_constants.py: MODEL_NAME
PKL_FORMAT, XGB_FORMAT = "pkl_format", "xgb_format"

# algorithm_mode/hyperparameter_validation.py: how each string is parsed.
_INTEGER = {"num_round", "csv_weights", "early_stopping_rounds", "verbosity", "nthread",
            "max_depth", "refresh_leaf", "max_leaves", "max_bin", "one_drop", "num_class",
            "_kfold", "_num_cv_round", "seed", "num_parallel_tree", "prob_buffer_row"}
_FLOAT = {"eta", "gamma", "min_child_weight", "max_delta_step", "subsample",
          "colsample_bytree", "colsample_bylevel", "colsample_bynode", "lambda", "alpha",
          "sketch_eps", "scale_pos_weight", "rate_drop", "skip_drop", "lambda_bias",
          "tweedie_variance_power", "base_score"}
_LIST = {"eval_metric", "updater"}  # CommaSeparatedListHyperparameter: value.split(",")
_STRING = {"booster", "tree_method", "dsplit", "process_type", "grow_policy", "predictor",
           "sample_type", "normalize_type", "objective", "_tuning_objective_metric",
           "save_model_on_termination", "deterministic_histogram", "sampling_method"}
_ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda",
            "reg_alpha": "alpha"}  # hyperparameters.declare_alias(...)
# constants/xgb_constants.py: XGB_MAXIMIZE_METRICS (the ones a regression job can name)
_MAXIMIZE = {"accuracy", "auc", "aucpr", "map", "ndcg", "r2", "f1", "balanced_accuracy",
             "precision", "recall"}


class ContainerError(Exception):
    """What the container would report as the job's FailureReason (or an HTTP error)."""


# -- training ------------------------------------------------------------------------------------
def validate_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """``hyperparameters.validate``: aliases, types, required ``num_round``, no extras."""
    values: dict[str, Any] = {}
    for name, text in raw.items():
        name = _ALIASES.get(name, name)
        if name in _INTEGER:
            values[name] = int(text)
        elif name in _FLOAT:
            values[name] = float(text)
        elif name in _LIST:
            values[name] = text.split(",")
        elif name in _STRING:
            values[name] = text
        else:
            raise ContainerError(f"Extraneous hyperparameter found: {name}")
    if "num_round" not in values:
        raise ContainerError("Missing required hyperparameter: num_round")
    for unsupported in ("_kfold", "csv_weights", "save_model_on_termination"):
        if values.get(unsupported) not in (None, 0, "false"):
            raise NotImplementedError(f"the mirror does not cover {unsupported}")
    return values


def _custom_metrics() -> dict[str, Callable[[np.ndarray, Any], tuple[str, float]]]:
    """``metrics/custom_metrics.py``: the regression part of ``CUSTOM_METRICS`` (sklearn's)."""
    from sklearn import metrics

    def metric(name: str, function: Any) -> Callable[[np.ndarray, Any], tuple[str, float]]:
        return lambda preds, dtrain: (name, function(dtrain.get_label(), preds))

    return {"mse": metric("mse", metrics.mean_squared_error),
            "rmse": metric("rmse", metrics.root_mean_squared_error),
            "mae": metric("mae", metrics.mean_absolute_error),
            "r2": metric("r2", metrics.r2_score)}


def eval_metrics_and_feval(tuning_objective: str | None, eval_metric: list[str] | None
                           ) -> tuple[list[str] | None, Any, list[str] | None]:
    """``train_utils.get_eval_metrics_and_feval``: container metrics go through ``feval``."""
    tuning_metric = None
    if tuning_objective is not None:
        tuning_metric = tuning_objective.split(":")[1].split(",")  # MetricNameComponents
    if tuning_metric is None and eval_metric is None:
        return None, None, None
    if tuning_metric is None or eval_metric is None:
        union = tuning_metric or eval_metric
    else:
        union = sorted(set(tuning_metric).union(eval_metric))
    custom = _custom_metrics()
    chosen = [m for m in union if m in custom]
    if not chosen:
        return union, None, tuning_metric

    def feval(preds: np.ndarray, dtrain: Any) -> list[tuple[str, float]]:
        return [custom[name](preds, dtrain) for name in chosen]

    return list(set(union) - set(chosen)), feval, tuning_metric


def csv_dmatrix(folder: Path) -> Any:
    """``data_utils._get_csv_dmatrix_file_mode``: xgboost's own CSV reader, label in column 0."""
    import xgboost as xgb

    first = next(p for p in sorted(folder.iterdir()) if p.is_file())
    with open(first) as handle:
        delimiter = _csv_delimiter(handle.readline())
    with warnings.catch_warnings():  # xgboost 3.1+ says text input is deprecated; it still reads
        warnings.simplefilter("ignore")
        return xgb.DMatrix(f"{folder}?format=csv&label_column=0&delimiter={delimiter}")


def _csv_delimiter(line: str) -> str:
    sniffed = csv.Sniffer().sniff(line[:512]).delimiter
    return "," if sniffed.isalnum() else sniffed


def train(base: Path) -> list[str]:
    """Run a training job in an ``/opt/ml``-shaped folder; returns the lines it printed.

    Writes ``model/xgboost-model`` with ``Booster.save_model`` as ``train_job`` does.
    """
    import xgboost as xgb

    config = base / "input" / "config"
    train_cfg = validate_hyperparameters(json.loads((config / "hyperparameters.json").read_text()))
    channels = json.loads((config / "inputdataconfig.json").read_text())
    if (config / "checkpointconfig.json").exists():
        raise NotImplementedError("the mirror does not resume from checkpoints")
    for name, channel in channels.items():
        if not channel.get("ContentType", "").startswith("text/csv"):
            raise NotImplementedError(f"channel {name}: only text/csv is mirrored")
    data = base / "input" / "data"
    dtrain = csv_dmatrix(data / "train")
    dval = csv_dmatrix(data / "validation") if "validation" in channels else None

    num_round = train_cfg.pop("num_round")
    tuning_objective = train_cfg.pop("_tuning_objective_metric", None)
    eval_metric = train_cfg.get("eval_metric")
    cleaned, feval, tuning_metric = eval_metrics_and_feval(tuning_objective, eval_metric)
    if cleaned:
        train_cfg["eval_metric"] = cleaned
    else:
        train_cfg.pop("eval_metric", None)
    early_stopping_rounds = train_cfg.pop("early_stopping_rounds", None)
    early_stopping_metric = None
    if early_stopping_rounds:
        if tuning_metric:
            early_stopping_metric = tuning_metric[-1]
        elif eval_metric:
            early_stopping_metric = eval_metric[-1]

    watchlist = [(dtrain, "train")] + ([(dval, "validation")] if dval is not None else [])
    callbacks: list[Any] = [xgb.callback.EvaluationMonitor()]  # callback.get_callbacks
    if dval is not None and early_stopping_metric and early_stopping_rounds:
        callbacks.append(xgb.callback.EarlyStopping(
            rounds=early_stopping_rounds, data_name="validation",
            metric_name=early_stopping_metric, maximize=early_stopping_metric in _MAXIMIZE,
            save_best=True))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        booster = xgb.train(train_cfg, dtrain, num_boost_round=num_round, evals=watchlist,
                            custom_metric=feval, callbacks=callbacks, verbose_eval=False)
    model_dir = base / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # no .json/.ubj suffix: xgboost warns, then writes UBJSON
        warnings.simplefilter("ignore")
        booster.save_model(str(model_dir / MODEL_NAME))
    return printed.getvalue().splitlines()


def cloudwatch(line: str) -> str:
    """A built-in algorithm's log line as CloudWatch shows it: tabs as ``#011``, which is what
    the container's metric regexes match (``algorithm_mode/metrics.py``)."""
    return line.replace("\t", "#011")


# -- serving -------------------------------------------------------------------------------------
def load_booster(model_dir: Path, ensemble: bool = True) -> tuple[Any, Any]:
    """``serve_utils.get_loaded_booster``: every non-dot file in the model folder (in
    ``os.listdir`` order), each tried as a pickle first, then with ``Booster.load_model``.
    ``SAGEMAKER_INFERENCE_ENSEMBLE`` defaults to true, so several files make an ensemble."""
    import xgboost as xgb

    paths = [model_dir / name for name in os.listdir(model_dir)
             if (model_dir / name).is_file() and not name.startswith(".")]
    paths = paths if ensemble else paths[:1]
    models, formats = [], []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                booster = pickle.load(handle)
            model_format = PKL_FORMAT
        except Exception:
            booster = xgb.Booster()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                booster.load_model(str(path))
            model_format = XGB_FORMAT
        booster.set_param("nthread", 1)
        models.append(booster)
        formats.append(model_format)
    if ensemble and len(models) > 1:
        return models, formats
    return models[0], formats[0]


def csv_to_dmatrix(payload: bytes) -> Any:
    """``serve_utils.parse_content_data`` + ``encoder.csv_to_dmatrix`` for ``text/csv``."""
    import xgboost as xgb

    text = payload.strip().decode("utf-8")
    delimiter = _csv_delimiter(text.split("\n")[0])
    rows = [["nan" if field == "" else field for field in line.split(delimiter)]
            for line in text.split("\n")]
    return xgb.DMatrix(np.array(rows).astype(float))


def predict(model: Any, model_format: Any, dtest: Any) -> np.ndarray:
    """``serve_utils.predict`` for CSV: feature-count check for pickles, then every tree."""
    boosters = model if isinstance(model, list) else [model]
    formats = model_format if isinstance(model_format, list) else [model_format]
    if formats[0] == PKL_FORMAT:
        trained, given = boosters[0].num_features(), dtest.num_col()
        if not (trained == given or trained == given + 1):
            raise ContainerError(f"Feature size of csv inference data {given} is not "
                                 f"consistent with feature size of trained model {trained}.")
    outputs = []
    for booster in boosters:
        best = int(getattr(booster, "best_ntree_limit", 0) or 0)  # gone in xgboost >= 2
        if best > 0:
            outputs.append(booster.predict(dtest, iteration_range=(0, best),
                                           validate_features=False))
        else:
            outputs.append(booster.predict(dtest, validate_features=False))
    return outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0)


class XGBoostServing:
    """``POST /invocations`` of the container in a Batch Transform job (``SAGEMAKER_BATCH``)."""

    def __init__(self, model_dir: Path) -> None:
        self.model, self.format = load_booster(model_dir)

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        if not body:
            return b""  # 204 No Content
        if content_type.split(";")[0].strip().lower() not in ("text/csv", "csv"):
            raise NotImplementedError(f"content type {content_type}: only text/csv is mirrored")
        if accept.split(";")[0].strip().lower() not in ("text/csv", "*/*", ""):
            raise NotImplementedError(f"accept {accept}: only text/csv is mirrored")
        predictions = predict(self.model, self.format, csv_to_dmatrix(body))
        return ("\n".join(map(str, predictions.tolist())) + "\n").encode()
