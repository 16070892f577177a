"""Helpers for the SageMaker backend tests: a recorder of what SageMaker receives (decoded from
the HTTP bodies botocore sends) and a stand-in for SageMaker's containers.

moto's jobs complete at once and write nothing. The stand-in fills that gap with the local
backend: on CreateTrainingJob it trains the same algorithm on the same S3 channels and puts the
model.tar.gz where moto says the job wrote it (and the job's log lines into CloudWatch Logs);
on CreateTransformJob it runs the request's model over the request's input with the request's
DataProcessing and writes ``<input>.out`` where SageMaker would, in the requested format.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
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


class SageMakerTraffic:
    """Records every SageMaker request body; optionally plays SageMaker's containers."""

    def __init__(self, store: Any, work_dir: Path, emulate: bool = True) -> None:
        self.store = store
        self.work_dir = work_dir
        self.emulate = emulate
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.models: dict[str, dict[str, Any]] = {}
        self.trained: dict[str, Any] = {}
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

    # -- the stand-in containers -------------------------------------------------------------
    def _local(self) -> Any:
        from smlp.backends.local import LocalBackend
        from smlp.config import LocalBackendConfig

        config = SimpleNamespace(backend=LocalBackendConfig(work_dir=str(self.work_dir / "jobs")))
        return LocalBackend(config, self.store)

    def _train(self, body: dict[str, Any]) -> None:
        from smlp.backends.base import TrainingJobSpec

        algorithm = algorithm_of(body["AlgorithmSpecification"]["TrainingImage"])
        hyperparameters = dict(body["HyperParameters"])
        if "sagemaker_program" in hyperparameters:  # what the training toolkit does
            hyperparameters = {k: str(_json_or_raw(v)) for k, v in hyperparameters.items()
                               if not k.startswith("sagemaker_")}
        job = TrainingJobSpec(
            name=body["TrainingJobName"], algorithm=algorithm, hyperparameters=hyperparameters,
            channels={c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"].rstrip("/")
                      for c in body["InputDataConfig"]},
            output_uri=body["OutputDataConfig"]["S3OutputPath"], container_version="",
        )
        result = self._local().train(job)
        assert result.status == "Completed", result.failure_reason
        self.trained[job.name] = result
        self._publish_log(job.name, Path(result.log_uri).read_text().splitlines())

    def _publish_log(self, job_name: str, lines: list[str]) -> None:
        import boto3

        logs = boto3.client("logs", region_name=REGION)
        group = "/aws/sagemaker/TrainingJobs"
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        stream = f"{job_name}/algo-1-1700000000"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": now + i, "message": line} for i, line in enumerate(lines)
        ])

    def _transform(self, body: dict[str, Any]) -> None:
        from smlp.backends.base import TransformJobSpec
        from smlp.batch.jsonpath import parse_path
        from smlp.config import TransformConfig

        model = self.models[body["ModelName"]]["PrimaryContainer"]
        processing = body.get("DataProcessing", {})
        input_uri = body["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        first_key = self.store.list(self.store.key(input_uri))[0]
        first_line = self.store.read_bytes(first_key).split(b"\n", 1)[0].decode()
        width = len(first_line.split(","))
        n_features = len(parse_path(processing.get("InputFilter"), "filter").resolve(width))
        options = TransformConfig(input_filter=processing.get("InputFilter"),
                                  join_source=processing.get("JoinSource"),
                                  output_filter=processing.get("OutputFilter"))
        output = body["TransformOutput"]["S3OutputPath"]
        job = TransformJobSpec(
            name=body["TransformJobName"], algorithm=algorithm_of(model["Image"]),
            model_uri=model["ModelDataUrl"], container_version="", input_uri=input_uri,
            output_uri=output, n_features=n_features, options=options,
        )
        result = self._local().transform(job)
        if body["TransformOutput"]["Accept"] == "application/jsonlines":
            for uri in result.outputs:
                key = self.store.key(uri)
                lines = self.store.read_bytes(key).decode().splitlines()
                self.store.write_bytes(key, "".join(
                    json.dumps({"predicted_label": float(line)}) + "\n" for line in lines
                ).encode())


def _json_or_raw(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def record_sagemaker(store: Any, work_dir: Path, monkeypatch: Any) -> SageMakerTraffic:
    """Record (and emulate) every SageMaker client the backend creates from now on."""
    from smlp.backends.sagemaker.session import AwsSession

    recorder = SageMakerTraffic(store, work_dir)
    original = AwsSession.client

    def client(self: AwsSession, service: str) -> Any:
        made = original(self, service)
        if service == "sagemaker":
            recorder.attach(made)
        return made

    monkeypatch.setattr(AwsSession, "client", client)
    return recorder


def prepare_data(config: Any, store: Any) -> Any:
    """Synthetic data prepared into the S3 store; returns the DataRecord."""
    from smlp.stages.data import generate

    return generate(sagemaker_config(config), store)
