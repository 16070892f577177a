"""The requests smlp builds obey AWS's documented rules, not only botocore's shape check.

Each ``aws_*`` function below restates one documented constraint, with its source, and is
the reference the built requests are checked against.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from smlp.algorithms import get_algorithm
from smlp.backends.sagemaker import requests as rq
from smlp.backends.sagemaker.dryrun import validate_request
from smlp.config.tuning import CategoricalRange, ContinuousRange, IntegerRange
from smlp.errors import ConfigError
from tests.unit.test_sagemaker_requests import ROLE, job, tuning_spec

S3 = "s3://bucket/p"
ON_DEMAND = rq.JobSettings(region="eu-west-1", role_arn=ROLE)
SPOT = rq.JobSettings(region="eu-west-1", role_arn=ROLE, use_spot=True,
                      checkpoint_s3_uri=f"{S3}/checkpoints")
EPOCH_KEYS = {"epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"}
# "Use checkpoints": the built-in algorithms that checkpoint without script changes.
AWS_CHECKPOINTING_BUILTINS = {"xgboost"}


# -- the documented rules, restated -------------------------------------------------------------
def aws_hyperband_problems(request: dict[str, Any]) -> list[str]:
    """API HyperbandStrategyConfig / HyperParameterTuningJobConfig."""
    config = request["HyperParameterTuningJobConfig"]
    if config["Strategy"] != "Hyperband":
        return ["StrategyConfig sent without Hyperband"] if "StrategyConfig" in config else []
    problems = []
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        problems.append("TrainingJobEarlyStoppingType must be Off with Hyperband")
    hyperband = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig", {})
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    if "MaxResource" not in hyperband and not EPOCH_KEYS & set(static):
        problems.append("MaxResource cannot be inferred: no epochs-like static key")
    low, high = hyperband.get("MinResource", 1), hyperband.get("MaxResource", 1)
    if not 1 <= low <= high <= 20_000:
        problems.append(f"resources out of range: {low}..{high}")
    return problems


def aws_spot_problems(body: dict[str, Any], algorithm: str) -> list[str]:
    """Managed Spot Training / Use checkpoints / API StoppingCondition."""
    stop = body["StoppingCondition"]
    problems = []
    if not body.get("EnableManagedSpotTraining"):
        return ["MaxWaitTimeInSeconds without spot"] if "MaxWaitTimeInSeconds" in stop else []
    wait = stop.get("MaxWaitTimeInSeconds")
    if wait is None or wait < stop["MaxRuntimeInSeconds"]:
        problems.append("MaxWaitTimeInSeconds must be >= MaxRuntimeInSeconds")
    spec = get_algorithm(algorithm)
    if not spec.script_mode and algorithm not in AWS_CHECKPOINTING_BUILTINS and wait > 3600:
        problems.append("a built-in algorithm without checkpoints waits at most 3600 s")
    if "CheckpointConfig" in body and algorithm not in AWS_CHECKPOINTING_BUILTINS:
        problems.append("CheckpointConfig for an algorithm that writes no checkpoints")
    return problems


def knn_job(**changes: Any) -> Any:
    hps = {"k": "10", "sample_size": "5000", "predictor_type": "regressor",
           "feature_dim": "8"}
    return job("knn", hyperparameters=hps, **changes)


# -- Hyperband ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("algorithm", "ranges", "static", "expected"), [
    ("xgboost", {"num_round": IntegerRange(min_value=100, max_value=2000)}, {}, (100, 2000)),
    ("xgboost", {"eta": ContinuousRange(min_value=0.1, max_value=0.3)}, {"num_round": "300"},
     (11, 300)),
    ("xgboost", {"num_round": CategoricalRange(values=[50, 400, 200])}, {}, (50, 400)),
    ("sklearn-gbm", {"n_estimators": IntegerRange(min_value=50, max_value=400)}, {},
     (50, 400)),
])
def test_hyperband_sends_the_resource_bounds(algorithm: str, ranges: dict, static: dict,
                                             expected: tuple[int, int]) -> None:
    training = job(algorithm, hyperparameters=static)
    spec = get_algorithm(algorithm)
    tuning = tuning_spec(training=training, ranges=ranges, strategy="Hyperband",
                         objective_metric=spec.default_objective)
    request = rq.tuning_job_request(tuning, spec, "img", ON_DEMAND, f"{S3}/code/s.tar.gz")
    validate_request("CreateHyperParameterTuningJob", request)
    config = request["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": dict(
        zip(("MinResource", "MaxResource"), expected, strict=True))}
    assert aws_hyperband_problems(request) == []


def test_other_strategies_send_no_strategy_config() -> None:
    request = rq.tuning_job_request(tuning_spec(), get_algorithm("xgboost"), "img", ON_DEMAND)
    assert "StrategyConfig" not in request["HyperParameterTuningJobConfig"]
    assert aws_hyperband_problems(request) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"training": knn_job(), "ranges": {"k": IntegerRange(min_value=1, max_value=9)},
      "objective_metric": "test:mse"},
     "tuning.strategy: Hyperband needs a hyperparameter counting epochs, and knn has none"),
    ({"ranges": {"num_round": IntegerRange(min_value=10, max_value=25_000)}},
     "tuning.algorithms.xgboost.ranges.num_round: 25,000 epochs, but Hyperband's MaxResource "
     "is at most 20,000"),
    ({"training": job(hyperparameters={"num_round": "30000"})},
     "static_hyperparameters.num_round: 30,000 epochs"),
    ({"early_stopping": "Auto"}, "tuning.early_stopping: Hyperband stops trials itself"),
])
def test_hyperband_refusals_are_one_line(changes: dict, message: str) -> None:
    tuning = tuning_spec(strategy="Hyperband", **changes)
    spec = get_algorithm(tuning.training.algorithm)
    with pytest.raises(ConfigError) as error:
        rq.tuning_job_request(tuning, spec, "img", ON_DEMAND)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_without_strategy_config_aws_would_reject_num_round() -> None:
    """The reference itself: today's request shape (no StrategyConfig) fails the rule."""
    request = rq.tuning_job_request(tuning_spec(strategy="Hyperband"), get_algorithm("xgboost"),
                                    "img", ON_DEMAND)
    del request["HyperParameterTuningJobConfig"]["StrategyConfig"]
    assert aws_hyperband_problems(request) == [
        "MaxResource cannot be inferred: no epochs-like static key"]


