"""The SageMaker backend: smlp's job specs as SageMaker jobs, through boto3.

Every request is built by :mod:`.requests` (pure), checked against botocore's service model,
then sent, or only recorded when ``backend.dry_run`` is on. Waiting, log streaming and Ctrl-C
live in :mod:`.waiter`; AWS errors are translated once, in :mod:`.session`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from smlp.algorithms import get_algorithm
from smlp.algorithms.spec import AlgorithmSpec
from smlp.backends.base import (
    EndpointInfo,
    EndpointSpec,
    JobStatus,
    TrainingJobSpec,
    TrainingResult,
    TransformJobSpec,
    TransformResult,
    TuningJobSpec,
    TuningResult,
)
from smlp.backends.sagemaker import requests as rq
from smlp.backends.sagemaker.common import failure_reason, image_uri
from smlp.backends.sagemaker.session import AwsSession, aws_errors, resolve_region
from smlp.backends.sagemaker.waiter import LOG_GROUPS, Backoff, LogTail, wait
from smlp.errors import ConfigError, SmlpError
from smlp.events import Event, EventSink, ignore

PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/set-backend.role_arn"
HASH_LIMIT = 64 << 20  # models up to this size get a sha256 in the manifest
STOP_CALLS = {"training": ("StopTrainingJob", "TrainingJobName", "stop-training-job"),
              "transform": ("StopTransformJob", "TransformJobName", "stop-transform-job"),
              "tuning": ("StopHyperParameterTuningJob", "HyperParameterTuningJobName",
                         "stop-hyper-parameter-tuning-job"),
              "processing": ("StopProcessingJob", "ProcessingJobName", "stop-processing-job")}
ConfirmStop = Callable[[str], bool]


class SageMakerBackend:
    name = "sagemaker"

    def __init__(self, config: Any, store: Any, *, session: AwsSession | None = None,
                 confirm_stop: ConfirmStop | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        settings = config.backend
        if settings.kind != "sagemaker":
            raise ConfigError(f"backend.kind is {settings.kind!r}, not 'sagemaker'")
        if not str(store.root).startswith("s3://"):
            raise ConfigError(f"store: the sagemaker backend keeps data, models and the "
                              f"manifest on S3, but the store is {store.root}; set "
                              "`store: s3://BUCKET/PREFIX` (see `smlp config init`)")
        region = resolve_region(settings.region)
        if region is None:
            raise ConfigError("no AWS region: set backend.region (`smlp config init --region`)"
                              " or AWS_DEFAULT_REGION")
        self.config = config
        self.settings = settings
        self.store = store
        self.region = region
        self.dry_run = bool(settings.dry_run)
        self.session = session or AwsSession(region, settings.max_attempts)
        self.confirm_stop = confirm_stop
        self._cancel = threading.Event()
        self.sleep = sleep or self._interruptible_sleep
        # Remote jobs cost no local CPU: wait for several at once (one at a time in a dry run,
        # so the plan lists requests in order).
        self.max_parallel_jobs = 1 if settings.dry_run else settings.max_parallel_jobs
        self._lock = threading.RLock()
        self.plan: Any = None
        if self.dry_run:
            from smlp.backends.sagemaker.dryrun import DryRunPlan
            from smlp.backends.sagemaker.pricing import Estimator

            self.plan = DryRunPlan(region, estimator=Estimator(
                region, settings.estimate_training_minutes, settings.estimate_transform_minutes,
                settings.use_spot))
        self._checked = False
        self._code: Any = None  # the packed training_scripts/
        self._code_uploaded = False
        self._connected = False
        self._job_settings: rq.JobSettings | None = None

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def sagemaker(self) -> Any:
        return self.session.client("sagemaker")

    def interrupt(self) -> None:
        """Make every wait in progress (in any thread) stop as if Ctrl-C had hit it.

        Jobs are waited for in worker threads when several run side by side, and only the
        main thread receives SIGINT: the CLI calls this from its SIGINT handler.
        """
        self._cancel.set()

    def _interruptible_sleep(self, seconds: float) -> None:
        if self._cancel.wait(seconds):
            raise KeyboardInterrupt

    def prepare(self) -> rq.JobSettings:
        """Checks made once, before any request is built: role and credentials (no network)."""
        with self._lock:
            if self._job_settings is None:
                self._job_settings = self._check()
            return self._job_settings

    def _check(self) -> rq.JobSettings:
        role = self.settings.role_arn
        if role is None and not self.dry_run:
            raise ConfigError("backend.role_arn is not set: SageMaker needs an execution role "
                              "to run jobs (`smlp infra outputs --write` or `smlp config init "
                              "--role-arn`)")
        if role is None:
            role = PLACEHOLDER_ROLE
            self.plan.note("backend.role_arn is not set: a placeholder is shown; a real run "
                           "stops with an error")
        if not self.dry_run:
            self.session.check_credentials()
        checkpoints = self.store.uri("checkpoints") if self.settings.use_spot else None
        modes = {name: section.input_mode for name, section in self.config.algorithms.items()}
        return rq.JobSettings.from_config(self.settings, self.region, role, checkpoints, modes)

    def preflight(self, jobs: Iterable[TrainingJobSpec | TuningJobSpec]) -> None:
        """Refuse what SageMaker would refuse in any of a command's jobs, before the first is
        sent: jobs run side by side, so a later job's error must not follow an earlier
        job's request (spot limits per algorithm, Hyperband, tuning objectives)."""
        from smlp.backends.sagemaker import rules

        settings = self.prepare()
        for job in jobs:
            if isinstance(job, TuningJobSpec):
                rules.check_tuning(job, get_algorithm(job.training.algorithm), settings)
            else:
                rules.check_training(job, get_algorithm(job.algorithm), settings)

    def validate(self, *requests: tuple[str, dict[str, Any]]) -> None:
        """Check requests against the service model: before any call, so nothing is half-done."""
        from smlp.backends.sagemaker.dryrun import validate_request

        for operation, params in requests:
            validate_request(operation, params)

    def connect(self) -> None:
        """The one check that needs the network: the store's bucket, in the jobs' region."""
        with self._lock:
            if not self._connected and not self.dry_run:
                self.session.check_bucket(self.store.bucket)
            self._connected = True

    def send(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Validate, then send a job request (or only record it, in a dry run)."""
        from botocore import xform_name

        self.validate((operation, params))
        if self.dry_run:
            self.plan.add(operation, params)
            return {}
        self.connect()
        with aws_errors(operation):
            return getattr(self.sagemaker, xform_name(operation))(**params)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Any call that is not a job request (describe, stop, delete), errors translated."""
        from botocore import xform_name

        with aws_errors(operation):
            return getattr(self.sagemaker, xform_name(operation))(**params)

    def sourcedir(self) -> str:
        """Where training_scripts/ lives on S3: named by its content hash, known before upload."""
        from smlp.backends.sagemaker.sourcedir import training_scripts

        with self._lock:
            if self._code is None:
                self._code = training_scripts()
            return self.store.uri(self._code.key)

    def upload_sourcedir(self) -> None:
        """Upload training_scripts/ unless the store has this content already (once per run)."""
        from smlp.backends.sagemaker.sourcedir import ensure_uploaded

        self.sourcedir()
        with self._lock:
            if not self._code_uploaded:
                self.connect()
                ensure_uploaded(self.store, self._code)
                self._code_uploaded = True

    def wait_for(self, kind: str, name: str, describe: Callable[[], dict[str, Any]],
                 events: EventSink, on_log: Callable[[str], None] | None = None,
                 on_progress: Callable[[dict[str, Any]], None] | None = None
                 ) -> dict[str, Any]:
        """Wait for a job to end; on Ctrl-C, offer to stop it before giving up the wait."""
        logs = None
        if self.settings.stream_logs and kind in LOG_GROUPS:
            logs = LogTail(self.session.client("logs"), LOG_GROUPS[kind], name)
        backoff = Backoff(self.settings.poll_seconds, self.settings.max_poll_seconds)
        try:
            return wait(describe, kind, name, events, backoff, self.sleep, logs, on_log,
                        on_progress)
        except KeyboardInterrupt:
            self._interrupted(kind, name, events)
            raise

    def _interrupted(self, kind: str, name: str, events: EventSink) -> None:
        """Ctrl-C while waiting: the job runs on in AWS unless the user asks to stop it."""
        operation, param, cli = STOP_CALLS[kind]
        with self._lock:  # one question at a time when several jobs were being waited for
            stop = self.confirm_stop is not None and self.confirm_stop(f"{kind} job {name}")
        if stop:
            try:
                self.call(operation, **{param: name})
            except SmlpError as exc:
                events(Event("info", f"{name}: could not stop it: {exc}"))
                return
            events(Event("info", f"{name}: stop requested; SageMaker stops it shortly"))
            return
        events(Event("info", f"{name} keeps running on SageMaker; stop it with "
                             f"`aws sagemaker {cli} --{_kebab(param)} {name}`"))

    def log_uri(self, kind: str, name: str) -> str:
        group = LOG_GROUPS[kind].replace("/", "$252F")
        return (f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region="
                f"{self.region}#logsV2:log-groups/log-group/{group}$3FlogStreamNameFilter$3D"
                f"{name}")

    def s3_sha256(self, uri: str) -> str | None:
        """sha256 of a (small) S3 object, streamed; None when absent or too big to bother."""
        import hashlib

        from botocore.exceptions import ClientError

        from smlp.backends.sagemaker.transform_io import split_s3

        bucket, key = split_s3(uri)
        s3 = self.session.client("s3")
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            if head.get("ContentLength", 0) > HASH_LIMIT:
                return head.get("Metadata", {}).get("sha256")
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError:
            return None
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(1 << 20):
            digest.update(chunk)
        return digest.hexdigest()

    # -- training -----------------------------------------------------------------------------
    def train(self, job: TrainingJobSpec, events: EventSink = ignore) -> TrainingResult:
        spec = get_algorithm(job.algorithm)
        missing = [c for c in spec.required_channels if c not in job.channels]
        if missing:
            return TrainingResult(job.name, "Failed", failure_reason=f"ClientError: channel "
                                  f"{missing[0]!r} is required by {spec.name}")
        settings = self.prepare()
        image = image_uri(spec, self.region, job.container_version)
        sourcedir = self.sourcedir() if spec.script_mode else None
        request = rq.training_job_request(job, spec, image, settings, sourcedir)
        self.validate(("CreateTrainingJob", request))
        self._check_shards(job, request, events)
        if sourcedir is not None:
            self.upload_sourcedir()
        started = time.monotonic()
        self.send("CreateTrainingJob", request)
        model_uri = f"{job.output_uri.rstrip('/')}/{job.name}/output/model.tar.gz"
        if self.dry_run:
            events(Event("info", f"dry run: CreateTrainingJob {job.name} not sent"))
            return TrainingResult(job.name, "Completed", model_uri=model_uri)
        series: dict[str, list[float]] = {}
        collect = _metric_collector(spec, series)
        described = self.wait_for(
            "training", job.name,
            lambda: self.call("DescribeTrainingJob", TrainingJobName=job.name),
            events, on_log=collect)
        return self._training_result(described, spec, series, started, model_uri)

    def _check_shards(self, job: TrainingJobSpec, request: dict[str, Any],
                      events: EventSink) -> None:
        """ShardedByS3Key hands out whole objects: a split with fewer files than instances
        leaves some instances idle (the XGBoost container trains without them)."""
        for channel in request["InputDataConfig"]:
            source = channel["DataSource"]["S3DataSource"]
            if source["S3DataDistributionType"] != "ShardedByS3Key":
                continue
            files = len(self.store.list(self.store.key(source["S3Uri"])))
            if files >= job.instance_count:
                if self.plan is not None:
                    low, high = files // job.instance_count, -(-files // job.instance_count)
                    share = f"{low}" if low == high else f"{low}-{high}"
                    self.plan.note(f"{job.name}: the {channel['ChannelName']} channel "
                                   f"{source['S3Uri']} holds {files} shards for "
                                   f"{job.instance_count} instances, ShardedByS3Key: {share} "
                                   "whole shard(s) per instance")
                continue
            # Data prepared before instance_count grew: prepare writes one train shard per
            # instance of the largest configured job (smlp.stages.data.min_shards).
            text = (f"warning: {job.name}: the {channel['ChannelName']} channel "
                    f"{source['S3Uri']} holds {files} file(s) for {job.instance_count} "
                    f"instances: ShardedByS3Key gives each instance whole files, so "
                    f"{job.instance_count - files} would get none and sit idle (billed); "
                    "re-run `smlp data` with this config to write one train shard per "
                    "instance")
            events(Event("info", text))
            if self.plan is not None:
                self.plan.note(text.removeprefix("warning: "))

    def _training_result(self, described: dict[str, Any], spec: AlgorithmSpec,
                         series: dict[str, list[float]], started: float,
                         model_uri: str) -> TrainingResult:
        name = described["TrainingJobName"]
        status = described["TrainingJobStatus"]
        declared = {m.name for m in spec.metrics}
        final = {name_: values[-1] for name_, values in series.items()}
        final.update({m["MetricName"]: float(m["Value"])
                      for m in described.get("FinalMetricDataList", [])
                      if m["MetricName"] in declared})
        result = TrainingResult(
            name=name, status=status, final_metrics=final, metric_series=series,
            seconds=float(described.get("TrainingTimeInSeconds")
                          or time.monotonic() - started),
            log_uri=self.log_uri("training", name),
        )
        if status == "Completed":
            result.model_uri = described.get("ModelArtifacts", {}).get("S3ModelArtifacts",
                                                                       model_uri)
            result.model_sha256 = self.s3_sha256(result.model_uri)
        else:
            result.failure_reason = failure_reason(described, status, "StopTrainingJob")
        return result

    # -- tuning -------------------------------------------------------------------------------
    def tune(self, job: TuningJobSpec, events: EventSink = ignore) -> TuningResult:
        from smlp.backends.sagemaker import tuning

        return tuning.run(self, job, events)

    # -- batch transform ----------------------------------------------------------------------
    def transform(self, job: TransformJobSpec, events: EventSink = ignore) -> TransformResult:
        from smlp.backends.sagemaker import transform

        return transform.run(self, job, events)

    # -- data preparation (SageMaker Processing) -------------------------------------------------
    def prepare_data(self, job: Any, events: EventSink = ignore) -> Any:
        """``smlp data prepare`` as Processing jobs (smlp.backends.sagemaker.processing)."""
        from smlp.backends.sagemaker import processing

        return processing.run(self, job, events)

    # -- status -------------------------------------------------------------------------------
    # -- real-time endpoints (smlp.backends.sagemaker.endpoints) --------------------------------
    def deploy(self, spec: EndpointSpec, events: EventSink = ignore) -> EndpointInfo:
        """CreateModel per variant, CreateEndpointConfig, CreateEndpoint; wait for InService."""
        from smlp.backends.sagemaker import endpoints

        return endpoints.deploy(self, spec, events)

    def list_endpoints(self) -> list[EndpointInfo]:
        from smlp.backends.sagemaker import endpoints

        return endpoints.list_endpoints(self)

    def describe_endpoint(self, name: str) -> EndpointInfo:
        from smlp.backends.sagemaker import endpoints

        return endpoints.describe_endpoint(self, name)

    def update_endpoint_weights(self, name: str, weights: dict[str, float]) -> EndpointInfo:
        from smlp.backends.sagemaker import endpoints

        return endpoints.update_weights(self, name, weights)

    def delete_endpoint(self, name: str) -> list[str]:
        from smlp.backends.sagemaker import endpoints

        return endpoints.delete_endpoint(self, name)

    def endpoint_invoker(self, name: str) -> Any:
        from smlp.backends.sagemaker import endpoints

        return endpoints.invoker(self, name)

    def describe(self, job_name: str) -> JobStatus:
        """Whatever kind of job ``job_name`` is: training, transform, tuning or processing."""
        from smlp.errors import AwsError, BackendError

        calls = (("DescribeTrainingJob", "TrainingJobName", "TrainingJobStatus"),
                 ("DescribeTransformJob", "TransformJobName", "TransformJobStatus"),
                 ("DescribeHyperParameterTuningJob", "HyperParameterTuningJobName",
                  "HyperParameterTuningJobStatus"),
                 ("DescribeProcessingJob", "ProcessingJobName", "ProcessingJobStatus"))
        for operation, param, key in calls:
            if operation == "DescribeHyperParameterTuningJob" and len(job_name) > 32:
                continue
            try:
                described = self.call(operation, **{param: job_name})
            except AwsError as exc:
                if exc.code in {"ValidationException", "ResourceNotFound"}:
                    continue
                raise
            status = described[key]
            status = {"Stopping": "InProgress", "Deleting": "Stopped",
                      "DeleteFailed": "Failed"}.get(status, status)
            return JobStatus(job_name, status, described.get("FailureReason") or None,
                             {"operation": operation, "secondary": described.get(
                                 "SecondaryStatus")})
        raise BackendError(f"no SageMaker job named {job_name} in {self.region}")

    def dry_run_report(self) -> dict[str, Any]:
        """The plan as JSON: requests, S3 writes, estimated cost and notes."""
        writes = getattr(self.store, "writes", None)
        return self.plan.to_json(writes)


def _metric_collector(spec: AlgorithmSpec, series: dict[str, list[float]]
                      ) -> Callable[[str], None]:
    """Metric values from log lines, with the regexes SageMaker applies to them (found
    anywhere in a line, as SageMaker does)."""
    patterns = [(m.name, re.compile(m.regex)) for m in spec.metrics]

    def collect(line: str) -> None:
        for name, pattern in patterns:
            match = pattern.search(line)
            if match:
                series.setdefault(name, []).append(float(match.group(1)))

    return collect


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
