"""Hyperparameter tuning on SageMaker: one CreateHyperParameterTuningJob, then its trials.

The trials come from ListTrainingJobsForHyperParameterTuningJob. Endpoints without that call
(moto, some emulators) still give the best trial through DescribeHyperParameterTuningJob's
``BestTrainingJob``, so a missing list API costs the trial table, not the result.
"""

from __future__ import annotations

import time
from typing import Any

from smlp.algorithms import get_algorithm
from smlp.backends.base import TrialResult, TuningJobSpec, TuningResult
from smlp.backends.sagemaker import requests as rq
from smlp.backends.sagemaker import rules
from smlp.backends.sagemaker.common import Backend, image_uri
from smlp.errors import AwsError
from smlp.events import Event, EventSink


def run(backend: Backend, job: TuningJobSpec, events: EventSink) -> TuningResult:
    spec = get_algorithm(job.training.algorithm)
    settings = backend.prepare()
    image = image_uri(spec, backend.region, job.training.container_version)
    sourcedir = backend.sourcedir() if spec.script_mode else None
    request = rq.tuning_job_request(job, spec, image, settings, sourcedir)
    name = request["HyperParameterTuningJobName"]
    if name != job.name:
        events(Event("info", f"tuning job {job.name} is named {name} on SageMaker "
                             f"(at most {rq.TUNING_NAME_MAX} characters)"))
    output = request["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"]
    _note_checkpoints(backend, spec, settings, name, events)
    backend.validate(("CreateHyperParameterTuningJob", request))
    if sourcedir is not None:
        backend.upload_sourcedir()
    started = time.monotonic()
    if not (job.resume and _exists(backend, name, events)):
        backend.send("CreateHyperParameterTuningJob", request)
    if backend.dry_run:
        backend.plan.note("tuning results in a dry run are placeholders: no trial runs, so "
                          "none is best; the tuned candidate the plan records has the static "
                          "hyperparameters")
        best = TrialResult(name=f"{name}-001-00000000", hyperparameters=dict(
            job.training.hyperparameters), status="Completed",
            model_uri=f"{output}/{name}-001-00000000/output/model.tar.gz")
        return TuningResult(name, "Completed", trials=[best], best=best)
    counters: dict[str, Any] = {}

    def progress(described: dict[str, Any]) -> None:
        current = described.get("TrainingJobStatusCounters", {})
        if current and current != counters:
            counters.clear()
            counters.update(current)
            failed = current.get("NonRetryableError", 0) + current.get("RetryableError", 0)
            events(Event("info", f"{name}: {current.get('Completed', 0)} trials completed, "
                                 f"{current.get('InProgress', 0)} running, {failed} failed "
                                 f"(of at most {job.max_jobs})"))

    described = backend.wait_for(
        "tuning", name,
        lambda: backend.call("DescribeHyperParameterTuningJob",
                             HyperParameterTuningJobName=name),
        events, on_progress=progress)
    static = dict(job.training.hyperparameters)
    best = _best(backend, described, static, spec.script_mode, output, events)
    trials = _trials(backend, name, static, spec.script_mode, output, events)
    if trials is None:
        trials = [best] if best is not None else []
    elif best is not None:
        trials = [best if t.name == best.name else t for t in trials]
    status = described["HyperParameterTuningJobStatus"]
    status = {"Stopping": "Stopped", "Deleting": "Stopped", "DeleteFailed": "Failed"}.get(
        status, status)
    return TuningResult(
        name=name, status=status, trials=trials, best=best,
        seconds=time.monotonic() - started,
        failure_reason=described.get("FailureReason") or None,
    )


