"""Classification end to end on the local backend: train, compare (smlp's own metrics on the
test split), and XGBoost's batch output against the container's own serving code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.data_paths import split_path
from tests.integration.cli_helpers import assert_one_line_error, manifest, smlp
from tests.integration.test_container_parity import lay_out, model_folder, split_rows
from tests.reference import xgboost_container

YAML = """\
data:
  rows: 1500
algorithms:
  xgboost:
    hyperparameters: {num_round: 20}
"""


@pytest.fixture
def binary(project: Path) -> Path:
    (project / "smlp.yaml").write_text(YAML)
    smlp("data", "generate", "--problem-type", "binary")
    return project


@pytest.fixture
def multiclass(project: Path) -> Path:
    (project / "smlp.yaml").write_text(YAML)
    smlp("data", "generate", "--problem-type", "multiclass")
    return project


def comparison(project: Path) -> dict[str, object]:
    return json.loads((project / "smlp-artifacts" / "compare" / "comparison.json").read_text())


def test_binary_trains_classifiers_and_compares_on_classification_metrics(binary: Path) -> None:
    smlp("train", "--algo", "xgboost", "--algo", "knn")
    candidates = manifest(binary)["candidates"]
    assert candidates["xgboost"]["hyperparameters"]["objective"] == "binary:logistic"
    assert candidates["xgboost"]["hyperparameters"]["eval_metric"] == "logloss"
    assert "validation:logloss" in candidates["xgboost"]["training_metrics"]
    assert candidates["knn"]["hyperparameters"]["predictor_type"] == "classifier"
    assert 0.5 < candidates["knn"]["training_metrics"]["test:accuracy"] <= 1.0
    smlp("compare")
    result = comparison(binary)
    assert result["metric"] == "accuracy"  # the classification default
    scored = {c["name"]: c["metrics"] for c in result["candidates"]}
    assert set(scored["xgboost"]) == {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc",
                                      "log_loss"}
    assert scored["xgboost"]["accuracy"] > 0.8 and scored["xgboost"]["roc_auc"] > 0.9
    # k-NN gives labels only: no probabilities, so no AUC or log loss
    assert scored["knn"]["roc_auc"] is None and scored["knn"]["log_loss"] is None
    # ranked by log loss, the model without one comes last
    smlp("compare", "--metric", "log_loss")
    assert [c["name"] for c in comparison(binary)["candidates"]] == ["xgboost", "knn"]


def test_metric_or_hyperparameter_that_contradicts_the_data_is_one_line(binary: Path) -> None:
    result = smlp("train", "--algo", "xgboost", "--hp", "objective=reg:squarederror", ok=True)
    # the regression default gives way to binary:logistic ...
    assert manifest(binary)["candidates"]["xgboost"]["hyperparameters"]["objective"] \
        == "binary:logistic", result.output
    # ... but a regression objective that is not the default is refused
    bad = smlp("train", "--algo", "xgboost", "--hp", "objective=reg:absoluteerror", ok=False)
    assert_one_line_error(bad, "objective: reg:absoluteerror does not fit binary data", code=2)
    bad = smlp("compare", "--metric", "rmse", ok=False)
    assert_one_line_error(bad, "--metric rmse: not a binary metric; use one of accuracy", code=2)


def test_multiclass_softprob_batch_output_is_the_containers(multiclass: Path,
                                                            tmp_path: Path) -> None:
    """The same model trained by the container's code, and its batch answer for the test split
    (one ``[p0, p1, ...]`` list per record) is what smlp's compare read."""
    import xgboost

    smlp("train", "--algo", "xgboost")
    candidate = manifest(multiclass)["candidates"]["xgboost"]
    hps = candidate["hyperparameters"]
    assert (hps["objective"], hps["num_class"]) == ("multi:softprob", "4")
    store = multiclass / "smlp-artifacts"
    base = tmp_path / "opt" / "ml"
    lay_out(base, hps, {"train": (split_path(store, "train").parent, "text/csv"),
                        "validation": (split_path(store, "validation").parent, "text/csv")})
    xgboost_container.train(base)
    reference, _ = xgboost_container.load_booster(base / "model")
    model_dir = model_folder(multiclass, "xgboost", tmp_path / "model")
    ours, _ = xgboost_container.load_booster(model_dir)
    test = split_rows(split_path(store, "test"))
    assert ours.num_boosted_rounds() == reference.num_boosted_rounds()
    # xgboost's own CSV reader (the container's) parses about 1 % of the values one float32
    # ulp away, which can move a histogram cut: a tree or two may differ slightly.
    mine = ours.predict(xgboost.DMatrix(test[:, 1:]))
    container = reference.predict(xgboost.DMatrix(test[:, 1:]))
    assert np.mean(np.abs(mine - container)) < 2e-3
    assert np.mean(mine.argmax(axis=1) == container.argmax(axis=1)) > 0.97

    smlp("compare", "--metric", "log_loss")
    ours_out = (store / "compare" / "xgboost" / "part-00000.csv.out").read_text().splitlines()
    lines = split_path(store, "test").read_text().splitlines()
    features = "\n".join(line.split(",", 1)[1] for line in lines).encode()  # $[1:]
    served = xgboost_container.XGBoostServing(model_dir)
    theirs = served.invoke(features, "text/csv", "text/csv").decode().splitlines()
    assert len(ours_out) == len(theirs) == len(test)
    np.testing.assert_allclose(np.array([json.loads(line) for line in ours_out]),
                               np.array([json.loads(line) for line in theirs]), atol=1e-6)
    assert ours_out[0].startswith("[") and ours_out[0].count(",") == 3
    scored = comparison(multiclass)["candidates"][0]["metrics"]
    probabilities = np.array([json.loads(line) for line in theirs])
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # float32 sums: within 1e-7
    from sklearn.metrics import log_loss

    assert scored["log_loss"] == pytest.approx(
        log_loss(test[:, 0].astype(int), probabilities, labels=[0, 1, 2, 3]), rel=1e-4)


