"""Metrics smlp computes itself, on one common split, for every candidate.

Regression: rmse, mse, mae, r2. Classification (labels coded 0..K-1, scored from each row's
class probabilities): accuracy, balanced accuracy, macro F1, ROC AUC (one-vs-rest macro for
multiclass) and log loss; a model that gives labels only (k-NN) has no ROC AUC or log loss
(None), and ranks last on them.
"""

from __future__ import annotations

from typing import Any

METRICS = ("rmse", "mse", "mae", "r2")
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
# Lower is better for all but these.
HIGHER_IS_BETTER = {"r2", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc"}
DEFAULT_METRIC = {"regression": "rmse", "binary": "accuracy", "multiclass": "accuracy"}
PROBABILITY_METRICS = ("roc_auc", "log_loss")


def metrics_for(problem_type: str) -> tuple[str, ...]:
    return METRICS if problem_type == "regression" else CLASSIFICATION_METRICS


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    import numpy as np

    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need equal, non-empty shapes; got {y_true.shape} and {y_pred.shape}")
    error = y_pred - y_true
    mse = float(np.mean(error**2))
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / total if total > 0 else 0.0
    return {"rmse": mse**0.5, "mse": mse, "mae": float(np.mean(np.abs(error))), "r2": r2}


def classification_metrics(y_true: Any, scores: Any) -> dict[str, float | None]:
    """``y_true``: codes 0..K-1; ``scores``: rows x K class probabilities, or one predicted
    code per row (a model without probabilities: no ROC AUC, no log loss).

    numpy only (the bootstrap scores a split a thousand times); the definitions are
    scikit-learn's: macro F1 and balanced accuracy over the classes present in the labels or
    predictions, log loss with probabilities clipped to [1e-15, 1 - 1e-15], ROC AUC with tied
    scores counted half, one-vs-rest macro over classes for multiclass.
    """
    import numpy as np

    truth = np.asarray(y_true, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if truth.ndim != 1 or truth.size == 0 or len(scores) != len(truth):
        raise ValueError(f"need one label per row; got {truth.shape} and {scores.shape}")
    codes = truth.astype(np.int64)
    probabilities = scores if scores.ndim == 2 else None
    predicted = (np.argmax(scores, axis=1) if probabilities is not None
                 else scores.astype(np.int64))
    width = int(max(codes.max(), predicted.max(),
                    probabilities.shape[1] - 1 if probabilities is not None else 0)) + 1
    matrix = np.bincount(codes * width + predicted, minlength=width * width).reshape(width, -1)
    hits = np.diag(matrix).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    claimed = matrix.sum(axis=0).astype(np.float64)
    present = (actual + claimed) > 0
    f1 = np.divide(2 * hits, actual + claimed, out=np.zeros(width), where=present)
    result: dict[str, float | None] = {
        "accuracy": float(hits.sum() / len(codes)),
        "balanced_accuracy": float(np.mean(hits[actual > 0] / actual[actual > 0])),
        "f1_macro": float(np.mean(f1[present])),
        "roc_auc": None,
        "log_loss": None,
    }
    if probabilities is None:
        return result
    clipped = np.clip(probabilities, 1e-15, 1 - 1e-15)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    result["log_loss"] = float(-np.mean(np.log(clipped[np.arange(len(codes)), codes])))
    k = probabilities.shape[1]
    if np.all(actual[:k] > 0) and np.all(actual[:k] < len(codes)):
        columns = [1] if k == 2 else range(k)
        result["roc_auc"] = float(np.mean([_auc(codes == c, probabilities[:, c])
                                           for c in columns]))
    return result


def _auc(positive: Any, score: Any) -> float:
    """Mann-Whitney U over average ranks: P(a positive outscores a negative), ties half."""
    import numpy as np

    order = np.argsort(score, kind="mergesort")
    ranked = score[order]
    ranks = np.empty(len(score), dtype=np.float64)
    # average rank of each run of equal scores
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    ends = np.r_[starts[1:], len(score)]
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    n_pos = float(positive.sum())
    n_neg = float(len(score) - n_pos)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def is_better(metric: str, candidate: float, incumbent: float) -> bool:
    if metric in HIGHER_IS_BETTER:
        return candidate > incumbent
    return candidate < incumbent


def sort_key(metric: str) -> Any:
    """Best first; a candidate without the metric (None) last."""

    def key(value: float | None) -> tuple[int, float]:
        if value is None:
            return (1, 0.0)
        return (0, -value if metric in HIGHER_IS_BETTER else value)

    return key
