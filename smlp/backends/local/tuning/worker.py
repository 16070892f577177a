"""A tuning worker: one process that runs trials one after another, in-process.

Each trial is a real training job under SageMaker's contract: its own ``/opt/ml``-shaped folder,
string hyperparameters, the same entry point as ``smlp train``, its log with tabs shown as
``#011`` and metrics read by the same regexes, a ``model.tar.gz``. What is saved is a new
interpreter per trial: the worker imports the entry point once and parses the channel files
once (``_sm_io.cache_parsed_files``). Trials run single-threaded, so workers scale with cores.

The parent talks to a worker over a pipe: ``("trial", TrialTask)`` in; ``("ready", None)``,
``("metric", (trial, step, value, running average))`` and ``("done", TrialOutcome)`` out;
``("stop", (trial, reason))`` in while a trial runs, which stops it at its next log line.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from smlp.backends.base import JobStatusName, TrainingJobSpec

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
POLL_SECONDS = 0.05  # how often a running trial looks for a stop request
# Trials' models are gzipped fast: level 6 costs ~8% of a one-second XGBoost trial.
TRIAL_COMPRESSION = 1
SAGEMAKER_OWN = ("sagemaker_", "_tuning_objective_metric")


@dataclass(frozen=True)
class WorkerSetup:
    """What every trial of one tuning job shares."""

    algorithm: str
    metrics: tuple[tuple[str, str], ...]  # (name, regex) as in MetricDefinitions
    objective: str
    report_every: int  # send every n-th objective value to the parent; 0: none
    channels: dict[str, str]  # staged channel folders, parsed once when the worker starts
    log_dir: str  # the worker's own output (anything native code prints) goes here
    threads: int = 1


@dataclass(frozen=True)
class TrialTask:
    job: TrainingJobSpec  # channels point at the staged folders
    job_dir: str
    deadline: float | None = None  # time.time() at which the trial is stopped
    deadline_reason: str = "MaxRuntimeExceeded"  # its failure reason then


@dataclass
class TrialOutcome:
    name: str
    status: JobStatusName
    final_metrics: dict[str, float] = field(default_factory=dict)
    failure_reason: str | None = None
    model_path: str | None = None
    seconds: float = 0.0  # the whole job in the worker
    fit_seconds: float = 0.0  # the entry point's run


class TrialStopped(BaseException):
    """Raised from the log writer to stop a trial; a BaseException so that the entry point's
    ``except Exception`` (its failure reporting) lets it through."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def main(argv: list[str]) -> int:
    """``python -m smlp.backends.local.tuning.worker FD INDEX``: FD is the socket to the
    parent, which sends the ``WorkerSetup`` first. Thread limits come in the environment, set
    before start."""
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops
    conn = Connection(int(argv[0]))
    try:
        setup = conn.recv()
    except (EOFError, OSError):
        return 0
    serve(conn, setup)
    return 0


def serve(conn: Connection, setup: WorkerSetup) -> None:
    """Set up once, then run trials until the parent says stop or goes away."""
    runner = TrialRunner(setup, conn)
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, payload = message
        if kind == "trial":
            conn.send(("done", runner.run(payload)))
        # a "stop" for a trial that has already finished needs nothing


