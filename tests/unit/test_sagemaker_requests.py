"""Pure pieces of the sagemaker backend: request builders, validation against botocore's
model, cost estimates, the sourcedir archive, backoff, log tailing and prediction parsing."""

from __future__ import annotations

import io
import json
import random
import tarfile
from pathlib import Path
from typing import Any

import pytest

from smlp.algorithms import get_algorithm
from smlp.backends.base import TrainingJobSpec, TransformJobSpec, TuningJobSpec
from smlp.backends.sagemaker import requests as rq
from smlp.backends.sagemaker.dryrun import DryRunPlan, DryRunStore, validate_request
from smlp.backends.sagemaker.pricing import Estimator, hourly_price
from smlp.backends.sagemaker.sourcedir import pack
from smlp.backends.sagemaker.transform_io import parse_predictions
from smlp.backends.sagemaker.waiter import Backoff, LogTail
from smlp.config import TransformConfig
from smlp.config.backend import starter_config
from smlp.config.tuning import CategoricalRange, ContinuousRange, IntegerRange
from smlp.errors import ConfigError, StoreError

ROLE = "arn:aws:iam::123456789012:role/smlp"
S3 = "s3://bucket/p"
SETTINGS = rq.JobSettings(region="eu-west-1", role_arn=ROLE)


def job(algorithm: str = "xgboost", **changes: Any) -> TrainingJobSpec:
    spec = get_algorithm(algorithm)
    values = {
        "name": f"smlp-{algorithm}-20250101-000000-ab12", "algorithm": algorithm,
        "hyperparameters": {"num_round": "50"} if algorithm == "xgboost" else
        {"n_estimators": "100", "loss": "huber"},
        "channels": {channel: f"{S3}/data/{split}" for channel, split in spec.channels.items()},
        "output_uri": f"{S3}/training", "container_version": spec.default_container_version,
    }
    values.update(changes)
    return TrainingJobSpec(**values)


def test_training_request_validates_and_has_strings_only() -> None:
    spec = get_algorithm("xgboost")
    request = rq.training_job_request(job(), spec, "img:1", SETTINGS)
    validate_request("CreateTrainingJob", request)
    assert request["HyperParameters"] == {"num_round": "50"}
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"{S3}/data/train/")
    assert "MetricDefinitions" not in request["AlgorithmSpecification"]
    assert "EnableManagedSpotTraining" not in request and "VpcConfig" not in request


def test_script_mode_hyperparameters_are_json_encoded_like_the_sdk() -> None:
    spec = get_algorithm("sklearn-gbm")
    request = rq.training_job_request(job("sklearn-gbm"), spec, "img:1", SETTINGS,
                                      "s3://bucket/p/code/x/sourcedir.tar.gz")
    hps = request["HyperParameters"]
    assert hps["n_estimators"] == "100" and hps["loss"] == '"huber"'
    assert hps["sagemaker_program"] == '"sklearn_gbm.py"'
    assert json.loads(hps["sagemaker_submit_directory"]).endswith("sourcedir.tar.gz")
    assert hps["sagemaker_region"] == '"eu-west-1"'
    regexes = {d["Name"]: d["Regex"] for d in request["AlgorithmSpecification"][
        "MetricDefinitions"]}
    import re

    # SageMaker finds a metric anywhere in a log line.
    assert re.search(regexes["validation:rmse"], "[stage 3] validation:rmse=0.512;").group(1) \
        == "0.512"
    with pytest.raises(ValueError, match="sourcedir"):
        rq.training_job_request(job("sklearn-gbm"), spec, "img:1", SETTINGS)


def test_spot_needs_wait_at_least_runtime() -> None:
    spot = rq.JobSettings(region="eu-west-1", role_arn=ROLE, use_spot=True,
                          max_wait_seconds=60, checkpoint_s3_uri=f"{S3}/ckpt")
    with pytest.raises(ConfigError, match="max_wait_seconds"):
        rq.training_job_request(job(), get_algorithm("xgboost"), "img", spot)
    spot = rq.JobSettings(region="eu-west-1", role_arn=ROLE, use_spot=True,
                          checkpoint_s3_uri=f"{S3}/ckpt")
    request = rq.training_job_request(job(), get_algorithm("xgboost"), "img", spot)
    assert request["StoppingCondition"]["MaxWaitTimeInSeconds"] == 86_400
    assert request["CheckpointConfig"]["S3Uri"].startswith(f"{S3}/ckpt/smlp-xgboost")


