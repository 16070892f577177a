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


def test_scores_read_back_and_labels_the_model_never_saw(tmp_path) -> None:
    """compare's reading of a classifier's output: each container's record format, and a label
    code outside the model's classes is one clear error."""
    from smlp.errors import DataError
    from smlp.manifest import Artifact, Candidate
    from smlp.stages.scores import parse_scores, read_scores
    from smlp.store import LocalStore

    assert parse_scores(["0.75", "0.25"], "xgboost", 2, "o").tolist() == [[0.25, 0.75],
                                                                          [0.75, 0.25]]
    assert parse_scores(["[0.5, 0.25, 0.25]"], "xgboost", 3, "o").shape == (1, 3)
    assert parse_scores(["0.5,0.5"], "sklearn-gbm", 2, "o").shape == (1, 2)
    assert parse_scores(["2.0"], "knn", 3, "o").tolist() == [2.0]
    with pytest.raises(DataError, match="2 class probabilities per row, but the data has 3"):
        parse_scores(["0.5,0.5"], "sklearn-gbm", 3, "o")

    store = LocalStore(tmp_path)
    (tmp_path / "test.csv").write_text("0,1.5\n3,2.5\n")
    (tmp_path / "test.csv.out").write_text("[0.2, 0.3, 0.5]\n[0.6, 0.2, 0.2]\n")
    candidate = Candidate(name="xgboost", algo="xgboost", job_name="j", hyperparameters={},
                          model=Artifact(uri="m", sha256=""))
    with pytest.raises(DataError, match="test split row 2: label code 3 is not one of the 3 "
                                        "classes xgboost was trained on"):
        read_scores(store, str(tmp_path / "test.csv"), str(tmp_path / "test.csv.out"),
                    candidate, ("multiclass", 3), "test")
