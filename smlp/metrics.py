"""Regression metrics smlp computes itself, on one common split, for every candidate."""

from __future__ import annotations

from typing import Any

METRICS = ("rmse", "mse", "mae", "r2")
# Lower is better for all but r2.
HIGHER_IS_BETTER = {"r2"}


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


def is_better(metric: str, candidate: float, incumbent: float) -> bool:
    if metric in HIGHER_IS_BETTER:
        return candidate > incumbent
    return candidate < incumbent