def test_channels_must_be_on_s3() -> None:
    with pytest.raises(ConfigError, match="not on S3"):
        rq.training_job_request(job(channels={"train": "/tmp/train"}),
                                get_algorithm("xgboost"), "img", SETTINGS)


def tuning_spec(**changes: Any) -> TuningJobSpec:
    values: dict[str, Any] = {
        "name": "smlp-xgboost-tune-20250101-000000-ab12", "training": job(),
        "ranges": {"eta": ContinuousRange(min_value=0.1, max_value=0.3),
                   "max_depth": IntegerRange(min_value=2, max_value=9, scaling="Linear")},
        "objective_metric": "validation:rmse", "timeout_seconds": 3600.0,
    }
    values.update(changes)
    return TuningJobSpec(**values)


def test_tuning_request_validates_and_shortens_the_name() -> None:
    request = rq.tuning_job_request(tuning_spec(), get_algorithm("xgboost"), "img", SETTINGS)
    validate_request("CreateHyperParameterTuningJob", request)
    name = request["HyperParameterTuningJobName"]
    assert len(name) <= 32 and name.startswith("smlp-xgboost-tune")
    assert name == rq.tuning_job_name("smlp-xgboost-tune-20250101-000000-ab12")  # stable
    limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert limits == {"MaxParallelTrainingJobs": 2, "MaxNumberOfTrainingJobs": 20,
                      "MaxRuntimeInSeconds": 3600}
    assert rq.tuning_job_name("short") == "short"


def test_tuning_checks_objective_and_grid() -> None:
    with pytest.raises(ConfigError, match="emits"):
        rq.tuning_job_request(tuning_spec(objective_metric="test:mse"),
                              get_algorithm("xgboost"), "img", SETTINGS)
    with pytest.raises(ConfigError, match="Grid strategy"):
        rq.tuning_job_request(tuning_spec(strategy="Grid"), get_algorithm("xgboost"), "img",
                              SETTINGS)
    grid = tuning_spec(strategy="Grid", ranges={"max_depth": CategoricalRange(values=[3, 5])})
    request = rq.tuning_job_request(grid, get_algorithm("xgboost"), "img", SETTINGS)
    assert request["HyperParameterTuningJobConfig"]["ParameterRanges"] == {
        "CategoricalParameterRanges": [{"Name": "max_depth", "Values": ["3", "5"]}]}


def test_decode_trial_hyperparameters() -> None:
    assert rq.decode_hyperparameters(
        {"loss": '"huber"', "n_estimators": "120", "sagemaker_program": '"x.py"',
         "_tuning_objective_metric": "validation:rmse"}, script_mode=True,
    ) == {"loss": "huber", "n_estimators": "120"}


def transform_spec(**options: Any) -> TransformJobSpec:
    return TransformJobSpec(
        name="smlp-xgboost-transform-1", algorithm="xgboost", model_uri=f"{S3}/m.tar.gz",
        container_version="3.2-0", input_uri=f"{S3}/data/test/test.csv",
        output_uri=f"{S3}/out", n_features=8, options=TransformConfig(**options))


@pytest.mark.parametrize(("mode", "expected"), [
    ("full", {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}),
    ("input", {"InputFilter": "$[1:]"}),
    ("none", None),
])
def test_transform_request_data_processing_modes(mode: str, expected: Any) -> None:
    spec = transform_spec(input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]",
                          instance_count=2)
    io_ = rq.TransformIO(f"{S3}/data/test/test.csv", f"{S3}/out", data_processing=mode)
    request = rq.transform_job_request(spec, "model-1", io_, SETTINGS)
    validate_request("CreateTransformJob", request)
    assert request.get("DataProcessing") == expected
    assert request["TransformInput"]["SplitType"] == "Line"
    assert request["TransformOutput"]["AssembleWith"] == "Line"
    assert request["TransformResources"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2}


