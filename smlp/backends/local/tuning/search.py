"""The local tuning job: ask optuna for trials, run them on workers, tell optuna the results.

One parent process owns the study (the only writer of its journal); workers only train. Up to
``max_parallel_jobs`` trials run at once; early-stopping decisions are made here from the
per-round objective the workers report, and sent back to the worker running that trial.
"""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import optuna
from optuna.trial import TrialState

from smlp.algorithms import get_algorithm
from smlp.backends.base import TrainingJobSpec, TrialResult, TuningJobSpec, TuningResult
from smlp.backends.local.jobs import write_status
from smlp.backends.local.tuning import study as studies
from smlp.backends.local.tuning.pool import Message, WorkerPool
from smlp.backends.local.tuning.worker import TrialOutcome, TrialTask, WorkerSetup
from smlp.events import Event, EventSink
from smlp.tuning.space import SearchSpace
from smlp.tuning.strategies import RUNNING_AVERAGES, report_every

if TYPE_CHECKING:
    from smlp.store import Store


class JobHost(Protocol):
    """What the search needs of the local backend (LocalBackend), named here so that this
    module never imports the backend that starts it."""

    work_dir: Path
    store: Store

    def _fetch_folder(self, uri: str, target: Path) -> None: ...

    def publish_model(self, job: TrainingJobSpec, tar_path: Path,
                      link: bool = False) -> tuple[str, str]: ...

# SageMaker adds this hyperparameter to every trial of a tuning job (the objective's metric
# name, e.g. ``validation:mae``); the XGBoost container emits that metric and early-stops on it
# (sagemaker-xgboost-container, algorithm_mode/train.py and train_utils.py). The tuning request
# never sends it. Like SageMaker's TunedHyperParameters, smlp's trial records leave it out: it
# is the tuning job's setting, not the model's, and `smlp train --hp` would not accept it.
TUNING_OBJECTIVE = "_tuning_objective_metric"
PRUNED = "Stopped early: its best objective so far is worse than the median of earlier trials"
HYPERBAND = "Stopped by Hyperband at a rung where it was not among the best"
BUDGET = "MaxRuntimeExceeded: the tuning job's time budget ran out"
# A trial asked to stop ends at its next log line; one that prints nothing for this long after
# the request (hung, or inside one long native call) has its worker killed and replaced.
# SageMaker allows 120 s after SIGTERM; locally nothing is saved from a stopped trial.
KILL_GRACE_SECONDS = 2.0


@dataclass
class _Running:
    trial: optuna.trial.Trial
    job: Any  # TrainingJobSpec: what the trial runs with, _tuning_objective_metric included
    hyperparameters: dict[str, str]  # what is recorded: static and tuned values only
    tuned: dict[str, str]
    started: float
    expires: float  # time.time() at which it is stopped
    expiry_reason: str
    stop_reason: str | None = None
    stop_sent: float | None = None  # time.time() of the stop request
    reported: bool = False
    averages: dict[str, float] = field(default_factory=dict)  # step -> running average

    def next_check(self) -> float:
        return self.expires if self.stop_sent is None else self.stop_sent + KILL_GRACE_SECONDS


