"""smlp's classification metrics (numpy) against scikit-learn's definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    roc_auc_score,
)

from smlp.metrics import DEFAULT_METRIC, classification_metrics, sort_key


@pytest.mark.parametrize("classes", [2, 4])
def test_metrics_match_scikit_learn(classes: int) -> None:
    rng = np.random.default_rng(classes)
    truth = rng.integers(0, classes, 500)
    raw = rng.random((500, classes)) + np.eye(classes)[truth] * rng.random((500, 1))
    raw[:40] = np.round(raw[:40], 1)  # ties
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    ours = classification_metrics(truth, probabilities)
    auc = (roc_auc_score(truth, probabilities[:, 1]) if classes == 2 else
           roc_auc_score(truth, probabilities, multi_class="ovr", average="macro"))
    expected = {
        "accuracy": accuracy_score(truth, predicted),
        "balanced_accuracy": balanced_accuracy_score(truth, predicted),
        "f1_macro": f1_score(truth, predicted, average="macro"),
        "roc_auc": auc,
        "log_loss": log_loss(truth, probabilities),
    }
    assert ours == pytest.approx(expected, rel=1e-9)


def test_labels_only_have_no_probability_metrics_and_rank_last() -> None:
    truth = np.array([0, 1, 2, 2, 1, 0])
    ours = classification_metrics(truth, np.array([0, 1, 2, 1, 1, 0], dtype=float))
    assert ours["accuracy"] == pytest.approx(5 / 6)
    assert ours["f1_macro"] == pytest.approx(f1_score(truth, [0, 1, 2, 1, 1, 0],
                                                      average="macro"))
    assert ours["roc_auc"] is None and ours["log_loss"] is None
    ranked = sorted([None, 0.3, 0.1], key=sort_key("log_loss"))
    assert ranked == [0.1, 0.3, None]
    assert sorted([0.7, None, 0.9], key=sort_key("roc_auc")) == [0.9, 0.7, None]
    assert DEFAULT_METRIC == {"regression": "rmse", "binary": "accuracy",
                              "multiclass": "accuracy"}