def test_model_request_for_script_mode_carries_the_entry_point() -> None:
    spec = get_algorithm("sklearn-gbm")
    request = rq.model_request("m", spec, "img", f"{S3}/model.tar.gz", SETTINGS,
                               f"{S3}/code/sourcedir.tar.gz")
    validate_request("CreateModel", request)
    assert request["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "sklearn_gbm.py"
    plain = rq.model_request("m", get_algorithm("knn"), "img", f"{S3}/model.tar.gz", SETTINGS)
    assert "Environment" not in plain["PrimaryContainer"]


def test_validation_reports_what_botocore_and_the_model_reject() -> None:
    spec = get_algorithm("xgboost")
    bad = rq.training_job_request(job(name="x" * 70, instance_type="ml.t2.micro"), spec,
                                  "img", SETTINGS)
    del bad["RoleArn"]
    with pytest.raises(ConfigError) as error:
        validate_request("CreateTrainingJob", bad)
    message = str(error.value)
    assert 'Missing required parameter in input: "RoleArn"' in message
    assert "TrainingJobName: 70 characters, at most 63" in message
    assert "ResourceConfig.InstanceType: SageMaker does not offer ml.t2.micro for training " \
        "jobs; e.g. ml.m5.large, ml.m5.xlarge" in message
    with pytest.raises(ConfigError, match="for batch transform jobs"):
        io_ = rq.TransformIO(f"{S3}/in.csv", f"{S3}/out")
        validate_request("CreateTransformJob", rq.transform_job_request(
            transform_spec(instance_type="ml.foo.large"), "m", io_, SETTINGS))


def test_cost_estimate_states_its_assumptions() -> None:
    assert hourly_price("us-east-1", "ml.m5.xlarge") == (0.23, "")
    price, note = hourly_price("sa-east-1", "ml.m5.xlarge")  # a region the table lacks
    assert price == 0.23 and "us-east-1 rates used" in note
    assert hourly_price("us-east-1", "ml.x9.huge")[0] is None
    estimator = Estimator("us-east-1", 30, 6, use_spot=True)
    training = rq.training_job_request(job(instance_count=2), get_algorithm("xgboost"), "img",
                                       SETTINGS)
    line = estimator.add("CreateTrainingJob", training)
    assert line.cost == pytest.approx(0.23 * 0.5 * 2)
    assert line.max_cost == pytest.approx(0.23 * 24 * 2, abs=0.01)
    tuning = rq.tuning_job_request(tuning_spec(), get_algorithm("xgboost"), "img", SETTINGS)
    assert estimator.add("CreateHyperParameterTuningJob", tuning).jobs == 20
    io_ = rq.TransformIO(f"{S3}/in.csv", f"{S3}/out")
    transform = rq.transform_job_request(transform_spec(), "m", io_, SETTINGS)
    assert estimator.add("CreateTransformJob", transform).cost == pytest.approx(0.23 / 10)
    assert estimator.add("CreateModel", {}) is None
    body = estimator.estimate.to_json()
    assert body["total"] == pytest.approx(0.23 + 0.23 * 0.5 * 20 + 0.023, abs=1e-3)
    assert any("spot" in text for text in body["assumptions"])
    assert any("dated" in text for text in body["assumptions"])


def test_dry_run_plan_validates_and_renders() -> None:
    plan = DryRunPlan("us-east-1", estimator=Estimator("us-east-1", 15, 10))
    plan.add("CreateModel", rq.model_request("m", get_algorithm("xgboost"), "img",
                                             f"{S3}/m.tar.gz", SETTINGS))
    with pytest.raises(ConfigError, match="ModelName"):
        plan.add("CreateModel", {"ModelName": "bad_name!"})
    body = plan.to_json([{"uri": f"{S3}/x", "bytes": 3}])
    assert [r["operation"] for r in body["requests"]] == ["CreateModel"]
    assert body["s3_writes"] == [{"uri": f"{S3}/x", "bytes": 3}]
    assert body["estimated_cost"]["total"] == 0


def test_dry_run_store_reads_through_and_keeps_writes(tmp_path: Path) -> None:
    from smlp.store import LocalStore

    base = LocalStore(tmp_path / "store")
    base.write_bytes("a.txt", b"real")
    store = DryRunStore(base)
    assert store.read_bytes("a.txt") == b"real"
    store.write_bytes("a.txt", b"planned")
    store.write_bytes("b/c.txt", b"new")
    assert store.read_bytes("a.txt") == b"planned" and base.read_bytes("a.txt") == b"real"
    assert not base.exists("b/c.txt") and store.exists("b/c.txt")
    assert store.list("b") == ["b/c.txt"]
    assert [w["uri"] for w in store.writes] == [base.uri("a.txt"), base.uri("b/c.txt")]
    with pytest.raises(StoreError, match="dry run"):
        store.read_bytes("missing")


def test_sourcedir_archive_is_reproducible(tmp_path: Path) -> None:
    (tmp_path / "entry.py").write_text("print('hi')\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "entry.cpython-311.pyc").write_bytes(b"x")
    (tmp_path / ".hidden").write_text("x")
    first = pack(tmp_path)
    (tmp_path / "entry.py").touch()  # a new mtime, the same content
    assert pack(tmp_path).sha256 == first.sha256
    assert first.files == ("entry.py",)
    assert first.key == f"code/{first.sha256[:16]}/sourcedir.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(first.data), mode="r:gz") as archive:
        member = archive.getmember("entry.py")
        assert (member.mtime, member.uid, member.mode) == (0, 0, 0o644)


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    delays = iter(Backoff(1.0, 4.0, rng=random.Random(3)))
    taken = [next(delays) for _ in range(9)]
    assert 0.8 <= taken[0] <= 1.2 and all(d <= 4.0 * 1.2 for d in taken)
    assert taken[-1] >= 4.0 * 0.8
    assert len(set(taken[-3:])) == 3  # jittered, not in lockstep with other clients


class FakeLogs:
    """CloudWatch Logs for one job with two streams; ``publish`` adds events to a stream."""

    def __init__(self) -> None:
        self.events: dict[str, list[str]] = {"job/algo-1": ["a1", "a2", "a3"],
                                             "job/algo-2": ["b1"]}
        self.page = 2

    def describe_log_streams(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["logStreamNamePrefix"] == "job/"
        return {"logStreams": [{"logStreamName": name} for name in self.events]}

    def get_log_events(self, logStreamName: str, nextToken: str | None = None,
                       **_: Any) -> dict[str, Any]:
        start = int(nextToken or 0)
        chunk = self.events[logStreamName][start:start + self.page]
        return {"events": [{"message": m + "\n"} for m in chunk],
                "nextForwardToken": str(start + len(chunk))}


def test_log_tail_follows_every_stream_once() -> None:
    logs = FakeLogs()
    tail = LogTail(logs, "/aws/sagemaker/TrainingJobs", "job")
    assert tail.poll() == ["a1", "a2", "a3", "b1"]  # pages followed to the end
    assert tail.poll() == []
    logs.events["job/algo-2"].append("b2")
    assert tail.poll() == ["b2"]


def test_predictions_from_csv_or_json_lines() -> None:
    assert parse_predictions(iter(["1.5", "2", ""])) == [1.5, 2.0]
    # a classifier's row of class probabilities is one record, kept as the container wrote it
    assert parse_predictions(iter(["0.25,0.75\n", "1.0,0.0"])) == ["0.25,0.75", "1.0,0.0"]
    assert parse_predictions(iter(['{"predicted_label": 4.0}',
                                   '{"predictions": [{"predicted_label": 5}, {"predicted_label":'
                                   ' 6}]}'])) == [4.0, 5.0, 6.0]


def test_starter_config_checks_each_option() -> None:
    assert starter_config("sagemaker", bucket="s3://my-bucket/team", role_arn=ROLE,
                          region="eu-west-1")["store"] == "s3://my-bucket/team"
    assert starter_config("sagemaker", bucket="my-bucket", role_arn=ROLE,
                          region="eu-west-1")["store"] == "s3://my-bucket/smlp"
    for kwargs, message in [
        ({}, "--bucket is required"),
        ({"bucket": "My_Bucket"}, "not a valid S3 bucket"),
        ({"bucket": "my-bucket"}, "--role-arn is required"),
        ({"bucket": "my-bucket", "role_arn": "role"}, "not an IAM role ARN"),
        ({"bucket": "my-bucket", "role_arn": ROLE}, "--region is required"),
    ]:
        with pytest.raises(ValueError, match=message):
            starter_config("sagemaker", **kwargs)


def test_the_managed_tag_cannot_be_overridden_by_user_tags() -> None:
    # The infra stack's notebook role may create jobs only with smlp:managed=true.
    from smlp.backends.sagemaker.requests import JobSettings, tags

    settings = JobSettings(region="us-east-1", role_arn="arn:aws:iam::123456789012:role/r",
                           tags={"smlp:managed": "false", "team": "ml"})
    assert {t["Key"]: t["Value"] for t in tags(settings)} == {"team": "ml",
                                                             "smlp:managed": "true"}
