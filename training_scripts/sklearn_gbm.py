"""scikit-learn gradient boosting in SageMaker script mode (sklearn container 1.9-0).

``--problem_type regression`` (the default) fits GradientBoostingRegressor; ``binary`` or
``multiclass`` fits GradientBoostingClassifier on labels 0..K-1, prints ``logloss`` and
``accuracy`` instead of ``rmse``/``mse``/``mae``, and serves class probabilities (one CSV row
of K values per record). ``--class_weight balanced`` weights each row by
``rows / (classes * rows of its class)``, as scikit-learn's ``class_weight='balanced'``.

Runs unchanged in SageMaker's container and under smlp's local backend:
``python sklearn_gbm.py --n_estimators 100 --learning_rate 0.1`` with the channels and model
folder from ``SM_CHANNEL_TRAIN`` / ``SM_CHANNEL_VALIDATION`` / ``SM_MODEL_DIR`` (or
``--train`` / ``--validation`` / ``--model-dir``). Script mode has no built-in metrics, so the
script prints the lines the ``MetricDefinitions`` regexes read:

- while fitting, one ``[stage N] validation:rmse=X;`` per boosting stage (N from 1), so
  SageMaker's median early stopping sees a value per epoch as training goes;
- at the end ``train:rmse=X;``, ``train:mse=X;``, ``train:mae=X;`` and the same for
  ``validation``; the last match of a regex is a metric's final value.

Inference: ``model_fn`` loads ``model.joblib``; ``predict_fn`` predicts; ``input_fn`` and
``output_fn`` speak ``text/csv`` as the scikit-learn serving container expects.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "model.joblib"

# name -> type of the GradientBoostingRegressor arguments exposed as hyperparameters.
_NUMBER = "int-or-float"  # sklearn reads 2 as a count and 0.1 as a fraction
HYPERPARAMETERS: dict[str, Any] = {
    "n_estimators": int,
    "max_depth": int,
    "learning_rate": float,
    "subsample": float,
    "min_samples_split": _NUMBER,
    "min_samples_leaf": _NUMBER,
    "min_weight_fraction_leaf": float,
    "max_features": float,
    "max_leaf_nodes": int,
    "min_impurity_decrease": float,
    "loss": str,
    "alpha": float,
    "n_iter_no_change": int,
    "validation_fraction": float,
    "random_state": int,
    "problem_type": str,
    "class_weight": str,
}
PROBLEM_TYPES = ("regression", "binary", "multiclass")
# Arguments of this script, not of the estimator.
_SCRIPT_ONLY = ("problem_type", "class_weight")


# ------------------------------------------------------------------------------------ inference


def model_fn(model_dir: str) -> Any:
    """Load the fitted regressor saved by training."""
    import joblib

    return joblib.load(Path(model_dir) / MODEL_FILE)


def predict_fn(input_data: np.ndarray, model: Any) -> np.ndarray:
    """One prediction per row of features (no target column); a classifier's is the row of
    class probabilities (rows x classes, classes in label order 0..K-1)."""
    features = np.asarray(input_data, dtype=np.float64)
    if features.ndim == 1:
        features = features.reshape(1, -1)
    if hasattr(model, "predict_proba"):
        return model.predict_proba(features)
    return model.predict(features)


def batch_lines(prediction: np.ndarray) -> list[str]:
    """One text record per prediction, as ``output_fn`` writes them."""
    rows = np.asarray(prediction)
    if rows.ndim == 1:
        return [repr(float(value)) for value in rows]
    return [",".join(repr(float(value)) for value in row) for row in rows]


def input_fn(request_body: str | bytes, content_type: str) -> np.ndarray:
    """Parse a ``text/csv`` payload (one header-less row per line) into a float array."""
    if content_type.split(";")[0].strip() != "text/csv":
        raise ValueError(f"unsupported content type {content_type!r}; send text/csv")
    text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)


def output_fn(prediction: np.ndarray, accept: str) -> str:
    """One prediction per line, the layout ``AssembleWith=Line`` expects (a classifier's: its
    class probabilities, comma-separated, as the container's CSV encoder writes a 2-D array)."""
    if accept.split(";")[0].strip() not in {"text/csv", "*/*"}:
        raise ValueError(f"unsupported accept type {accept!r}; ask for text/csv")
    return "\n".join(batch_lines(prediction)) + "\n"


# ------------------------------------------------------------------------------------- training


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so a bad argument becomes ``output/failure``."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        from _sm_io import JobError

        raise JobError(f"bad hyperparameter: {message}")


def _int(text: str) -> int:
    number = float(text)
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


def _int_or_float(text: str) -> int | float:
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


_int.__name__ = "integer"
_int_or_float.__name__ = "number"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """``--name value`` hyperparameters as SageMaker passes them; unknown names fail."""
    parser = _Parser(prog="sklearn_gbm.py", allow_abbrev=False)
    converters = {int: _int, float: float, str: str, _NUMBER: _int_or_float}
    for name, kind in HYPERPARAMETERS.items():
        parser.add_argument(f"--{name}", type=converters[kind], default=None)
    env = os.environ.get
    parser.add_argument("--model-dir", "--model_dir", dest="model_dir",
                        default=env("SM_MODEL_DIR"))
    parser.add_argument("--train", default=env("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=env("SM_CHANNEL_VALIDATION"))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(
            f"unknown argument(s) {' '.join(unknown)}; known hyperparameters: "
            + ", ".join(HYPERPARAMETERS)
        )
    if not args.model_dir:
        parser.error("no model folder: pass --model-dir or set SM_MODEL_DIR")
    if not args.train:
        parser.error("no train channel: pass --train or set SM_CHANNEL_TRAIN")
    return args


class _StagePrinter:
    """``fit(monitor=...)`` callback printing validation RMSE after every boosting stage.

    It keeps the validation raw prediction up to date with one tree per stage, so the whole
    trace costs about one extra ``predict`` on the validation set.
    """

    def __init__(self, features: np.ndarray, target: np.ndarray) -> None:
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        self.target = target
        self.raw: np.ndarray | None = None

    def __call__(self, stage: int, model: Any, _locals: dict[str, Any]) -> bool:
        if self.raw is None:
            self.raw = np.asarray(model.init_.predict(self.features), dtype=np.float64).ravel()
        tree = model.estimators_[stage, 0]
        self.raw += model.learning_rate * tree.predict(self.features, check_input=False)
        residual = self.raw - self.target
        rmse = float(np.sqrt(np.mean(residual * residual)))
        print(f"[stage {stage + 1}] validation:rmse={rmse!r};", flush=True)
        return False


def _metric_lines(channel: str, predicted: np.ndarray, target: np.ndarray) -> list[str]:
    residual = np.asarray(predicted, dtype=np.float64) - target
    mse = float(np.mean(residual * residual))
    mae = float(np.mean(np.abs(residual)))
    return [f"{channel}:rmse={float(np.sqrt(mse))!r};", f"{channel}:mse={mse!r};",
            f"{channel}:mae={mae!r};"]


class _ClassifierStagePrinter:
    """``validation:logloss`` after every boosting stage of a GradientBoostingClassifier,
    from its raw scores kept up to date with each stage's trees (one per class)."""

    def __init__(self, features: np.ndarray, target: np.ndarray) -> None:
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        self.target = target.astype(np.int64)
        self.raw: np.ndarray | None = None

    def __call__(self, stage: int, model: Any, _locals: dict[str, Any]) -> bool:
        if self.raw is None:
            self.raw = np.asarray(model._raw_predict_init(self.features), dtype=np.float64)
        for k, tree in enumerate(model.estimators_[stage]):
            self.raw[:, k] += model.learning_rate * tree.predict(self.features,
                                                                 check_input=False)
        logloss = _logloss(self.target, _probabilities(self.raw))
        print(f"[stage {stage + 1}] validation:logloss={logloss!r};", flush=True)
        return False


def _probabilities(raw: np.ndarray) -> np.ndarray:
    if raw.shape[1] == 1:  # binary: one log-odds column
        positive = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _logloss(target: np.ndarray, probabilities: np.ndarray) -> float:
    clipped = np.clip(probabilities, 1e-15, 1 - 1e-15)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(clipped[np.arange(len(target)), target])))


