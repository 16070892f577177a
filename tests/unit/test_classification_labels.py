"""A classifier's transform output mapped back to the original labels, from each container's
per-record answer (XGBoost binary and softprob, scikit-learn probabilities, k-NN labels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlp.errors import ConfigError
from smlp.stages.transform_labels import check_filter, check_probabilities, relabel

CLASSES = ["bird", "cat", "dog"]


def rewrite(tmp_path: Path, body: str, classes: list[str], algo: str, probabilities: bool = False,
            header: bool = False, first_is_label: bool = False) -> str:
    path = tmp_path / "x.csv.out"
    path.write_text(body)
    relabel(path, classes, algo, probabilities, header, first_is_label, "animal")
    return path.read_text()


def test_softprob_lists_become_labels_or_named_probabilities(tmp_path: Path) -> None:
    body = "[0.1, 0.7, 0.2]\n[0.6, 0.3, 0.1]\n"
    assert rewrite(tmp_path, body, CLASSES, "xgboost") == "cat\nbird\n"
    assert rewrite(tmp_path, body, CLASSES, "xgboost", probabilities=True) == (
        "bird,cat,dog\n0.1,0.7,0.2\n0.6,0.3,0.1\n")


def test_named_output_keeps_the_id_and_renames_the_prediction_column(tmp_path: Path) -> None:
    body = "id,prediction\n7,0.25,0.25,0.5\n8,0.5,0.25,0.25\n"
    assert rewrite(tmp_path, body, CLASSES, "sklearn-gbm", header=True) == (
        "id,prediction\n7,dog\n8,bird\n")
    assert rewrite(tmp_path, body, CLASSES, "sklearn-gbm", probabilities=True, header=True) == (
        "id,bird,cat,dog\n7,0.25,0.25,0.5\n8,0.5,0.25,0.25\n")


def test_binary_probability_threshold_and_the_labelled_test_split(tmp_path: Path) -> None:
    body = "1,0.75\n0,0.5\n0,0.25\n"
    assert rewrite(tmp_path, body, ["no", "yes"], "xgboost", first_is_label=True) == (
        "yes,yes\nno,no\nno,no\n")  # P > 0.5 is class 1, as the container decides
    assert rewrite(tmp_path, body, ["no", "yes"], "xgboost", probabilities=True,
                   first_is_label=True) == (
        "animal,no,yes\nyes,0.25,0.75\nno,0.5,0.5\nno,0.75,0.25\n")


def test_knn_labels_joined_after_the_input_row(tmp_path: Path) -> None:
    body = "1.5,x,2\n0.5,y,0\n"
    assert rewrite(tmp_path, body, CLASSES, "knn") == "1.5,x,dog\n0.5,y,bird\n"


def test_what_cannot_be_mapped_is_refused() -> None:
    with pytest.raises(ConfigError, match="the knn model gives predicted labels only"):
        check_probabilities("knn", "binary")
    with pytest.raises(ConfigError, match="the data is regression; there are no classes"):
        check_probabilities("xgboost", "regression")
    with pytest.raises(ConfigError, match="the prediction must be the last field"):
        check_filter("$[0]")
    check_filter("$[0,-1]")