class LocalSearch:
    """One tuning job on this machine; ``run`` returns what DescribeHyperParameterTuningJob
    and ListTrainingJobsForHyperParameterTuningJob would tell."""

    def __init__(self, backend: JobHost, job: TuningJobSpec, events: EventSink) -> None:
        self.backend = backend
        self.job = job
        self.events = events
        self.spec = get_algorithm(job.training.algorithm)
        self.space = SearchSpace.of(job.ranges)
        self.distributions = self.space.distributions()
        self.job_dir = backend.work_dir / job.name
        self.minimize = job.objective_type == "Minimize"
        self.static = {k: v for k, v in job.training.hyperparameters.items()
                       if k not in job.ranges}
        self.running: dict[int, _Running] = {}
        self.queue: list[dict[str, Any]] = []
        self.results: list[TrialResult] = []
        self.best: TrialResult | None = None
        self.seed: dict[str, Any] | None = None

    # -- set-up ---------------------------------------------------------------------------
    def _prepare(self) -> int:
        """Open (or resume) the study, seed it, stage the data; returns the trial budget."""
        self.opened = studies.open_study(self.job, self.job_dir, self.backend.store)
        self.study = self.opened.study
        if self.opened.resumed:
            self.queue += studies.recover(self.opened)
            self._info(f"resuming {self.job.name}: {studies.finished_count(self.study)} "
                       "finished trials kept")
        elif self.job.parent_trials:
            added, points = studies.warm_start(self.study, self.job, self.space)
            self.queue += points
            self._info(f"warm start ({self.job.warm_start_type}): "
                       + (f"{added} parent trials as prior observations" if added else
                          f"{len(points)} of the parents' best settings run first"))
        self.results = [studies.trial_result(t) for t in studies.own_trials(self.study)
                        if t.state.is_finished()]
        self.best = studies.best_trial(self.results, self.minimize)
        trials = self.study.get_trials(deepcopy=False)
        self.sequence = sum(1 for t in trials if not t.user_attrs.get("parent"))
        self._save()
        if self.job.strategy != "Grid":
            self._seed(trials)
            return self.job.max_jobs
        # Grid: every combination not yet evaluated (here or, warm-started, by a parent).
        seen = [t.params for t in trials
                if t.state.is_finished() and not t.user_attrs.get("interrupted")]
        self.queue = [p for p in self.space.grid() if p not in seen]
        return len(self.queue) + studies.finished_count(self.study)

    def _seed(self, trials: list[optuna.trial.FrozenTrial]) -> None:
        """Run the algorithm's own values first (clipped into the ranges), as FLAML starts
        from its defaults: the search can then only improve on the untuned model. Skipped
        when a finished trial (here or in a parent) already has them."""
        self.seed: dict[str, Any] | None = None
        point = self.space.clip(self.job.first_trial) if self.job.first_trial else None
        if point is None:
            return
        if self.opened.resumed:  # an interrupted seed was put back in the queue: keep its place
            requeued = [p for p in self.queue if p == point]
            if requeued:
                self.queue.remove(requeued[0])
                self.seed = requeued[0]
                self.queue.insert(0, self.seed)
            return
        if any(t.state.is_finished() and t.params == point for t in trials):
            return
        self.seed = point
        self.queue.insert(0, point)

    def _stage_channels(self) -> dict[str, str]:
        """Each channel fetched once into the tuning job's folder; trials hard-link from it."""
        staged = {}
        root = self.job_dir / "input" / "data"
        shutil.rmtree(root, ignore_errors=True)
        for channel, uri in self.job.training.channels.items():
            target = root / channel
            target.mkdir(parents=True)
            self.backend._fetch_folder(uri, target)
            staged[channel] = str(target)
        return staged

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> TuningResult:
        started = time.perf_counter()
        total = self._prepare()
        todo = max(0, total - studies.finished_count(self.study))
        channels = self._stage_channels()
        self.template = replace(self.job.training, channels=channels)
        deadline = time.time() + self.job.timeout_seconds if self.job.timeout_seconds else None
        self.total = total
        write_status(self.job_dir, "InProgress")
        setup = WorkerSetup(
            algorithm=self.spec.name,
            metrics=tuple((m.name, m.regex) for m in self.spec.metrics),
            objective=self.job.objective_metric, report_every=report_every(self.job),
            channels=channels, log_dir=str(self.job_dir),
        )
        try:
            if todo:
                size = min(self.job.max_parallel_jobs, todo)
                if deadline is not None and time.time() >= deadline:
                    size = 1  # a spent budget leaves the first trial only
                with WorkerPool(size, setup) as pool:
                    self._loop(pool, todo, deadline)
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            self._save()
            write_status(self.job_dir, "Stopped" if interrupted else "Failed",
                         "interrupted" if interrupted else str(exc) or type(exc).__name__)
            raise
        trials = [studies.trial_result(t) for t in studies.own_trials(self.study)]
        best = studies.best_trial(trials, self.minimize)
        status, reason = "Completed", None
        if best is None:
            failures = [t.failure_reason for t in trials if t.failure_reason]
            status = "Failed"
            reason = "no trial completed" + (f"; the first failure: {failures[0]}"
                                             if failures else "")
        write_status(self.job_dir, status, reason)
        return TuningResult(name=self.job.name, status=status, trials=trials, best=best,
                            seconds=time.perf_counter() - started, failure_reason=reason)

    def _loop(self, pool: WorkerPool, todo: int, deadline: float | None) -> None:
        launched = 0
        ended: list[tuple[_Running, TrialOutcome, float]] = []
        while True:
            now = time.time()
            expired = deadline is not None and now >= deadline
            for index, running in list(self.running.items()):
                killed = self._enforce_limits(pool, index, running, now)
                if killed is not None:
                    ended.append(killed)
            for index in pool.idle():
                # The budget never stops the first trial (the algorithm's own values): every
                # tuning job ends with a candidate at least as good as the untuned one.
                if launched >= todo or (expired and not self._seed_next()):
                    break
                self._launch(pool, index, deadline)
                launched += 1
            # Trials that ended are recorded once their workers have new ones, so that
            # publishing a model and writing the journal overlap with training, not delay it.
            for item in ended:
                self._finish(*item)
            ended = []
            if not self.running and (launched >= todo or (expired and not self._seed_next())):
                return
            checks = [r.next_check() for r in self.running.values()]
            if deadline is not None and not expired:
                checks.append(deadline)
            timeout = max(0.01, min(checks) - time.time()) if checks else None
            for message in pool.wait(timeout):
                result = self._handle(pool, message)
                if result is not None:
                    ended.append(result)

    def _enforce_limits(self, pool: WorkerPool, index: int, running: _Running,
                        now: float) -> tuple[_Running, TrialOutcome, float] | None:
        """Stop a trial past its time limit; kill the worker of one that does not stop."""
        if running.stop_sent is None:
            if now >= running.expires:
                running.stop_reason = running.expiry_reason
                running.stop_sent = now
                pool.stop(index, running.job.name, running.expiry_reason)
            return None
        if now < running.stop_sent + KILL_GRACE_SECONDS:
            return None
        pool.kill(index)
        del self.running[index]
        outcome = TrialOutcome(running.job.name, "Stopped", failure_reason=running.stop_reason)
        return running, outcome, time.perf_counter()

    def _seed_next(self) -> bool:
        """Whether the next trial is the seed (the algorithm's own values, run first)."""
        return bool(self.queue) and self.queue[0] is self.seed

    def _launch(self, pool: WorkerPool, index: int, deadline: float | None) -> None:
        seed = self._seed_next()
        if self.queue:
            self.study.enqueue_trial(self.queue.pop(0), skip_if_exists=False)
        trial = self.study.ask(self.distributions)
        self.sequence += 1
        name = f"{self.job.name}-{self.sequence:03d}-{secrets.token_hex(4)}"
        tuned = self.space.to_hyperparameters(trial.params)
        recorded = {**self.static, **tuned}
        job = replace(self.template, name=name, hyperparameters={
            **recorded, TUNING_OBJECTIVE: self.job.objective_metric})
        trial.set_user_attr("name", name)
        trial.set_user_attr("hyperparameters", recorded)
        if seed:
            trial.set_user_attr("seed", True)
        now = time.time()
        expires, reason = now + job.max_runtime_seconds, (
            f"MaxRuntimeExceeded: the job ran longer than {job.max_runtime_seconds} s")
        if deadline is not None and deadline < expires and not seed:
            expires, reason = deadline, BUDGET
        pool.submit(index, TrialTask(job, str(self.backend.work_dir / name), expires, reason))
        self.running[index] = _Running(trial, job, recorded, tuned, time.perf_counter(),
                                       expires, reason)
        self._event(name, "InProgress", tuned)

    def _handle(self, pool: WorkerPool,
                message: Message) -> tuple[_Running, TrialOutcome, float] | None:
        """Act on a worker's message; a trial that ended is returned, to be recorded."""
        running = self.running.get(message.worker)
        if message.kind == "metric" and running is not None:
            name, step, value, average = message.payload
            if name != running.job.name or running.stop_reason:
                return None
            running.averages[str(step)] = average
            running.trial.report(value, step)
            running.reported = True
            if running.trial.should_prune():
                running.stop_reason = HYPERBAND if self.job.strategy == "Hyperband" else PRUNED
                running.stop_sent = time.time()
                pool.stop(message.worker, name, running.stop_reason)
        elif message.kind == "done" and running is not None:
            del self.running[message.worker]
            return running, message.payload, time.perf_counter()
        elif message.kind == "died" and running is not None and message.payload[0]:
            del self.running[message.worker]
            reason = f"AlgorithmError: the worker running it died (exit code {message.payload[1]})"
            outcome = TrialOutcome(running.job.name, "Failed", failure_reason=reason)
            return running, outcome, time.perf_counter()
        return None

    def _finish(self, running: _Running, outcome: TrialOutcome, ended: float) -> None:
        objective = outcome.final_metrics.get(self.job.objective_metric)
        result = TrialResult(
            name=outcome.name, hyperparameters=running.hyperparameters, status=outcome.status,
            objective=objective, final_metrics=outcome.final_metrics,
            seconds=round(ended - running.started, 3), failure_reason=outcome.failure_reason,
        )
        if outcome.model_path:
            result.model_uri, result.model_sha256 = self.backend.publish_model(
                running.job, Path(outcome.model_path), link=True)
        attrs = studies.record_attrs(result)
        if running.averages:
            attrs[RUNNING_AVERAGES] = running.averages
        for key, value in attrs.items():
            self.opened.storage.set_trial_user_attr(running.trial._trial_id, key, value)
        if result.status == "Completed" and objective is not None:
            self.study.tell(running.trial, objective)
        elif running.stop_reason is not None and running.reported:
            self.study.tell(running.trial, state=TrialState.PRUNED)
        else:
            self.study.tell(running.trial, state=TrialState.FAIL)
        self._save()
        self.results.append(result)
        self.best = studies.best_trial(self.results, self.minimize)
        self._event(result.name, result.status, running.tuned, result)

    def _save(self) -> None:
        """The journal into the store: a finished trial survives this folder and machine."""
        studies.save_journal(self.backend.store, self.job.name, self.job_dir)

    # -- progress -------------------------------------------------------------------------
    def _event(self, name: str, status: str, tuned: dict[str, str],
               result: TrialResult | None = None) -> None:
        objective = result.objective if result else None
        shown = f" {self.job.objective_metric}={objective:.5g}" if objective is not None else ""
        failed = sum(1 for r in self.results if r.status == "Failed")
        self.events(Event("trial", f"{name}: {status}{shown}", {
            "tuning_job": self.job.name, "algorithm": self.spec.name, "trial": name,
            "status": status, "objective": objective,
            "objective_metric": self.job.objective_metric, "hyperparameters": tuned,
            "seconds": result.seconds if result else None,
            "failure_reason": result.failure_reason if result else None,
            "done": len(self.results), "failed": failed, "running": len(self.running),
            "total": self.total, "best": self.best.objective if self.best else None,
            "best_trial": self.best.name if self.best else None,
            "minimize": self.minimize,
        }))

    def _info(self, message: str) -> None:
        self.events(Event("info", message))


def run_search(backend: JobHost, job: TuningJobSpec, events: EventSink) -> TuningResult:
    return LocalSearch(backend, job, events).run()