def _classification_lines(channel: str, model: Any, features: np.ndarray,
                          target: np.ndarray) -> list[str]:
    probabilities = model.predict_proba(features)
    labels = target.astype(np.int64)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
    return [f"{channel}:logloss={_logloss(labels, probabilities)!r};",
            f"{channel}:accuracy={accuracy!r};"]


def _class_weights(labels: np.ndarray, how: str | None) -> np.ndarray | None:
    from _sm_io import JobError

    if how is None:
        return None
    if how != "balanced":
        raise JobError(f"bad hyperparameter: class_weight {how!r}; expected balanced")
    codes = labels.astype(np.int64)
    counts = np.bincount(codes)
    present = int(np.count_nonzero(counts))
    return len(codes) / (present * counts[codes])


def _check_labels(labels: np.ndarray, problem_type: str) -> None:
    from _sm_io import JobError

    if np.any(labels != np.round(labels)) or labels.min() < 0:
        raise JobError(f"{problem_type} labels must be class codes 0..K-1 in column 0")
    if problem_type == "binary" and labels.max() > 1:
        raise JobError("binary labels must be 0 or 1 in column 0")


def train(argv: list[str]) -> None:
    """The training job: fit, print per-stage and final metrics, save ``model.joblib``."""
    import _sm_io as sm

    args = parse_args(argv)
    train_data = sm.read_channel("train", required=True, folder=args.train)
    validation = (sm.read_channel("validation", required=False, folder=args.validation)
                  if args.validation else None)
    assert train_data is not None
    y_train, x_train = train_data
    if validation is not None and validation[1].shape[1] != x_train.shape[1]:
        raise sm.JobError(f"validation has {validation[1].shape[1]} feature columns but train "
                          f"has {x_train.shape[1]}")

    import joblib
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    params = {name: getattr(args, name) for name in HYPERPARAMETERS
              if getattr(args, name) is not None and name not in _SCRIPT_ONLY}
    problem_type = args.problem_type or "regression"
    if problem_type not in PROBLEM_TYPES:
        raise sm.JobError(f"bad hyperparameter: problem_type {problem_type!r}; expected one of "
                          + ", ".join(PROBLEM_TYPES))
    classify = problem_type != "regression"
    if args.class_weight is not None and not classify:
        raise sm.JobError("bad hyperparameter: class_weight is for binary or multiclass")
    if classify:
        _check_labels(y_train, problem_type)
    estimator = GradientBoostingClassifier if classify else GradientBoostingRegressor
    model = estimator(**params)
    printer = _ClassifierStagePrinter if classify else _StagePrinter
    monitor = printer(validation[1], validation[0]) if validation is not None else None
    print(f"Fitting {estimator.__name__}({params}) on {len(y_train)} rows", flush=True)
    try:
        model.fit(x_train, y_train.astype(np.int64) if classify else y_train,
                  sample_weight=_class_weights(y_train, args.class_weight), monitor=monitor)
    except ValueError as exc:  # includes sklearn's InvalidParameterError
        raise sm.JobError(f"{estimator.__name__}: {exc}") from None

    if classify:
        lines = _classification_lines("train", model, x_train, y_train)
        if validation is not None:
            lines += _classification_lines("validation", model, validation[1], validation[0])
    else:
        lines = _metric_lines("train", model.predict(x_train), y_train)
        if validation is not None:
            lines += _metric_lines("validation", model.predict(validation[1]), validation[0])
    print("\n".join(lines), flush=True)
    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _sm_io import run_job

    sys.exit(run_job(lambda: train(sys.argv[1:])))