# -- managed spot per algorithm -------------------------------------------------------------------
def test_spot_per_algorithm() -> None:
    xgb = rq.training_job_request(job(max_runtime_seconds=7200), get_algorithm("xgboost"),
                                  "img", SPOT)
    assert xgb["CheckpointConfig"] == {"S3Uri": f"{S3}/checkpoints/{xgb['TrainingJobName']}",
                                       "LocalPath": "/opt/ml/checkpoints"}
    knn = rq.training_job_request(knn_job(max_runtime_seconds=3600), get_algorithm("knn"),
                                  "img", SPOT)
    assert knn["EnableManagedSpotTraining"] is True and "CheckpointConfig" not in knn
    assert knn["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600,
                                        "MaxWaitTimeInSeconds": 3600}
    gbm = rq.training_job_request(job("sklearn-gbm"), get_algorithm("sklearn-gbm"), "img", SPOT,
                                  f"{S3}/code/s.tar.gz")
    assert gbm["StoppingCondition"]["MaxWaitTimeInSeconds"] == 86_400  # script mode: no limit
    assert "CheckpointConfig" not in gbm  # the script writes none
    for body, algorithm in ((xgb, "xgboost"), (knn, "knn"), (gbm, "sklearn-gbm")):
        validate_request("CreateTrainingJob", body)
        assert aws_spot_problems(body, algorithm) == []


@pytest.mark.parametrize(("settings", "runtime", "message"), [
    (SPOT, 86_400, "algorithms.knn.max_runtime_seconds: 86400 s, but knn does not checkpoint"),
    (replace(SPOT, max_wait_seconds=7200), 3600,
     "backend.max_wait_seconds: 7200 s, but knn does not checkpoint"),
])
def test_impossible_knn_spot_is_refused_in_one_line(settings: rq.JobSettings, runtime: int,
                                                    message: str) -> None:
    with pytest.raises(ConfigError) as error:
        rq.training_job_request(knn_job(max_runtime_seconds=runtime), get_algorithm("knn"),
                                "img", settings)
    text = str(error.value)
    assert message in text and "MaxWaitTimeInSeconds <= 3600" in text and "\n" not in text
    assert "use_spot: [xgboost, sklearn-gbm]" in text


def test_use_spot_can_name_algorithms() -> None:
    settings = replace(SPOT, spot_algorithms=("xgboost",))
    knn = rq.training_job_request(knn_job(), get_algorithm("knn"), "img", settings)
    assert "EnableManagedSpotTraining" not in knn
    assert "MaxWaitTimeInSeconds" not in knn["StoppingCondition"]
    assert aws_spot_problems(knn, "knn") == []
    xgb = rq.training_job_request(job(), get_algorithm("xgboost"), "img", settings)
    assert xgb["EnableManagedSpotTraining"] is True


