"""The sagemaker backend over real HTTP: moto's server on 127.0.0.1, reached the way any AWS
client reaches an endpoint (``AWS_ENDPOINT_URL``), with the server's own view asserted. The
stand-in's containers (``sagemaker_fixtures``) reach it the same way, the scikit-learn
training toolkit included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from smlp.backends.sagemaker import SageMakerBackend
from smlp.events import Event
from smlp.store import S3Store
from tests.data_paths import split_key
from tests.integration.sagemaker_fixtures import (
    BUCKET,
    REGION,
    ROLE,
    STORE,
    prepare_data,
    record_sagemaker,
    sagemaker_config,
)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def endpoint(moto_server: str, aws_env: None, project: Path,
             monkeypatch: pytest.MonkeyPatch) -> str:
    """Every boto3 client in the test talks HTTP to the server, which starts empty."""
    import urllib.request

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    # boto3.client() caches credentials in a default session: start and end without one.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset",
                                                  method="POST")).read()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return moto_server


@pytest.fixture
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)


def store() -> S3Store:
    return S3Store(STORE, client=boto3.client("s3", region_name=REGION))


def test_training_over_http_reaches_the_server_as_sent(endpoint, small_config, project,
                                                       monkeypatch):
    from smlp.stages.train import train

    sm_store = store()
    data = prepare_data(small_config, sm_store)
    traffic = record_sagemaker(sm_store, project / ".emulator", monkeypatch)
    config = sagemaker_config(small_config)
    candidates = train(config, sm_store, SageMakerBackend(config, sm_store),
                       ["xgboost", "sklearn-gbm"])

    server = boto3.client("sagemaker", region_name=REGION)
    names = {s["TrainingJobName"] for s in server.list_training_jobs()["TrainingJobSummaries"]}
    assert names == {c.job_name for c in candidates}
    for candidate in candidates:
        [sent] = [r for r in traffic.requests("CreateTrainingJob")
                  if r["TrainingJobName"] == candidate.job_name]
        seen = server.describe_training_job(TrainingJobName=candidate.job_name)
        assert seen["HyperParameters"] == sent["HyperParameters"]
        assert seen["InputDataConfig"] == sent["InputDataConfig"]
        assert seen["RoleArn"] == ROLE
        assert seen["AlgorithmSpecification"]["TrainingImage"] == sent[
            "AlgorithmSpecification"]["TrainingImage"]
        assert seen["ModelArtifacts"]["S3ModelArtifacts"] == candidate.model.uri
        assert sm_store.exists(sm_store.key(candidate.model.uri))  # the stand-in's model
    sklearn = next(r for r in traffic.requests("CreateTrainingJob")
                   if "sagemaker_program" in r["HyperParameters"])
    # The training toolkit fetched the sourcedir from S3 itself, over HTTP, from the URI sent.
    written = json.loads((traffic.trained[sklearn["TrainingJobName"]].base
                          / "input/config/hyperparameters.json").read_text())
    assert written == sklearn["HyperParameters"]
    assert written["sagemaker_submit_directory"].startswith(f'"{STORE}/code/')
    assert sklearn["HyperParameters"]["sagemaker_program"] == '"sklearn_gbm.py"'
    assert sklearn["AlgorithmSpecification"]["MetricDefinitions"]
    channels = [c["ContentType"] for c in sklearn["InputDataConfig"]]
    assert channels == ["text/csv", "text/csv"]
    body = sm_store.read_bytes(split_key(sm_store, "validation")).decode().splitlines()
    assert len(body) == data.rows["validation"]  # no header line


def test_throttled_create_is_retried_then_sent_once(endpoint, small_config, project,
                                                   monkeypatch, no_retry_delay):
    from botocore.awsrequest import AWSResponse

    from smlp.stages.train import train

    sm_store = store()
    prepare_data(small_config, sm_store)
    traffic = record_sagemaker(sm_store, project / ".emulator", monkeypatch)
    traffic.emulate = False
    config = sagemaker_config(small_config, max_attempts=4)
    backend = SageMakerBackend(config, sm_store)
    throttled: list[str] = []

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield json.dumps({"__type": "ThrottlingException",
                              "message": "Rate exceeded"}).encode()

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        if len(throttled) < 2:
            throttled.append(request.url)
            return AWSResponse(request.url, 400, {
                "Content-Type": "application/x-amz-json-1.1"}, Raw())
        return None  # on to the server

    backend.sagemaker.meta.events.register_first(
        "before-send.sagemaker.CreateTrainingJob", throttle)
    [candidate] = train(config, sm_store, backend, ["xgboost"])
    assert len(throttled) == 2
    server = boto3.client("sagemaker", region_name=REGION)
    jobs = server.list_training_jobs()["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in jobs] == [candidate.job_name]


def test_tuning_over_http_reports_the_best_trial_without_a_trial_list(
        endpoint, small_config, project, monkeypatch, no_retry_delay):
    """moto's server answers the trial list call with HTTP 500: the tuning result stands."""
    from smlp.backends.base import TuningJobSpec
    from smlp.config.tuning import IntegerRange
    from smlp.stages.train import build_job, hyperparameters_for

    sm_store = store()
    data = prepare_data(small_config, sm_store)
    traffic = record_sagemaker(sm_store, project / ".emulator", monkeypatch)
    config = sagemaker_config(small_config, max_attempts=2)
    training = build_job(config, sm_store, "knn", data,
                         hyperparameters_for(config, "knn", data), "smlp-knn-x")
    spec = TuningJobSpec(name="smlp-knn-tune", training=training,
                         ranges={"k": IntegerRange(min_value=2, max_value=40)},
                         objective_metric="test:mse", max_jobs=4, max_parallel_jobs=2)
    events: list[Event] = []
    result = SageMakerBackend(config, sm_store).tune(spec, events.append)
    [sent] = traffic.requests("CreateHyperParameterTuningJob")
    seen = boto3.client("sagemaker", region_name=REGION).describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="smlp-knn-tune")
    assert seen["HyperParameterTuningJobConfig"] == sent["HyperParameterTuningJobConfig"]
    assert sent["TrainingJobDefinition"]["StaticHyperParameters"]["feature_dim"] == str(
        len(data.features))
    assert result.best is not None and result.trials == [result.best]
    assert any("could not be listed" in e.message and "500" in e.message for e in events)


def test_dry_run_sends_nothing(endpoint, small_config, project, monkeypatch):
    from smlp.backends.sagemaker.dryrun import DryRunStore
    from smlp.stages.rehearse import rehearse
    from smlp.stages.train import train

    traffic = record_sagemaker(store(), project / ".emulator", monkeypatch)
    config = sagemaker_config(small_config, dry_run=True)
    dry = DryRunStore(store())
    backend = SageMakerBackend(config, dry)
    rehearse(config, dry, backend, "data")
    train(config, dry, backend, ["knn"])
    report = backend.dry_run_report()
    assert [r["operation"] for r in report["requests"]] == ["CreateTrainingJob"]
    assert traffic.calls == []
    assert store().list("") == []  # nothing written to the bucket either