class TrialRunner:
    """Runs trials of one algorithm in this process."""

    def __init__(self, setup: WorkerSetup, conn: Connection) -> None:
        from smlp.algorithms import get_algorithm
        from smlp.algorithms.entry_points import load_script

        self.setup = setup
        self.conn = conn
        self.spec = get_algorithm(setup.algorithm)
        self.module = load_script(setup.algorithm)
        import _sm_io  # importable once load_script has put the scripts' folder on sys.path

        self.sm_io: Any = _sm_io
        _sm_io.cache_parsed_files()
        for channel, folder in setup.channels.items():
            try:  # parse once now; a bad file fails each trial with the job's own message
                _sm_io.read_channel(channel, required=False, folder=folder)
            except _sm_io.JobError:
                pass
        self.patterns = [(name, _matcher(regex)) for name, regex in setup.metrics]
        loader = getattr(self.module, "_import_xgboost", None)
        if loader is not None:  # the import the first trial would otherwise pay for
            loader()

    def run(self, task: TrialTask) -> TrialOutcome:
        from smlp.backends.local.jobs import (
            job_environment,
            lay_out,
            link_files,
            tar_model,
            write_status,
        )

        started = time.perf_counter()
        job, job_dir = task.job, Path(task.job_dir)
        if job_dir.exists():
            shutil.rmtree(job_dir)
        write_status(job_dir, "InProgress")
        lay_out(job, job_dir, link_files)
        env = job_environment(job, job_dir)
        env["SM_NUM_CPUS"] = str(self.setup.threads)
        log = LogCapture(job_dir / "logs.txt", self.patterns, self.setup.objective,
                         self.setup.report_every, self.conn, job.name, task.deadline,
                         task.deadline_reason)
        saved_env = dict(os.environ)
        saved_streams = sys.stdout, sys.stderr
        os.environ.update(env)
        sys.stdout = sys.stderr = log
        fit_started = time.perf_counter()
        stopped: str | None = None
        try:
            code = self.sm_io.run_job(self._entry(job))
        except TrialStopped as exc:
            code, stopped = 1, exc.reason
        finally:
            fit_seconds = time.perf_counter() - fit_started
            sys.stdout, sys.stderr = saved_streams
            os.environ.clear()
            os.environ.update(saved_env)
            log.close()
        outcome = TrialOutcome(job.name, "Completed", dict(log.final), fit_seconds=fit_seconds)
        if stopped is not None:
            outcome.status, outcome.failure_reason = "Stopped", stopped
        elif code != 0:
            failure = job_dir / "output" / "failure"
            reason = failure.read_text().strip() if failure.exists() else log.last_line
            if not reason.startswith("AlgorithmError"):
                reason = f"AlgorithmError: {reason}"
            outcome.status, outcome.failure_reason = "Failed", reason
        elif self.setup.objective not in log.final:
            outcome.status = "Failed"
            outcome.failure_reason = (f"AlgorithmError: the job emitted no {self.setup.objective} "
                                      "metric, the tuning objective")
        else:
            outcome.model_path = str(tar_model(job_dir, TRIAL_COMPRESSION))
        write_status(job_dir, outcome.status, outcome.failure_reason)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _entry(self, job: TrainingJobSpec) -> Any:
        if not self.spec.script_mode:
            return self.module.train
        # The training toolkit passes user hyperparameters only: SageMaker's own (``sagemaker_*``
        # and ``_tuning_objective_metric``) stay in hyperparameters.json (sagemaker-training,
        # params.SAGEMAKER_HYPERPARAMETERS and environment.Environment).
        argv = [item for key, value in job.hyperparameters.items()
                if not key.startswith(SAGEMAKER_OWN)
                for item in (f"--{key}", value)]
        return lambda: self.module.train(argv)


def _matcher(regex: str) -> Any:
    """``search``, as SageMaker applies a metric regex; ``match`` where the regex starts with
    ``.*`` (the same result, without retrying at every position of a line that fails)."""
    pattern = re.compile(regex)
    return pattern.match if regex.startswith(".*") else pattern.search


class LogCapture(io.TextIOBase):
    """The trial's stdout/stderr: lines as CloudWatch shows them, metrics as SageMaker reads them.

    Every line is also where a trial can be stopped: when the parent asked (early stopping,
    Hyperband) or when its time is up (its max runtime, or the tuning job's budget). A trial
    that prints nothing is stopped by the parent, which kills and replaces its worker.
    """

    def __init__(self, path: Path, patterns: list[tuple[str, Any]], objective: str,
                 report_every: int, conn: Connection, name: str,
                 deadline: float | None, deadline_reason: str = "MaxRuntimeExceeded") -> None:
        from smlp.backends.local.jobs import cloudwatch_line

        self._render = cloudwatch_line
        self._file = open(path, "w", encoding="utf-8")  # closed by close()
        self._patterns = patterns
        self._objective = objective
        self._every = report_every
        self._conn = conn
        self._name = name
        self._deadline = deadline
        self._deadline_reason = deadline_reason
        self._pending = ""
        self._next_poll = 0.0
        self.final: dict[str, float] = {}
        self.steps = 0
        self._total = 0.0
        self.last_line = "the job exited with an error and wrote no failure reason"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._line(line)
                self._check()
        return len(text)

    def _line(self, raw: str) -> None:
        line = self._render(raw.rstrip("\r"))
        self._file.write(line + "\n")
        if line.strip():
            self.last_line = line
        for name, find in self._patterns:
            match = find(line)
            if match is None:
                continue
            value = float(match.group(1))
            self.final[name] = value
            if name == self._objective:
                self.steps += 1
                self._total += value
                if self._every and self.steps % self._every == 0:
                    average = self._total / self.steps  # over every round (the median rule's)
                    self._conn.send(("metric", (self._name, self.steps, value, average)))
                    self._next_poll = 0.0  # the answer may be a stop: look at the next line

    def _check(self) -> None:
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + POLL_SECONDS
        if self._deadline is not None and time.time() > self._deadline:
            raise TrialStopped(self._deadline_reason)
        try:
            while self._conn.poll():
                kind, payload = self._conn.recv()
                if kind == "stop" and payload[0] == self._name:
                    raise TrialStopped(payload[1])
        except (EOFError, OSError):
            raise TrialStopped("Stopped: the tuning job went away") from None

    def close(self) -> None:
        if self._pending:
            self._line(self._pending)
            self._pending = ""
        if not self._file.closed:
            self._file.close()
        super().close()


if __name__ == "__main__":
    # Run as the importable module, so that what is pickled names this module's classes
    # (smlp.backends.local.tuning.worker), not __main__'s.
    from smlp.backends.local.tuning.worker import main as _main

    sys.exit(_main(sys.argv[1:]))