def _note_checkpoints(backend: Backend, spec: Any, settings: rq.JobSettings,
                      name: str, events: EventSink) -> None:
    """Say why a spot tuning job of an algorithm that checkpoints gets no CheckpointConfig."""
    if not (rules.spot_enabled(settings, spec.name) and spec.supports_checkpoints):
        return
    text = (f"{name}: spot trials get no CheckpointConfig: SageMaker would give every trial "
            f"the same S3 path and {spec.name} resumes from any checkpoint it finds there; "
            "an interrupted trial starts again from the beginning")
    events(Event("info", text))
    if backend.dry_run:
        backend.plan.note(text)


def _exists(backend: Backend, name: str, events: EventSink) -> bool:
    try:
        backend.call("DescribeHyperParameterTuningJob", HyperParameterTuningJobName=name)
    except AwsError as exc:
        if exc.code in {"ResourceNotFound", "ValidationException"}:
            return False
        raise
    events(Event("info", f"resuming: waiting for the existing tuning job {name}"))
    return True


def _best(backend: Backend, described: dict[str, Any], static: dict[str, str],
          script_mode: bool, output: str, events: EventSink) -> TrialResult | None:
    summary = described.get("BestTrainingJob")
    if not summary:
        return None
    trial = _trial(summary, static, script_mode, output)
    try:
        job = backend.call("DescribeTrainingJob", TrainingJobName=trial.name)
    except AwsError as exc:
        events(Event("info", f"best trial {trial.name} could not be described ({exc.code}); "
                             "its model is assumed at the tuning job's output path"))
        return trial
    artifacts = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if artifacts:
        trial.model_uri = artifacts
    trial.final_metrics = {m["MetricName"]: float(m["Value"])
                           for m in job.get("FinalMetricDataList", [])}
    trial.seconds = float(job.get("TrainingTimeInSeconds") or trial.seconds)
    if trial.model_uri:
        trial.model_sha256 = backend.s3_sha256(trial.model_uri)
    return trial


def _trials(backend: Backend, name: str, static: dict[str, str], script_mode: bool,
            output: str, events: EventSink) -> list[TrialResult] | None:
    """Every trial, or None when the list cannot be had: the tuning job has finished and its
    best trial is known, so a missing trial table is reported, not fatal."""
    from botocore.exceptions import BotoCoreError, ClientError

    summaries: list[dict[str, Any]] = []
    try:
        paginator = backend.sagemaker.get_paginator(
            "list_training_jobs_for_hyper_parameter_tuning_job")
        for page in paginator.paginate(HyperParameterTuningJobName=name):
            summaries += page.get("TrainingJobSummaries", [])
    except NotImplementedError:  # moto in-process
        reason = "not implemented by this endpoint"
    except ClientError as exc:
        reason = str(exc.response.get("Error", {}).get("Code", "error"))
    except BotoCoreError as exc:
        reason = str(exc)
    else:
        return [_trial(s, static, script_mode, output) for s in summaries]
    events(Event("info", f"{name}: its trials could not be listed "
                         f"(ListTrainingJobsForHyperParameterTuningJob: {reason}); only the "
                         "best trial is reported"))
    return None


def _trial(summary: dict[str, Any], static: dict[str, str], script_mode: bool,
           output: str) -> TrialResult:
    name = summary["TrainingJobName"]
    status = summary.get("TrainingJobStatus", "Completed")
    status = {"Stopping": "Stopped"}.get(status, status)
    tuned = rq.decode_hyperparameters(summary.get("TunedHyperParameters", {}), script_mode)
    objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {})
    start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
    seconds = (end - start).total_seconds() if start and end else 0.0
    return TrialResult(
        name=name, hyperparameters={**static, **tuned}, status=status,
        objective=float(objective["Value"]) if "Value" in objective else None,
        final_metrics={objective["MetricName"]: float(objective["Value"])}
        if "Value" in objective and "MetricName" in objective else {},
        seconds=seconds,
        model_uri=f"{output}/{name}/output/model.tar.gz" if status == "Completed" else None,
        failure_reason=(summary.get("FailureReason") or None) if status != "Completed"
        else None,
    )
