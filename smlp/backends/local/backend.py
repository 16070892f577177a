"""The local backend: SageMaker's job contract on this machine, without containers.

Each training job gets a folder laid out like ``/opt/ml`` (channels, string hyperparameters,
``model/``, ``output/failure``), runs the same entry point from ``training_scripts/`` in a
subprocess, has its log captured with tabs shown as ``#011`` (as CloudWatch shows them), and
its metrics extracted by the same regexes SageMaker applies. The model is tarred into
``<output>/<job>/output/model.tar.gz`` exactly as SageMaker lays it out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from smlp.algorithms import get_algorithm
from smlp.algorithms.entry_points import load_predictor, script_path
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
from smlp.backends.local.jobs import (
    STATUS_FILE,
    RoundProgress,
    cloudwatch_line,
    job_environment,
    last_log_line,
    lay_out,
    link_files,
    script_arguments,
    tar_model,
    write_status,
)
from smlp.backends.local.model_cache import (
    PICKLED_MODELS,
    cache_intact,
    expected_model_file,
    extract_model,
    require_safe_tar,
)
from smlp.errors import BackendError, IntegrityError, StoreError
from smlp.events import Event, EventSink, ignore
from smlp.fileio import sha256_file, temp_path_for
from smlp.store import Store

# Between SIGTERM and SIGKILL when a job reaches MaxRuntimeInSeconds (AWS API reference,
# StoppingCondition: "delays job termination for 120 seconds").
STOP_GRACE_SECONDS = 120.0


class _Deadline:
    """MaxRuntimeInSeconds kept by a timer, as SageMaker keeps it whether or not a job prints.

    At the limit the job gets SIGTERM, then SIGKILL if it is still running ``grace`` seconds
    later (SageMaker's StoppingCondition: SIGTERM, then 120 s to save the model).
    """

    def __init__(self, process: subprocess.Popen[str], seconds: float, grace: float) -> None:
        self.expired = False
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(process, seconds, grace),
                                        name="smlp-max-runtime", daemon=True)
        self._thread.start()

    def _watch(self, process: subprocess.Popen[str], seconds: float, grace: float) -> None:
        if self._ended.wait(seconds) or process.poll() is not None:
            return  # ended in time
        self.expired = True
        process.terminate()
        if not self._ended.wait(grace):
            process.kill()

    def close(self) -> None:
        """The job has ended (or its caller gave up on it): stop watching."""
        self._ended.set()
        self._thread.join()


class LocalBackend:
    name = "local"
    stop_grace_seconds: float = STOP_GRACE_SECONDS

    def __init__(self, config: Any, store: Store) -> None:
        self.work_dir = Path(config.backend.work_dir).expanduser().resolve()
        self.max_parallel_jobs = config.backend.max_parallel_jobs
        self.store = store

    # -- training ---------------------------------------------------------------------------
    def preflight(self, jobs: Iterable[TrainingJobSpec | TuningJobSpec]) -> None:
        """Refuse, before the first job starts, data this machine's memory cannot train on
        (``capacity``), naming the size it would need and the SageMaker command instead."""
        from smlp.backends.local.capacity import check

        for job in jobs:
            training = job.training if isinstance(job, TuningJobSpec) else job
            check(training.algorithm, training.channels)

    def train(self, job: TrainingJobSpec, events: EventSink = ignore) -> TrainingResult:
        spec = get_algorithm(job.algorithm)
        job_dir = self.work_dir / job.name
        if job_dir.exists():
            shutil.rmtree(job_dir)
        started = time.perf_counter()
        self._write_status(job_dir, "InProgress")
        events(Event("job", f"{job.name}: InProgress", {"job": job.name, "status": "InProgress"}))
        for channel in spec.required_channels:
            if channel not in job.channels:
                return self._fail(job, job_dir, started, f"ClientError: channel {channel!r} is "
                                  f"required by {spec.name}", events)
        self._lay_out(job, job_dir)
        log_path = job_dir / "logs.txt"
        patterns = [(m.name, re.compile(m.regex)) for m in spec.metrics]
        series: dict[str, list[float]] = {}
        try:
            returncode = self._run(self._command(job), job, job_dir, log_path, patterns, series,
                                   events)
        except subprocess.TimeoutExpired:
            # SageMaker's outcome: status Stopped, secondary status MaxRuntimeExceeded.
            return self._fail(job, job_dir, started, "MaxRuntimeExceeded: the job ran longer "
                              f"than its MaxRuntimeInSeconds ({job.max_runtime_seconds} s)",
                              events, series, log_path, status="Stopped")
        if returncode != 0:
            failure = job_dir / "output" / "failure"
            reason = failure.read_text().strip() if failure.exists() else last_log_line(log_path)
            return self._fail(job, job_dir, started, f"AlgorithmError: {reason}", events,
                              series, log_path)
        model_uri, model_sha256 = self._package_model(job, job_dir)
        # A metric's final value is the last one logged, as SageMaker reports it ("the latest
        # objective metric emitted"), even when early stopping kept an earlier round's model.
        result = TrainingResult(
            name=job.name, status="Completed", model_uri=model_uri, model_sha256=model_sha256,
            final_metrics={name: values[-1] for name, values in series.items()},
            metric_series=series, seconds=time.perf_counter() - started,
            log_uri=str(log_path),
        )
        self._write_status(job_dir, "Completed")
        events(Event("job", f"{job.name}: Completed", {"job": job.name, "status": "Completed"}))
        return result

    def _lay_out(self, job: TrainingJobSpec, job_dir: Path) -> None:
        lay_out(job, job_dir, self._fetch_folder)

    def _fetch_folder(self, uri: str, target: Path) -> None:
        """Bring every file under a channel URI into the job's channel folder."""
        if uri.startswith("s3://"):
            prefix = self.store.key(uri)
            keys = self.store.list(prefix)
            for key in keys:
                self.store.download(key, target / Path(key).name)
        else:
            link_files(uri, target)
        if not any(target.iterdir()):
            raise StoreError(f"{uri}: no data files for the channel")

    def _command(self, job: TrainingJobSpec) -> list[str]:
        spec = get_algorithm(job.algorithm)
        command = [sys.executable, str(script_path(spec.name))]
        return command + script_arguments(job.hyperparameters) if spec.script_mode else command

    def _run(self, command: list[str], job: TrainingJobSpec, job_dir: Path, log_path: Path,
             patterns: list[tuple[str, re.Pattern[str]]], series: dict[str, list[float]],
             events: EventSink) -> int:
        """Run the entry point, logging and reading metrics line by line; raise TimeoutExpired
        if it outlived ``max_runtime_seconds``, printing or not."""
        env = self._environment(job, job_dir)
        with open(log_path, "w", encoding="utf-8") as log, subprocess.Popen(
            command, cwd=job_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1,
        ) as process:
            assert process.stdout is not None
            deadline = _Deadline(process, job.max_runtime_seconds, self.stop_grace_seconds)
            rounds = RoundProgress(job)
            try:
                for raw in process.stdout:
                    line = cloudwatch_line(raw.rstrip("\n"))
                    log.write(line + "\n")
                    for name, pattern in patterns:
                        match = pattern.search(line)  # SageMaker finds a metric anywhere in it
                        if match:
                            series.setdefault(name, []).append(float(match.group(1)))
                    events(Event("log", line, {"job": job.name, "raw": raw.rstrip("\n")}))
                    rounds(line, events)
                returncode = process.wait()
            except BaseException:
                process.kill()  # smlp gave up on the job: it must not run on
                raise
            finally:
                deadline.close()
        if deadline.expired:
            raise subprocess.TimeoutExpired(command, job.max_runtime_seconds)
        return returncode

    def _environment(self, job: TrainingJobSpec, job_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(job_environment(job, job_dir))
        if self.max_parallel_jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
            # Jobs side by side share the cores; oversubscribed OpenMP threads spin and crawl.
            share = max(1, (os.cpu_count() or 1) // self.max_parallel_jobs)
            env["OMP_NUM_THREADS"] = str(share)
        return env

    def _package_model(self, job: TrainingJobSpec, job_dir: Path) -> tuple[str, str]:
        return self.publish_model(job, tar_model(job_dir))

    def publish_model(self, job: TrainingJobSpec, tar_path: Path,
                      link: bool = False) -> tuple[str, str]:
        """Put a job's model.tar.gz where SageMaker would: ``<output>/<job>/output/``.

        ``link``: hard-link into a local store instead of copying (tuning trials, many models).
        """
        uri = f"{job.output_uri.rstrip('/')}/{job.name}/output/model.tar.gz"
        return self._publish(tar_path, uri, link), sha256_file(tar_path)

    def _publish(self, local: Path, uri: str, link: bool = False) -> str:
        if uri.startswith("s3://"):
            self.store.upload(local, self.store.key(uri))
        else:
            target = Path(uri)
            if link and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    target.hardlink_to(local)
                    return uri
                except OSError:
                    pass  # another file system: copy
            tmp = temp_path_for(target)
            shutil.copyfile(local, tmp)
            tmp.replace(target)
        return uri

    def _fail(self, job: TrainingJobSpec, job_dir: Path, started: float, reason: str,
              events: EventSink, series: dict[str, list[float]] | None = None,
              log_path: Path | None = None,
              status: Literal["Failed", "Stopped"] = "Failed") -> TrainingResult:
        self._write_status(job_dir, status, reason)
        events(Event("job", f"{job.name}: {status}", {"job": job.name, "status": status}))
        return TrainingResult(
            name=job.name, status=status, failure_reason=reason,
            metric_series=series or {}, seconds=time.perf_counter() - started,
            log_uri=str(log_path) if log_path else None,
        )

    def _write_status(self, job_dir: Path, status: str, reason: str | None = None) -> None:
        write_status(job_dir, status, reason)

    def describe(self, job_name: str) -> JobStatus:
        status_file = self.work_dir / job_name / STATUS_FILE
        if not status_file.exists():
            raise BackendError(f"job {job_name} not found under {self.work_dir}")
        data = json.loads(status_file.read_text())
        return JobStatus(job_name, data["status"], data.get("failure_reason"))

    # -- hyperparameter tuning --------------------------------------------------------------
    def tune(self, job: TuningJobSpec, events: EventSink = ignore) -> TuningResult:
        """Trials in worker processes, searched with optuna (see ``smlp.backends.local.tuning``)."""
        from smlp.backends.local.tuning.search import run_search

        return run_search(self, job, events)

    # -- batch transform --------------------------------------------------------------------
    def transform(self, job: TransformJobSpec, events: EventSink = ignore) -> TransformResult:
        from smlp.batch import batch_options, run_batch

        started = time.perf_counter()
        self._write_status(self.work_dir / job.name, "InProgress")
        model_dir = self.model_dir(job.model_uri, job.model_sha256, job.algorithm)
        predict = load_predictor(job.algorithm, model_dir)
        input_path = self._local_input(job.input_uri, job.name)
        remote_output = job.output_uri.startswith("s3://")
        output_dir = self.work_dir / job.name / "output" if remote_output else Path(
            job.output_uri)

        def progress(done: int, total: int) -> None:
            events(Event("progress", "", {"task": job.name, "done": done, "total": total}))

        try:
            result = run_batch(input_path, output_dir, predict, job.n_features,
                               batch_options(job.options, job.schema), encoder=job.schema,
                               on_progress=progress)
        except BaseException as exc:
            self._write_status(self.work_dir / job.name, "Failed", str(exc))
            raise
        outputs = []
        for _, out_path, _ in result.files:
            uri = f"{job.output_uri.rstrip('/')}/{out_path.name}"
            if remote_output:
                self.store.upload(out_path, self.store.key(uri))
            outputs.append(uri if remote_output else str(out_path))
        self._write_status(self.work_dir / job.name, "Completed")
        return TransformResult(
            name=job.name, status="Completed", output_uri=job.output_uri, outputs=outputs,
            rows=result.rows, seconds=time.perf_counter() - started,
            batch_seconds=result.seconds, unseen_categories=result.unseen,
        )

    def model_dir(self, model_uri: str, expected_sha256: str | None = None,
                  algorithm: str | None = None) -> Path:
        """Unpack a model.tar.gz once into a cache keyed by its (verified) content hash.

        The archive must come from the store and match the manifest's sha256 (a pickle runs
        code when loaded); the cached files are re-hashed on every use and unpacked again if
        any was changed; ``algorithm``'s entry point names the file the archive must hold.
        """
        require_safe_tar()
        if algorithm in PICKLED_MODELS and not expected_sha256:
            raise IntegrityError(f"{model_uri}: a {algorithm} model is a pickle (loading it runs "
                                 "code) and the manifest records no sha256 for it; refusing to "
                                 "load it (re-run `smlp train`)")
        key = self.store.key(model_uri)  # StoreError for a model outside the store
        if model_uri.startswith("s3://"):
            archive = self.work_dir / "_downloads" / "model.tar.gz"
            self.store.download(key, archive)
        else:
            archive = Path(model_uri)
        try:
            digest = sha256_file(archive)
        except OSError as exc:
            raise StoreError(f"{model_uri}: cannot read model ({exc.strerror})") from None
        if expected_sha256 is not None and digest != expected_sha256:
            raise IntegrityError(
                f"{model_uri}: sha256 {digest[:12]}… does not match the manifest's "
                f"{expected_sha256[:12]}…; the model was changed after training (re-run "
                "`smlp train`)"
            )
        model_file = expected_model_file(algorithm)
        target = self.work_dir.parent / "models" / digest[:16]
        if target.exists() and cache_intact(target):
            return target
        fresh = extract_model(archive, model_uri, target.parent)
        try:
            if model_file and not (fresh / model_file).is_file():
                raise IntegrityError(f"{model_uri}: the archive holds no {model_file}, the file "
                                     f"a {algorithm} model is loaded from")
            shutil.rmtree(target, ignore_errors=True)  # a changed cache is replaced whole
            try:
                fresh.replace(target)
            except OSError:  # another process unpacked it meanwhile
                if not cache_intact(target):
                    raise
                shutil.rmtree(fresh, ignore_errors=True)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        return target

    def _local_input(self, uri: str, job_name: str) -> Path:
        if not uri.startswith("s3://"):
            return Path(uri)
        folder = self.work_dir / job_name / "input"
        keys = self.store.list(self.store.key(uri))
        for key in keys:
            self.store.download(key, folder / Path(key).name)
        return folder

    # -- real-time endpoints (smlp.serving) -------------------------------------------------
    def deploy(self, spec: EndpointSpec, events: EventSink = ignore) -> EndpointInfo:
        """Serve in the foreground until Ctrl-C: SageMaker's container contract, locally."""
        from smlp.serving.local import serve

        return serve(self, spec, events)

    def list_endpoints(self) -> list[EndpointInfo]:
        from smlp.serving.local import list_endpoints

        return list_endpoints(self)

    def describe_endpoint(self, name: str) -> EndpointInfo:
        from smlp.serving.local import describe_endpoint

        return describe_endpoint(self, name)

    def update_endpoint_weights(self, name: str, weights: dict[str, float]) -> EndpointInfo:
        from smlp.serving.local import update_weights

        return update_weights(self, name, weights)

    def delete_endpoint(self, name: str) -> list[str]:
        from smlp.serving.local import delete_endpoint

        return delete_endpoint(self, name)

    def endpoint_invoker(self, name: str) -> Any:
        """Sends requests to the running local endpoint ``name`` (see smlp.serving.client)."""
        from smlp.serving.local import invoker

        return invoker(self, name)
