"""SageMaker training and tuning requests for classification, checked against the XGBoost
container's rules (hyperparameter_validation.py) and the built-ins' metric tables."""

from __future__ import annotations

import re

import pytest

from smlp.algorithms import get_algorithm
from smlp.backends.sagemaker import requests as rq
from smlp.backends.sagemaker.dryrun import validate_request
from smlp.errors import ConfigError
from tests.unit.test_sagemaker_requests import SETTINGS, job, tuning_spec

BINARY = {"num_round": "50", "objective": "binary:logistic", "eval_metric": "logloss"}
MULTI = {"num_round": "50", "objective": "multi:softprob", "num_class": "4",
         "eval_metric": "mlogloss"}


@pytest.mark.parametrize("hyperparameters", [BINARY, MULTI])
def test_classification_training_requests_validate(hyperparameters: dict[str, str]) -> None:
    request = rq.training_job_request(job(hyperparameters=hyperparameters),
                                      get_algorithm("xgboost"), "img:1", SETTINGS)
    validate_request("CreateTrainingJob", request)
    assert request["HyperParameters"] == hyperparameters


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"num_round": "5", "objective": "multi:softprob"},
         "num_class: objective multi:softprob needs num_class"),
        ({"num_round": "5", "objective": "binary:logistic", "num_class": "2"},
         "num_class: only with multi:softprob"),
        ({**MULTI, "eval_metric": "auc"}, "auc needs a binary objective, not multi:softprob"),
    ],
)
def test_the_containers_objective_rules_before_any_request(hyperparameters: dict[str, str],
                                                           message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        rq.training_job_request(job(hyperparameters=hyperparameters),
                                get_algorithm("xgboost"), "img:1", SETTINGS)


def test_classification_tuning_objectives_and_directions() -> None:
    spec = get_algorithm("xgboost")
    auc = tuning_spec(training=job(hyperparameters=BINARY), objective_metric="validation:auc",
                      objective_type="Maximize")
    request = rq.tuning_job_request(auc, spec, "img", SETTINGS)
    validate_request("CreateHyperParameterTuningJob", request)
    assert request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize", "MetricName": "validation:auc"}
    with pytest.raises(ConfigError, match="validation:auc is tuned with Maximize"):
        rq.tuning_job_request(tuning_spec(training=job(hyperparameters=BINARY),
                                          objective_metric="validation:auc"), spec, "img",
                              SETTINGS)
    with pytest.raises(ConfigError, match="validation:rmse is not emitted .* binary"):
        rq.tuning_job_request(tuning_spec(training=job(hyperparameters=BINARY)), spec, "img",
                              SETTINGS)
    with pytest.raises(ConfigError, match="validation:mlogloss is not emitted .* binary"):
        rq.tuning_job_request(tuning_spec(training=job(hyperparameters=BINARY),
                                          objective_metric="validation:mlogloss"), spec,
                              "img", SETTINGS)


def test_knn_classifier_tunes_on_accuracy_only() -> None:
    spec = get_algorithm("knn")
    training = job("knn", hyperparameters={"feature_dim": "8", "k": "5", "sample_size": "100",
                                           "predictor_type": "classifier"})
    from smlp.config.tuning import IntegerRange

    ranges = {"k": IntegerRange(min_value=1, max_value=9)}
    ok = tuning_spec(training=training, ranges=ranges, objective_metric="test:accuracy",
                     objective_type="Maximize")
    validate_request("CreateHyperParameterTuningJob",
                     rq.tuning_job_request(ok, spec, "img", SETTINGS))
    with pytest.raises(ConfigError, match="test:mse is not emitted"):
        rq.tuning_job_request(tuning_spec(training=training, ranges=ranges,
                                          objective_metric="test:mse"), spec, "img", SETTINGS)


def test_replayed_sagemaker_scores_stay_one_record_each() -> None:
    """Raw input on SageMaker: the container's per-record answer is replayed through the local
    engine; softprob's list of class scores is one record, not one per class."""
    import numpy as np

    from smlp.backends.sagemaker.transform_io import Replay, parse_predictions

    softprob = parse_predictions(iter(["[0.1, 0.2, 0.7]\n", "[0.6, 0.3, 0.1]\n"]))
    assert softprob == ["[0.1, 0.2, 0.7]", "[0.6, 0.3, 0.1]"]
    assert parse_predictions(iter(["0.83\n", '{"predicted_label": 2.0}\n'])) == [0.83, 2.0]
    chunk = Replay(softprob, "out")(np.zeros((2, 3)))
    assert chunk.tolist() == softprob
