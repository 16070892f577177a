"""Helpers for the SageMaker backend tests: a recorder of what SageMaker receives (decoded from
the HTTP bodies botocore sends) and a stand-in for SageMaker's side of each job.

moto's jobs complete at once and write nothing. The stand-in fills that gap with references
that are not smlp (``tests/reference``), reading and writing S3 itself as SageMaker does:

- CreateTrainingJob: the channels' objects downloaded into an ``/opt/ml``-shaped folder with
  ``hyperparameters.json`` exactly as sent, then the container for the request's image:
  XGBoost's algorithm mode mirrored in plain xgboost, the scikit-learn container's real
  ``sagemaker-training`` toolkit running the entry point from the submitted
  ``sourcedir.tar.gz``, or an independent brute-force k-NN (the ``knn:1`` artifact is opaque
  to smlp). The model folder is tarred to ``<S3OutputPath>/<job>/output/model.tar.gz`` and the
  job's output goes to CloudWatch Logs as SageMaker shows it.
- CreateTransformJob: the model of the named CreateModel request, served by the same
  container's serving code, behind the AWS-docs Batch Transform platform (lines, mini-batches,
  ``DataProcessing``), writing ``<input>.out`` where SageMaker would.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/smlp-sagemaker"
REGION = "us-east-1"
BUCKET = "smlp-test"
STORE = f"s3://{BUCKET}/projects/demo"
IMAGE_ALGORITHMS = {"sagemaker-xgboost": "xgboost", "knn": "knn",
                    "sagemaker-scikit-learn": "sklearn-gbm"}


def sagemaker_config(base: Any, **backend: Any) -> Any:
    """``base`` (a loaded Config) switched to the sagemaker backend over the moto bucket."""
    from smlp.config import SageMakerBackendConfig

    settings = {"region": REGION, "role_arn": ROLE, "poll_seconds": 0.01,
                "max_poll_seconds": 0.02, "max_attempts": 3, **backend}
    return base.model_copy(update={"backend": SageMakerBackendConfig(**settings),
                                   "store": STORE})


def algorithm_of(image: str) -> str:
    repository = image.split("/", 1)[1].split(":", 1)[0]
    return IMAGE_ALGORITHMS[repository]


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class TrainedJob:
    """What the reference container did for one CreateTrainingJob."""

    algorithm: str
    base: Path  # its /opt/ml
    model_uri: str
    model_sha256: str
    log: list[str]


@dataclass
class TransformedJob:
    """What the reference platform wrote for one CreateTransformJob: output key -> body."""

    algorithm: str
    model_dir: Path
    outputs: dict[str, bytes] = field(default_factory=dict)


class SageMakerTraffic:
    """Records every SageMaker request body; optionally plays SageMaker's side of the jobs."""

    def __init__(self, store: Any, work_dir: Path, emulate: bool = True) -> None:
        self.store = store
        self.work_dir = work_dir
        self.emulate = emulate
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.models: dict[str, dict[str, Any]] = {}
        self.trained: dict[str, TrainedJob] = {}
        self.transformed: dict[str, TransformedJob] = {}
        self._attached: set[int] = set()

    def attach(self, client: Any) -> None:
        if id(client) not in self._attached:
            self._attached.add(id(client))
            client.meta.events.register_first("before-send.sagemaker", self._on_send)

    def requests(self, operation: str) -> list[dict[str, Any]]:
        return [body for op, body in self.calls if op == operation]

    def operations(self) -> list[str]:
        return [op for op, _ in self.calls]

    def _on_send(self, request: Any, **_: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        operation = target.split(".", 1)[1]
        raw = request.body or b"{}"
        body = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        self.calls.append((operation, body))
        if operation == "CreateModel":
            self.models[body["ModelName"]] = body
        if self.emulate and operation == "CreateTrainingJob":
            self._train(body)
        if self.emulate and operation == "CreateTransformJob":
            self._transform(body)

    # -- S3, as SageMaker reads and writes it ------------------------------------------------
    @staticmethod
    def _s3() -> Any:
        import boto3

        return boto3.client("s3", region_name=REGION)

    def _download_prefix(self, uri: str, folder: Path) -> list[str]:
        """File mode, S3Prefix: every object under the prefix, sub-paths kept."""
        bucket, prefix = split_s3(uri)
        base = prefix if prefix.endswith("/") else prefix.rsplit("/", 1)[0] + "/"
        s3 = self._s3()
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix) for item in page.get("Contents", [])]
        for key in keys:
            target = folder / key[len(base):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return keys

    def _get(self, uri: str) -> bytes:
        bucket, key = split_s3(uri)
        return self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()

    def _put(self, uri: str, data: bytes) -> None:
        bucket, key = split_s3(uri)
        self._s3().put_object(Bucket=bucket, Key=key, Body=data)

    # -- training ----------------------------------------------------------------------------
    def _train(self, body: dict[str, Any]) -> None:
        from tests.reference import knn, xgboost_container
        from tests.reference.sklearn_container import run_training, write_config

        job = body["TrainingJobName"]
        algorithm = algorithm_of(body["AlgorithmSpecification"]["TrainingImage"])
        base = self.work_dir / job / "opt" / "ml"
        hyperparameters = dict(body["HyperParameters"])
        for channel in body["InputDataConfig"]:
            self._download_prefix(channel["DataSource"]["S3DataSource"]["S3Uri"],
                                  base / "input" / "data" / channel["ChannelName"])
        if algorithm == "sklearn-gbm" and not os.environ.get("AWS_ENDPOINT_URL"):
            # The toolkit downloads s3:// itself, but a subprocess cannot see moto's in-process
            # S3: fetch the archive and give the toolkit its local path, which it accepts too.
            archive = base.parent / "sourcedir.tar.gz"
            archive.write_bytes(self._get(json.loads(hyperparameters[
                "sagemaker_submit_directory"])))
            hyperparameters["sagemaker_submit_directory"] = json.dumps(str(archive))
        write_config(base, hyperparameters, {c["ChannelName"]: c.get("ContentType", "")
                                             for c in body["InputDataConfig"]})
        if algorithm == "xgboost":
            log = [xgboost_container.cloudwatch(line) for line in xgboost_container.train(base)]
        elif algorithm == "knn":
            log = knn.train(base)
        else:
            run = run_training(base)
            log = run.stdout.splitlines()
            assert run.returncode == 0 and (base / "output" / "success").exists(), run.stdout
        archive = _tar_folder(base / "model")
        output = body["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        model_uri = f"{output}/{job}/output/model.tar.gz"
        self._put(model_uri, archive)
        self.trained[job] = TrainedJob(algorithm, base, model_uri,
                                       hashlib.sha256(archive).hexdigest(), log)
        self._publish_log(job, log)

    def _publish_log(self, job_name: str, lines: list[str]) -> None:
        import boto3

        logs = boto3.client("logs", region_name=REGION)
        group = "/aws/sagemaker/TrainingJobs"
        try:  # jobs are sent from several threads at once: the first one creates the group
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        stream = f"{job_name}/algo-1-1700000000"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
        events = [{"timestamp": now + i, "message": line}
                  for i, line in enumerate(lines) if line.strip()]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    # -- batch transform ---------------------------------------------------------------------
    def _transform(self, body: dict[str, Any]) -> None:
        import contextlib

        from tests.reference import batch_transform
        from tests.reference.knn import KnnServing
        from tests.reference.sklearn_container import SklearnServing, unpack
        from tests.reference.xgboost_container import XGBoostServing

        job = body["TransformJobName"]
        model = self.models[body["ModelName"]]["PrimaryContainer"]
        algorithm = algorithm_of(model["Image"])
        folder = self.work_dir / job
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.tar.gz").write_bytes(self._get(model["ModelDataUrl"]))
        model_dir = unpack(folder / "model.tar.gz", folder / "model")
        with contextlib.ExitStack() as stack:
            if algorithm == "xgboost":
                container: Any = XGBoostServing(model_dir)
            elif algorithm == "knn":
                container = KnnServing(model_dir)
            else:  # serving.py: SAGEMAKER_SUBMIT_DIRECTORY unpacked to the code folder
                environment = model["Environment"]
                (folder / "sourcedir.tar.gz").write_bytes(
                    self._get(environment["SAGEMAKER_SUBMIT_DIRECTORY"]))
                code = unpack(folder / "sourcedir.tar.gz", folder / "code")
                container = stack.enter_context(
                    SklearnServing(code, model_dir, environment["SAGEMAKER_PROGRAM"]))
            input_uri = body["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, prefix = split_s3(input_uri)
            output_bucket, output_prefix = split_s3(body["TransformOutput"]["S3OutputPath"])
            record = TransformedJob(algorithm, model_dir)
            inputs = folder / "input"
            base = prefix if prefix.endswith("/") else prefix.rsplit("/", 1)[0] + "/"
            for key in self._download_prefix(input_uri, inputs):
                data = (inputs / key[len(base):]).read_bytes()
                out_key = batch_transform.output_key(key, prefix, output_prefix)
                result = batch_transform.transform_object(data, body, container.invoke)
                self._put(f"s3://{output_bucket}/{out_key}", result)
                record.outputs[out_key] = result
        self.transformed[job] = record


def _tar_folder(folder: Path) -> bytes:
    """``/opt/ml/model`` as SageMaker uploads it: its files at the archive root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(folder).as_posix())
    return buffer.getvalue()


def record_sagemaker(store: Any, work_dir: Path, monkeypatch: Any) -> SageMakerTraffic:
    """Record (and emulate) every SageMaker client the backend creates from now on."""
    recorder = SageMakerTraffic(store, work_dir)
    attach_to_sagemaker_clients(recorder, monkeypatch)
    return recorder


def attach_to_sagemaker_clients(recorder: Any, monkeypatch: Any) -> None:
    """``recorder.attach`` every SageMaker client the backend creates from now on."""
    from smlp.backends.sagemaker.session import AwsSession

    original = AwsSession.client

    def client(self: AwsSession, service: str) -> Any:
        made = original(self, service)
        if service == "sagemaker":
            recorder.attach(made)
        return made

    monkeypatch.setattr(AwsSession, "client", client)


def prepare_data(config: Any, store: Any) -> Any:
    """Synthetic data prepared into the S3 store; returns the DataRecord."""
    from smlp.stages.data import generate

    return generate(sagemaker_config(config), store)


def snapshot_bucket(client: Any, bucket: str = BUCKET) -> list[tuple[str, bytes, dict[str, str]]]:
    """Every object of ``bucket`` with its user metadata (the sha256 smlp's S3 store checks),
    to put a store built once back into a later test's fresh moto bucket."""
    keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket) for item in page.get("Contents", [])]
    objects = []
    for key in keys:
        reply = client.get_object(Bucket=bucket, Key=key)
        objects.append((key, reply["Body"].read(), reply.get("Metadata", {})))
    return objects


def restore_bucket(client: Any, objects: list[tuple[str, bytes, dict[str, str]]],
                   bucket: str = BUCKET) -> None:
    for key, body, metadata in objects:
        client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)


def build_in_moto(folder: Path, build: Any) -> tuple[Any, list[tuple[str, bytes, dict[str, str]]]]:
    """Run ``build(store)`` once, in ``folder``, against its own moto S3 bucket (as
    ``make_store("s3")`` makes it); what it returned and the bucket's objects (see
    snapshot_bucket)."""
    import boto3
    import pytest
    from moto import mock_aws

    from smlp.store import S3Store

    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.setattr(boto3, "DEFAULT_SESSION", None)
        patch.chdir(folder)
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        built = build(S3Store(STORE, client=client))
        return built, snapshot_bucket(client)