def test_tuning_objectives_follow_the_problem_type(binary: Path) -> None:
    (binary / "smlp.yaml").write_text(YAML + "tuning: {max_jobs: 2, max_parallel_jobs: 1}\n")
    smlp("tune", "--algo", "xgboost", "--algo", "knn")
    tuning = manifest(binary)["tuning"]
    objectives = {record["algo"]: (record["objective_metric"], record["objective_type"])
                  for record in tuning.values()}
    assert objectives == {"xgboost": ("validation:logloss", "Minimize"),
                          "knn": ("test:accuracy", "Maximize")}
    tuned = manifest(binary)["candidates"]["xgboost-tuned"]
    assert tuned["hyperparameters"]["objective"] == "binary:logistic"

    (binary / "smlp.yaml").write_text(
        YAML + "tuning:\n  algorithms:\n    xgboost: {objective_metric: validation:rmse}\n")
    bad = smlp("tune", "--algo", "xgboost", ok=False)
    assert_one_line_error(bad, "objective_metric: validation:rmse does not fit binary data",
                          code=2)
    (binary / "smlp.yaml").write_text(
        YAML + "tuning:\n  algorithms:\n    xgboost: {objective_metric: validation:auc}\n")
    bad = smlp("tune", "--algo", "xgboost", ok=False)
    assert_one_line_error(bad, "objective_type: Minimize, but validation:auc is better higher",
                          code=2)


def test_sklearn_classifier_serves_through_the_container_contract(multiclass: Path,
                                                                  tmp_path: Path) -> None:
    """The scikit-learn classifier `smlp train` made, served by the container's real
    sagemaker-inference transformer, answers each record with the probabilities that smlp's
    compare read: one CSV row of class probabilities per record."""
    from smlp.backends.sagemaker.sourcedir import training_scripts
    from tests.reference.sklearn_container import SklearnServing, unpack

    smlp("train", "--algo", "sklearn-gbm", "--hp", "n_estimators=15")
    smlp("compare")
    store = multiclass / "smlp-artifacts"
    ours = (store / "compare" / "sklearn-gbm" / "part-00000.csv.out").read_text().splitlines()
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(training_scripts().data)
    code = unpack(archive, tmp_path / "code")
    model_dir = model_folder(multiclass, "sklearn-gbm", tmp_path / "model")
    lines = split_path(store, "test").read_text().splitlines()
    features = "\n".join(line.split(",", 1)[1] for line in lines).encode()
    with SklearnServing(code, model_dir, "sklearn_gbm.py") as container:
        theirs = container.invoke(features, "text/csv", "text/csv")
    theirs_rows = (theirs.decode() if isinstance(theirs, bytes) else theirs).splitlines()
    assert len(theirs_rows) == len(ours) == len(lines)
    np.testing.assert_allclose(np.array([[float(v) for v in r.split(",")] for r in ours]),
                               np.array([[float(v) for v in r.split(",")] for r in theirs_rows]),
                               rtol=1e-12)
    assert ours[0].count(",") == 3  # four classes
