"""The report's classification curves against scikit-learn's definitions (the reference)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

from smlp.report import classification


def _binary(rows: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, rows)
    score = np.round(np.clip(0.35 * labels + rng.uniform(0, 0.7, rows), 0, 1), 2)  # ties
    return labels, score


def test_roc_auc_and_average_precision_match_scikit_learn() -> None:
    labels, score = _binary()
    found = classification.curves(labels == 1, score)
    assert abs(found["auc"] - roc_auc_score(labels, score)) < 1e-12
    assert abs(found["ap"] - average_precision_score(labels, score)) < 1e-12
    assert found["fpr"][0] == 0 and found["tpr"][-1] == 1.0 and found["fpr"][-1] == 1.0


def test_confusion_matrix_matches_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    labels, predicted = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    assert np.array_equal(classification.confusion(labels, predicted, 4),
                          confusion_matrix(labels, predicted, labels=range(4)))


def test_calibration_of_a_calibrated_binary_model_follows_the_diagonal() -> None:
    rng = np.random.default_rng(2)
    p = rng.uniform(size=20_000)
    labels = (rng.uniform(size=p.size) < p).astype(int)
    mean, observed, rows = classification.calibration(labels, np.column_stack([1 - p, p]))
    assert rows.sum() == p.size and len(mean) == classification.BINS
    assert np.max(np.abs(mean - observed)) < 0.03


def test_panels_draw_with_and_without_probabilities() -> None:
    labels, score = _binary(200)
    with_scores = classification.classification_panels(
        "m", labels, np.column_stack([1 - score, score]), ["no", "yes"])
    labels_only = classification.classification_panels("k", labels, (score > 0.5).astype(float),
                                                       ["no", "yes"])
    assert with_scores.png.startswith(b"\x89PNG") and labels_only.png.startswith(b"\x89PNG")
    assert len(labels_only.png) < len(with_scores.png)  # one panel, not four
