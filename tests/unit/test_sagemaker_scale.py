"""Clusters on SageMaker: sharded train channels for several instances, input modes per
algorithm, Batch Transform's MaxConcurrentTransforms; every request checked against botocore's
SageMaker model (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from smlp.algorithms import get_algorithm
from smlp.backends.base import TrainingJobSpec, TransformJobSpec, TuningJobSpec
from smlp.backends.sagemaker import requests as rq
from smlp.backends.sagemaker import rules
from smlp.backends.sagemaker.dryrun import plan_summary, validate_request
from smlp.config import TransformConfig, load_config
from smlp.errors import ConfigError

ROLE = "arn:aws:iam::123456789012:role/smlp"
S3 = "s3://bucket/p"


def settings(**modes: str) -> rq.JobSettings:
    return rq.JobSettings(region="eu-west-1", role_arn=ROLE,
                          input_modes={k.replace("_", "-"): v for k, v in modes.items()})


def job(algorithm: str = "xgboost", instances: int = 1) -> TrainingJobSpec:
    spec = get_algorithm(algorithm)
    hyperparameters = {"xgboost": {"num_round": "50"},
                       "knn": {"k": "5", "sample_size": "1000", "feature_dim": "8",
                               "predictor_type": "regressor"},
                       "sklearn-gbm": {"n_estimators": "100"}}[algorithm]
    return TrainingJobSpec(
        name=f"smlp-{algorithm}-20260101-000000-ab12", algorithm=algorithm,
        hyperparameters=hyperparameters,
        channels={channel: f"{S3}/data/v1/{split}" for channel, split in spec.channels.items()},
        output_uri=f"{S3}/training", container_version=spec.default_container_version,
        instance_count=instances)


def channels(request: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["ChannelName"]: (c["DataSource"]["S3DataSource"]["S3DataDistributionType"],
                               c["InputMode"]) for c in request["InputDataConfig"]}


def test_two_instance_xgboost_shards_train_and_replicates_validation() -> None:
    request = rq.training_job_request(job(instances=2), get_algorithm("xgboost"), "img:1",
                                      settings())
    validate_request("CreateTrainingJob", request)
    assert request["ResourceConfig"]["InstanceCount"] == 2
    assert channels(request) == {"train": ("ShardedByS3Key", "File"),
                                 "validation": ("FullyReplicated", "File")}


def test_one_instance_replicates_every_channel() -> None:
    request = rq.training_job_request(job(), get_algorithm("xgboost"), "img:1", settings())
    assert {d for d, _ in channels(request).values()} == {"FullyReplicated"}


def test_two_instance_knn_shards_train_and_replicates_test() -> None:
    request = rq.training_job_request(job("knn", 2), get_algorithm("knn"), "img:1",
                                      settings())
    validate_request("CreateTrainingJob", request)
    assert channels(request) == {"train": ("ShardedByS3Key", "File"),
                                 "test": ("FullyReplicated", "File")}


@pytest.mark.parametrize("algorithm", ["xgboost", "knn"])
def test_pipe_mode_for_the_built_ins(algorithm: str) -> None:
    request = rq.training_job_request(job(algorithm, 2), get_algorithm(algorithm), "img:1",
                                      settings(**{algorithm: "Pipe"}))
    validate_request("CreateTrainingJob", request)
    assert request["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"
    assert {mode for _, mode in channels(request).values()} == {"Pipe"}


def test_fastfile_for_the_script_mode_container() -> None:
    request = rq.training_job_request(job("sklearn-gbm"), get_algorithm("sklearn-gbm"),
                                      "img:1", settings(sklearn_gbm="FastFile"),
                                      f"{S3}/code/x/sourcedir.tar.gz")
    validate_request("CreateTrainingJob", request)
    assert request["AlgorithmSpecification"]["TrainingInputMode"] == "FastFile"


@pytest.mark.parametrize(("algorithm", "mode", "accepted"), [
    ("xgboost", "FastFile", "File or Pipe"),  # channel_validation.py registers File and Pipe
    ("knn", "FastFile", "File or Pipe"),
    ("sklearn-gbm", "Pipe", "File or FastFile"),
])
def test_an_input_mode_the_container_refuses_stops_in_one_line(algorithm: str, mode: str,
                                                               accepted: str) -> None:
    with pytest.raises(ConfigError, match=rf"algorithms\.{algorithm}\.input_mode: {mode}, "
                                          rf"but {algorithm} reads its channels in {accepted}"):
        rq.training_job_request(job(algorithm), get_algorithm(algorithm), "img:1",
                                settings(**{algorithm.replace("-", "_"): mode}),
                                f"{S3}/code/x/sourcedir.tar.gz")


def test_scikit_learn_on_two_instances_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"algorithms\.sklearn-gbm\.instance_count: 2, but "
                                          r"sklearn-gbm trains on one instance"):
        rules.check_training(job("sklearn-gbm", 2), get_algorithm("sklearn-gbm"), settings())


def test_tuning_trials_are_clusters_too() -> None:
    tuning = TuningJobSpec(
        name="smlp-xgboost-tune-1", training=job(instances=3), ranges={},
        objective_metric="validation:rmse", objective_type="Minimize", strategy="Random",
        max_jobs=4, max_parallel_jobs=2)
    request = rq.tuning_job_request(tuning, get_algorithm("xgboost"), "img:1",
                                    settings(xgboost="Pipe"))
    validate_request("CreateHyperParameterTuningJob", request)
    definition = request["TrainingJobDefinition"]
    assert definition["ResourceConfig"]["InstanceCount"] == 3
    assert definition["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"
    assert channels(definition)["train"] == ("ShardedByS3Key", "Pipe")


def test_batch_transform_on_several_instances() -> None:
    options = TransformConfig(instance_count=3, max_concurrent_transforms=4)
    spec = TransformJobSpec(name="smlp-xgboost-transform-1", algorithm="xgboost",
                            model_uri=f"{S3}/m.tar.gz", container_version="1.7-1",
                            input_uri=f"{S3}/in/", output_uri=f"{S3}/out", n_features=8,
                            options=options)
    request = rq.transform_job_request(spec, "m", rq.TransformIO(f"{S3}/in/", f"{S3}/out"),
                                       settings())
    validate_request("CreateTransformJob", request)
    assert request["TransformResources"]["InstanceCount"] == 3
    assert request["MaxConcurrentTransforms"] == 4
    unset = rq.transform_job_request(
        TransformJobSpec(**{**spec.__dict__, "options": TransformConfig()}), "m",
        rq.TransformIO(f"{S3}/in/", f"{S3}/out"), settings())
    assert "MaxConcurrentTransforms" not in unset


def test_config_takes_input_mode_per_algorithm_and_refuses_others() -> None:
    config = load_config(None, {"algorithms.xgboost.input_mode": "Pipe",
                                "algorithms.xgboost.instance_count": 2})
    assert config.algorithms.get("xgboost").input_mode == "Pipe"
    assert config.algorithms.get("knn").input_mode == "File"
    with pytest.raises(ConfigError, match="input_mode"):
        load_config(None, {"algorithms.knn.input_mode": "Stream"})


def test_the_dry_run_summary_shows_how_a_cluster_reads_its_channels() -> None:
    request = rq.training_job_request(job(instances=2), get_algorithm("xgboost"), "img:1",
                                      settings())
    lines = plan_summary({"region": "eu-west-1", "requests": [
        {"service": "sagemaker", "operation": "CreateTrainingJob", "params": request}]})
    assert (f"  {request['TrainingJobName']}  2 instances, File mode: train ShardedByS3Key, "
            "validation FullyReplicated") in lines