def test_spot_settings_come_from_the_config() -> None:
    from smlp.config.backend import SageMakerBackendConfig

    config = SageMakerBackendConfig(use_spot=["xgboost", "sklearn-gbm"])
    settings = rq.JobSettings.from_config(config, "eu-west-1", ROLE, f"{S3}/checkpoints")
    assert settings.use_spot and settings.spot_algorithms == ("xgboost", "sklearn-gbm")
    with pytest.raises(ValueError, match="use_spot: lightgbm is not an algorithm"):
        SageMakerBackendConfig(use_spot=["lightgbm"])


# -- tuning and checkpoints -----------------------------------------------------------------------
def test_spot_tuning_trials_never_share_a_checkpoint_path() -> None:
    tuning = tuning_spec(training=job(max_runtime_seconds=3600))
    request = rq.tuning_job_request(tuning, get_algorithm("xgboost"), "img", SPOT)
    validate_request("CreateHyperParameterTuningJob", request)
    definition = request["TrainingJobDefinition"]
    assert definition["EnableManagedSpotTraining"] is True
    assert "CheckpointConfig" not in definition
    assert aws_spot_problems(definition, "xgboost") == []
    # Training jobs keep one path each.
    first = rq.training_job_request(job(name="smlp-a"), get_algorithm("xgboost"), "img", SPOT)
    second = rq.training_job_request(job(name="smlp-b"), get_algorithm("xgboost"), "img", SPOT)
    assert first["CheckpointConfig"]["S3Uri"] != second["CheckpointConfig"]["S3Uri"]


def test_knn_spot_tuning_follows_the_knn_limit() -> None:
    tuning = tuning_spec(training=knn_job(max_runtime_seconds=1800),
                         ranges={"k": IntegerRange(min_value=1, max_value=9)},
                         objective_metric="test:mse")
    definition = rq.tuning_job_request(tuning, get_algorithm("knn"), "img",
                                       SPOT)["TrainingJobDefinition"]
    assert definition["StoppingCondition"]["MaxWaitTimeInSeconds"] == 1800
    assert aws_spot_problems(definition, "knn") == []
    with pytest.raises(ConfigError, match="algorithms.knn.max_runtime_seconds"):
        rq.tuning_job_request(replace(tuning, training=knn_job()), get_algorithm("knn"),
                              "img", SPOT)


# -- tuning objectives ----------------------------------------------------------------------------
def test_objectives_are_the_documented_tunable_metrics() -> None:
    xgb = get_algorithm("xgboost")
    # "Tune an XGBoost Model", metric table: validation:* only, with its directions (the
    # rows smlp's problem types use; map and ndcg are ranking metrics).
    assert {m.name: m.direction for m in xgb.tuning_metrics()} == {
        "validation:rmse": "Minimize", "validation:mse": "Minimize",
        "validation:mae": "Minimize", "validation:accuracy": "Maximize",
        "validation:auc": "Maximize", "validation:error": "Minimize",
        "validation:f1": "Maximize", "validation:logloss": "Minimize",
        "validation:merror": "Minimize", "validation:mlogloss": "Minimize"}
    assert "train:rmse" in {m.name for m in xgb.metrics}  # still read from the log
    with pytest.raises(ConfigError, match="emits 'train:rmse' but SageMaker does not tune on"):
        rq.tuning_job_request(tuning_spec(objective_metric="train:rmse"), xgb, "img", ON_DEMAND)
    with pytest.raises(ConfigError, match="objective_type: xgboost's validation:rmse is tuned "
                                          "with Minimize, not Maximize"):
        rq.tuning_job_request(tuning_spec(objective_type="Maximize"), xgb, "img", ON_DEMAND)
    # Script mode tunes on any metric it defines.
    gbm = tuning_spec(training=job("sklearn-gbm"), objective_metric="train:rmse",
                      ranges={"max_depth": IntegerRange(min_value=2, max_value=4)})
    request = rq.tuning_job_request(gbm, get_algorithm("sklearn-gbm"), "img", ON_DEMAND,
                                    f"{S3}/code/s.tar.gz")
    assert request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize", "MetricName": "train:rmse"}


def test_only_documented_xgboost_hyperparameters_are_tunable() -> None:
    # "Tune an XGBoost Model", "Tunable XGBoost hyperparameters"; the container's tunable=True.
    tunable = {n for n, h in get_algorithm("xgboost").hyperparameters.items() if h.tunable}
    assert tunable == {"alpha", "colsample_bylevel", "colsample_bynode", "colsample_bytree",
                       "eta", "gamma", "lambda", "max_delta_step", "max_depth",
                       "min_child_weight", "num_round", "subsample"}
    subsample = get_algorithm("xgboost").hyperparameters["subsample"]
    with pytest.raises(ValueError, match="expected > 0, got 0"):
        subsample.coerce(0)  # the container's (0, 1]
    assert get_algorithm("xgboost").hyperparameters["num_round"].coerce(200_000) == 200_000
