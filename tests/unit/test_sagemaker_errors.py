"""AWS errors become one smlp error each, and the failure paths of a job, with botocore's
Stubber (no network, no moto): failed, stopped, denied, throttled, interrupted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import exceptions as bx
from botocore.stub import ANY, Stubber

from smlp.backends.base import TrainingJobSpec, TransformJobSpec
from smlp.backends.sagemaker import SageMakerBackend
from smlp.backends.sagemaker.session import HINTS, AwsSession, aws_errors, map_error
from smlp.config import TransformConfig
from smlp.errors import AwsError, BackendError, ConfigError, JobFailedError
from smlp.events import Event
from smlp.store import S3Store

ROLE = "arn:aws:iam::123456789012:role/smlp"
JOB = "smlp-xgboost-20250101-000000-ab12"


@pytest.fixture
def aws(project: Path) -> Iterator[dict[str, Any]]:
    """A backend over stubbed SageMaker and S3 clients, with credentials that are never used."""
    from smlp.config import load_config

    boto = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s",
                                 region_name="us-east-1")
    session = AwsSession("us-east-1", 1, boto_session=boto)
    sagemaker, s3 = Stubber(session.client("sagemaker")), Stubber(session.client("s3"))
    s3.add_response("head_bucket", {"BucketRegion": "us-east-1"}, {"Bucket": "bucket"})
    config = load_config(None, {
        "backend.kind": "sagemaker", "backend.region": "us-east-1", "backend.role_arn": ROLE,
        "backend.poll_seconds": 0.01, "backend.max_poll_seconds": 0.01,
        "backend.stream_logs": False, "store": "s3://bucket/p"})
    backend = SageMakerBackend(config, S3Store("s3://bucket/p", client=session.client("s3")),
                               session=session, sleep=lambda seconds: None)
    with sagemaker, s3:
        yield {"backend": backend, "sagemaker": sagemaker, "s3": s3}
    sagemaker.assert_no_pending_responses()


def training_job() -> TrainingJobSpec:
    return TrainingJobSpec(
        name=JOB, algorithm="xgboost", hyperparameters={"num_round": "10"},
        channels={"train": "s3://bucket/p/data/train"}, output_uri="s3://bucket/p/training",
        container_version="3.2-0")


def described(status: str, secondary: str = "", **extra: Any) -> dict[str, Any]:
    body = {"TrainingJobName": JOB, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:1:"
            f"training-job/{JOB}", "TrainingJobStatus": status,
            "SecondaryStatus": secondary or status,
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {"VolumeSizeInGB": 30}, "StoppingCondition": {},
            "CreationTime": "2025-01-01T00:00:00Z", "ModelArtifacts": {
                "S3ModelArtifacts": f"s3://bucket/p/training/{JOB}/output/model.tar.gz"}}
    body.update(extra)
    return body


# -- every expected vendor error is mapped ------------------------------------------------------
@pytest.mark.parametrize("code", sorted(HINTS))
def test_every_known_aws_error_code_becomes_an_aws_error_with_a_hint(aws, code):
    aws["sagemaker"].add_client_error("describe_training_job", service_error_code=code,
                                      service_message="the service said no",
                                      http_status_code=400)
    with pytest.raises(AwsError) as error:
        with aws_errors("DescribeTrainingJob"):
            aws["backend"].sagemaker.describe_training_job(TrainingJobName=JOB)
    assert error.value.code == code
    assert error.value.operation == "DescribeTrainingJob"
    assert str(error.value) == (f"AWS error {code} in DescribeTrainingJob: the service said no "
                                f"({HINTS[code]})")


def test_an_unknown_code_keeps_the_aws_message():
    exc = bx.ClientError({"Error": {"Code": "SomethingNew", "Message": "new"}}, "CreateModel")
    error = map_error(exc, "CreateModel")
    assert isinstance(error, AwsError)
    assert str(error) == "AWS error SomethingNew in CreateModel: new"


@pytest.mark.parametrize(("exc", "kind", "text"), [
    (bx.NoCredentialsError(), ConfigError, "no usable AWS credentials"),
    (bx.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), ConfigError,
     "no usable AWS credentials"),
    (bx.NoRegionError(), ConfigError, "no AWS region"),
    (bx.EndpointConnectionError(endpoint_url="https://api.sagemaker"), BackendError,
     "cannot reach AWS"),
    (bx.ConnectTimeoutError(endpoint_url="https://api.sagemaker"), BackendError,
     "cannot reach AWS"),
    (bx.ReadTimeoutError(endpoint_url="https://api.sagemaker"), BackendError, "cannot reach AWS"),
    (bx.ParamValidationError(report="bad"), BackendError, "invalid CreateTrainingJob request"),
    (bx.WaiterError(name="w", reason="r", last_response={}), BackendError,
     "CreateTrainingJob failed"),
])
def test_botocore_exceptions_are_mapped(exc, kind, text):
    with pytest.raises(kind, match=text):
        with aws_errors("CreateTrainingJob"):
            raise exc


# -- job failure paths --------------------------------------------------------------------------
def test_failed_job_surfaces_its_failure_reason(aws):
    aws["sagemaker"].add_response("create_training_job", {"TrainingJobArn": "arn"})
    aws["sagemaker"].add_response("describe_training_job", described("InProgress", "Starting"))
    aws["sagemaker"].add_response("describe_training_job", described("InProgress", "Training"))
    aws["sagemaker"].add_response("describe_training_job", described(
        "Failed", FailureReason="AlgorithmError: channel train has no data"))
    events: list[Event] = []
    result = aws["backend"].train(training_job(), events.append)
    assert result.status == "Failed"
    assert result.failure_reason == "AlgorithmError: channel train has no data"
    assert [e.message for e in events if e.kind == "job"] == [
        f"{JOB}: InProgress (Starting)", f"{JOB}: InProgress (Training)", f"{JOB}: Failed"]
    assert "job smlp-xgboost-20250101-000000-ab12 failed: AlgorithmError" in str(
        JobFailedError(JOB, result.failure_reason))


def test_stopped_job_is_reported_as_stopped(aws):
    aws["sagemaker"].add_response("create_training_job", {"TrainingJobArn": "arn"})
    aws["sagemaker"].add_response("describe_training_job", described("Stopping"))
    aws["sagemaker"].add_response("describe_training_job", described("Stopped"))
    result = aws["backend"].train(training_job())
    assert result.status == "Stopped"
    assert result.failure_reason == "Stopped: the job was stopped (StopTrainingJob)"


def test_access_denied_is_one_clear_error(aws):
    aws["sagemaker"].add_client_error(
        "create_training_job", service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::1:user/me is not authorized to perform: "
                        "sagemaker:CreateTrainingJob", http_status_code=400)
    with pytest.raises(AwsError) as error:
        aws["backend"].train(training_job())
    assert error.value.code == "AccessDeniedException"
    assert "in CreateTrainingJob: User: arn:aws:iam::1:user/me is not authorized" in str(
        error.value)


def test_ctrl_c_asks_and_stops_the_remote_job(aws):
    backend = aws["backend"]
    asked: list[str] = []
    backend.confirm_stop = lambda job: asked.append(job) or True

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    backend.sleep = interrupted
    aws["sagemaker"].add_response("create_training_job", {"TrainingJobArn": "arn"})
    aws["sagemaker"].add_response("describe_training_job", described("InProgress"))
    aws["sagemaker"].add_response("stop_training_job", {}, {"TrainingJobName": JOB})
    events: list[Event] = []
    with pytest.raises(KeyboardInterrupt):
        backend.train(training_job(), events.append)
    assert asked == [f"training job {JOB}"]
    assert any("stop requested" in e.message for e in events)


def test_ctrl_c_without_stopping_says_how_to_stop_later(aws):
    backend = aws["backend"]
    backend.confirm_stop = lambda job: False
    backend.sleep = lambda seconds: (_ for _ in ()).throw(KeyboardInterrupt)
    aws["sagemaker"].add_response("create_training_job", {"TrainingJobArn": "arn"})
    aws["sagemaker"].add_response("describe_training_job", described("InProgress"))
    events: list[Event] = []
    with pytest.raises(KeyboardInterrupt):
        backend.train(training_job(), events.append)
    assert any(f"aws sagemaker stop-training-job --training-job-name {JOB}" in e.message
               for e in events)


def test_interrupt_wakes_a_wait_in_another_thread(aws):
    backend = aws["backend"]
    waiting = threading.Event()

    def sleep(seconds: float) -> None:
        waiting.set()
        backend._interruptible_sleep(seconds)  # the real sleep, which interrupt() wakes

    backend.sleep = sleep
    backend.settings = backend.settings.model_copy(update={"poll_seconds": 30.0,
                                                           "max_poll_seconds": 30.0})
    aws["sagemaker"].add_response("create_training_job", {"TrainingJobArn": "arn"})
    aws["sagemaker"].add_response("describe_training_job", described("InProgress"))
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            backend.train(training_job())
        except BaseException as exc:  # noqa: B036 - KeyboardInterrupt is what we wait for
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert waiting.wait(5)  # the job is being waited for, 30 s between polls
    backend.interrupt()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert outcome and isinstance(outcome[0], KeyboardInterrupt)


def test_failed_transform_reports_reason_and_deletes_its_model(aws):
    job = TransformJobSpec(
        name="smlp-xgboost-transform-1", algorithm="xgboost",
        model_uri="s3://bucket/p/training/j/output/model.tar.gz", container_version="3.2-0",
        input_uri="s3://bucket/p/data/test/test.csv", output_uri="s3://bucket/p/out",
        n_features=8, options=TransformConfig(input_filter="$[1:]"))
    aws["backend"].store._client = boto3.client(  # the store's own S3 client
        "s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    listing = Stubber(aws["backend"].store.client)
    listing.add_response("list_objects_v2", {"Contents": [{"Key": "p/data/test/test.csv"}]},
                         {"Bucket": "bucket", "Prefix": "p/data/test/test.csv"})
    listing.activate()
    sagemaker = aws["sagemaker"]
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/m"
    sagemaker.add_response("create_model", {"ModelArn": arn}, {
        "ModelName": job.name, "ExecutionRoleArn": ROLE, "Tags": ANY,
        "PrimaryContainer": {"Image": ANY, "ModelDataUrl": job.model_uri}})
    sagemaker.add_response("create_transform_job", {"TransformJobArn": arn})
    sagemaker.add_response("describe_transform_job", {
        "TransformJobName": job.name, "TransformJobArn": arn, "TransformJobStatus": "Failed",
        "FailureReason": "ClientError: See job logs for more information", "ModelName": "m",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": "s3://b/x"}}},
        "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        "CreationTime": "2025-01-01T00:00:00Z"})
    sagemaker.add_response("delete_model", {}, {"ModelName": job.name})
    result = aws["backend"].transform(job)
    assert result.status == "Failed"
    assert result.failure_reason == "ClientError: See job logs for more information"


def test_throttling_is_retried_by_botocore_then_succeeds(project, monkeypatch):
    """Two ThrottlingException answers, then success: retried inside botocore, never seen."""
    from botocore.awsrequest import AWSResponse
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)
    boto = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s",
                                 region_name="us-east-1")
    client = AwsSession("us-east-1", 3, boto_session=boto).client("sagemaker")
    answers = [(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})] * 2 + [
        (200, described("Completed"))]
    sent: list[str] = []

    class Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.body

    def answer(request: Any, **_: Any) -> AWSResponse:
        status, body = answers[len(sent)]
        sent.append(request.url)
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"},
                           Raw(json.dumps(body).encode()))

    client.meta.events.register_first("before-send.sagemaker", answer)
    with aws_errors("DescribeTrainingJob"):
        response = client.describe_training_job(TrainingJobName=JOB)
    assert response["TrainingJobStatus"] == "Completed"
    assert len(sent) == 3 and response["ResponseMetadata"]["RetryAttempts"] == 2

    sent.clear()
    answers[2] = answers[0]  # throttled on every attempt: one clear error after the retries
    with pytest.raises(AwsError) as error:
        with aws_errors("DescribeTrainingJob"):
            client.describe_training_job(TrainingJobName=JOB)
    assert error.value.code == "ThrottlingException" and len(sent) == 3
    assert "raise backend.max_attempts" in str(error.value)
