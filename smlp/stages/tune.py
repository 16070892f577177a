"""``smlp tune``: one tuning job per algorithm; each one's best trial becomes ``<algo>-tuned``.

Every check that can fail (ranges against the data, warm-start parents, what to resume) runs
for all algorithms before the first trial. Trials see the train and validation splits only;
the objective is the validation metric the training job logs, and the test split stays
unseen until ``smlp compare``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from smlp.algorithms import get_algorithm, knn
from smlp.algorithms.hyperparameters import as_string
from smlp.backends.base import Backend, TrialResult, TuningJobSpec, TuningResult
from smlp.config import Config
from smlp.config.tuning import UNTUNED_DEFAULTS, check_algorithm
from smlp.errors import ConfigError, JobFailedError
from smlp.events import Event, EventSink, ignore
from smlp.manifest import (
    Artifact,
    Candidate,
    DataRecord,
    Manifest,
    TrialRecord,
    TuningRecord,
    artifact_for_bytes,
    load_manifest,
    now,
    record_stage,
    update_manifest,
)
from smlp.recovery import watch_work_dir
from smlp.stages.train import (
    REGRESSION,
    Problem,
    build_job,
    hyperparameters_for,
    objective_for,
    problem_of,
    register_candidate,
    resolve_algorithms,
    verify_data,
)
from smlp.store import Store

TUNING_PREFIX = "tuning"
TUNED_SUFFIX = "-tuned"
LATEST = "latest"
UNFINISHED = {"InProgress", "Stopped", "Failed"}
MIN_SHARE_SECONDS = 0.001


@dataclass
class TuneOutcome:
    """What one algorithm's tuning produced."""

    algorithm: str
    job_name: str
    result: TuningResult
    candidate: Candidate | None
    leaderboard: dict[str, Any]  # what tuning.json holds
    leaderboard_artifact: Artifact


class Budget:
    """``tuning.timeout_seconds`` bounds a whole ``smlp tune``: each tuning job gets an equal
    share of what is left, so time one job does not use goes to the next."""

    def __init__(self, seconds: float | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.started = clock()

    def share(self, job: TuningJobSpec, jobs_left: int) -> TuningJobSpec:
        if not self.seconds:
            return job
        left = self.seconds - (self.clock() - self.started)
        # Spent: the job still runs its first trial (the untuned values), nothing more.
        return replace(job, timeout_seconds=max(MIN_SHARE_SECONDS, left / jobs_left))


def tuning_job_name(algo: str) -> str:
    """Unique and within SageMaker's 32 characters for tuning jobs."""
    return f"{algo}-tune-{time.strftime('%y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(1)}"


def resolve_tuning_algorithms(config: Config, requested: list[str] | None) -> list[str]:
    """``None``/``all``: algorithms enabled both for training and in ``tuning.algorithms``."""
    if requested and requested != ["all"]:
        return resolve_algorithms(config, requested)
    names = [n for n in config.tuning.enabled() if config.algorithms.get(n).enabled]
    if not names:
        raise ConfigError("tuning.algorithms: no algorithm is enabled for tuning; enable one "
                          "or name it with --algo")
    return names


def tune(config: Config, store: Store, backend: Backend, algorithms: list[str] | None = None,
         *, resume: bool = False, warm_start: list[str] | None = None,
         events: EventSink = ignore) -> list[TuneOutcome]:
    names = resolve_tuning_algorithms(config, algorithms)
    if config.backend.kind == "local":
        watch_work_dir(config.backend.work_dir)  # a crash marker names the job folders
    manifest = load_manifest(store)
    data = manifest.require_data()
    problem = problem_of(store, data)
    parents = _parents(config, manifest, data, names, warm_start, resume, problem)
    jobs: dict[str, TuningJobSpec] = {}
    for name in names:
        job = _plan(config, store, manifest, data, name, parents.get(name, []), resume, events,
                    problem)
        if job is not None:
            jobs[name] = job
    preflight = getattr(backend, "preflight", None)  # a remote backend's rules, before any job
    if preflight is not None:
        preflight(jobs.values())
    verify_data(store, data)
    parameters = {"algorithms": names, "backend": backend.name, "resume": resume,
                  "strategy": config.tuning.strategy, "max_jobs": config.tuning.max_jobs,
                  "max_parallel_jobs": config.tuning.max_parallel_jobs,
                  "timeout_seconds": config.tuning.timeout_seconds,
                  "parents": {n: [p.name for p in ps] for n, ps in parents.items()}}
    command = "smlp tune --algo " + ",".join(names) + (" --resume" if resume else "")
    outcomes: list[TuneOutcome] = []
    with record_stage(store, "tune", command, parameters) as record:
        record.inputs.update({k: v for k, v in data.splits.items() if k != "test"})
        failures = []
        budget = Budget(config.tuning.timeout_seconds)
        for position, (name, job) in enumerate(jobs.items()):
            job = budget.share(job, len(jobs) - position)
            record.jobs.append(job.name)
            outcome = _run_one(store, backend, job, data, parents.get(name, []), events)
            outcomes.append(outcome)
            if outcome.candidate is None:
                failures.append(JobFailedError(job.name, outcome.result.failure_reason
                                               or outcome.result.status))
                continue
            record.outputs[outcome.candidate.name] = outcome.candidate.model
            record.outputs[f"{job.name}/tuning.json"] = outcome.leaderboard_artifact
            record.metrics[outcome.candidate.name] = outcome.candidate.training_metrics
        if failures:
            raise failures[0]
    return outcomes


# -- planning: every check before any trial -------------------------------------------------
def _plan(config: Config, store: Store, manifest: Manifest, data: DataRecord, algo: str,
          parents: list[TuningRecord], resume: bool, events: EventSink,
          problem: Problem = REGRESSION) -> TuningJobSpec | None:
    spec = get_algorithm(algo)
    settings = config.tuning
    try:
        tuning = check_algorithm(settings, algo)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    objective, objective_type = _objective(algo, tuning, problem)
    values: dict[str, Any] = dict(hyperparameters_for(config, algo, data, None, problem))
    values.update(tuning.static_hyperparameters)
    try:
        values = spec.validate(values)
        if algo == "knn":
            knn.check_combination(values)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"tuning.algorithms.{algo}.static_hyperparameters: "
                          f"{exc.args[0]}") from None
    _check_against_data(algo, tuning.ranges, values, data)
    static = {k: v for k, v in values.items() if k not in tuning.ranges}
    name = tuning_job_name(algo)
    resuming = False
    if resume:
        previous = _latest(manifest, algo)
        if previous is not None and previous.status == "Completed":
            events(Event("info", f"{algo}: tuning job {previous.name} completed; nothing to "
                                 "resume"))
            return None
        if previous is None:
            events(Event("info", f"{algo}: no unfinished tuning job to resume; starting a "
                                 "new one"))
        else:
            if previous.data_sha256 != data.splits["train"].sha256:
                raise ConfigError(f"--resume: the data changed since {previous.name} started; "
                                  "run `smlp tune` without --resume")
            name, resuming = previous.name, True
    trials = tuple(_trial_result(t) for p in parents for t in p.trials)
    untuned = {**UNTUNED_DEFAULTS.get(algo, {}), **values}
    first = {k: as_string(untuned[k]) for k in tuning.ranges if k in untuned}
    return TuningJobSpec(
        name=name, training=build_job(config, store, algo, data, static, name),
        ranges=dict(tuning.ranges), objective_metric=objective, objective_type=objective_type,
        strategy=settings.strategy, max_jobs=settings.max_jobs,
        max_parallel_jobs=settings.max_parallel_jobs, random_seed=settings.random_seed,
        early_stopping=settings.early_stopping, timeout_seconds=settings.timeout_seconds,
        warm_start_parents=tuple(p.name for p in parents),
        warm_start_type=settings.warm_start.type if settings.warm_start else
        "IDENTICAL_DATA_AND_ALGORITHM", parent_trials=trials, resume=resuming,
        first_trial=first if len(first) == len(tuning.ranges) else None,
    )


def _objective(algo: str, tuning: Any, problem: Problem) -> tuple[str, str]:
    """The objective metric and its direction: configured, else the algorithm's own for the
    problem type (XGBoost: logloss or mlogloss for classes; k-NN: accuracy, maximized)."""
    from smlp.algorithms.problems import objective_fits

    where = f"tuning.algorithms.{algo}"
    spec = get_algorithm(algo)
    if tuning.objective_metric is None:
        metric = objective_for(algo, problem)
        return metric, spec.metric(metric).direction
    metric = tuning.objective_metric
    if not objective_fits(algo, problem[0], metric):
        raise ConfigError(f"{where}.objective_metric: {metric} does not fit {problem[0]} data; "
                          f"the default is {objective_for(algo, problem)}")
    direction = spec.metric(metric).direction
    if tuning.objective_type != direction:
        raise ConfigError(f"{where}.objective_type: {tuning.objective_type}, but {metric} is "
                          f"better {'higher' if direction == 'Maximize' else 'lower'}; set "
                          f"objective_type: {direction}")
    return metric, direction


def _check_against_data(algo: str, ranges: dict[str, Any], static: dict[str, Any],
                        data: DataRecord) -> None:
    """Range bounds the data rules out: every trial there would fail, so fail now."""
    if algo != "knn":
        return
    where = "tuning.algorithms.knn.ranges"
    rows = data.rows.get("train", 0)
    k = ranges.get("k")
    if k is not None:
        largest = max(k.values) if hasattr(k, "values") else k.max_value
        sample = min(rows, int(static.get("sample_size", rows)))
        if int(largest) > sample:
            raise ConfigError(f"{where}.k: {largest} exceeds the {sample:,} training points "
                              "k-NN indexes")
    for param, value in ranges.items():
        bounds = value.values if hasattr(value, "values") else (value.min_value, value.max_value)
        for bound in bounds:
            try:
                knn.check_combination({**static, param: bound})
            except ValueError as exc:
                raise ConfigError(f"{where}.{param}: {exc.args[0]}") from None


def _latest(manifest: Manifest, algo: str, status: set[str] | None = None) -> TuningRecord | None:
    records = [r for r in manifest.tuning.values()
               if r.algo == algo and (status is None or r.status in status)]
    return records[-1] if records else None


def _parents(config: Config, manifest: Manifest, data: DataRecord, names: list[str],
             requested: list[str] | None, resume: bool,
             problem: Problem = REGRESSION) -> dict[str, list[TuningRecord]]:
    """Warm-start parents per algorithm, from ``--warm-start`` or ``tuning.warm_start``."""
    settings = config.tuning.warm_start
    wanted = list(requested or (settings.parents if settings else []))
    if not wanted or resume:
        return {}
    kind = settings.type if settings else "IDENTICAL_DATA_AND_ALGORITHM"
    if len(wanted) > 5:
        raise ConfigError(f"warm start: {len(wanted)} parents; SageMaker allows at most 5")
    chosen: dict[str, list[TuningRecord]] = {}
    for parent in wanted:
        if parent == LATEST:
            found = [r for n in names if (r := _latest(manifest, n, {"Completed"})) is not None]
            if not found:
                raise ConfigError("warm start: no completed tuning job in the manifest for "
                                  + ", ".join(names) + "; run `smlp tune` first")
        elif parent in manifest.tuning:
            found = [manifest.tuning[parent]]
        else:
            known = ", ".join(manifest.tuning) or "none yet"
            raise ConfigError(f"warm start: {parent!r} is not a tuning job in the manifest "
                              f"(known: {known})")
        for record in found:
            if record.algo not in names:
                raise ConfigError(f"warm start: {record.name} tuned {record.algo}, which is not "
                                  f"being tuned ({', '.join(names)})")
            if kind == "IDENTICAL_DATA_AND_ALGORITHM":
                if record.data_sha256 != data.splits["train"].sha256:
                    raise ConfigError(f"warm start: {record.name} was tuned on other data; use "
                                      "tuning.warm_start.type TRANSFER_LEARNING")
                objective = (config.tuning.for_algorithm(record.algo).objective_metric
                             or objective_for(record.algo, problem))
                if record.objective_metric != objective:
                    raise ConfigError(f"warm start: {record.name} optimised "
                                      f"{record.objective_metric}, not {objective}; use "
                                      "TRANSFER_LEARNING")
            if record not in chosen.setdefault(record.algo, []):
                chosen[record.algo].append(record)
    return chosen


# -- running and recording ------------------------------------------------------------------
def _run_one(store: Store, backend: Backend, job: TuningJobSpec, data: DataRecord,
             parents: list[TuningRecord], events: EventSink) -> TuneOutcome:
    algo = job.training.algorithm
    events(Event("info", f"tuning {algo} as job {job.name}: {job.strategy}, "
                         + (f"{job.max_jobs} trials" if job.strategy != "Grid"
                            else "every combination")
                         + f", {job.max_parallel_jobs} at a time, "
                         f"{job.objective_type} {job.objective_metric}"
                         + _budget_note(job.timeout_seconds)))
    record = TuningRecord(
        name=job.name, algo=algo, backend=backend.name, strategy=job.strategy,
        objective_metric=job.objective_metric, objective_type=job.objective_type,
        max_jobs=job.max_jobs, ranges=_ranges(job), data_sha256=data.splits["train"].sha256,
        static_hyperparameters={k: v for k, v in job.training.hyperparameters.items()
                                if k not in job.ranges},
        parents=list(job.warm_start_parents),
        warm_start_type=job.warm_start_type if job.warm_start_parents else None,
    )
    _save_record(store, record, keep_trials=job.resume)
    try:
        result = backend.tune(job, events)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        record.status = "Stopped" if interrupted else "Failed"
        record.finished_at = now()
        record.failure_reason = "interrupted" if interrupted else str(exc)
        _save_record(store, record, keep_trials=True)
        if interrupted:
            events(Event("info", f"{job.name} interrupted: finished trials are kept; continue "
                                 "with `smlp tune --resume`"))
        raise
    best = _overall_best(job, result, parents)
    leaderboard = leaderboard_json(job, result, best, backend.name)
    key = f"{TUNING_PREFIX}/{job.name}/tuning.json"
    body = json.dumps(leaderboard, indent=2).encode()
    store.write_bytes(key, body)
    artifact = artifact_for_bytes(store, key, body)
    record.status = result.status
    record.trials = [_trial_record(t) for t in result.trials]
    record.best = best.name if best else None
    record.leaderboard = artifact
    record.finished_at, record.seconds = now(), round(result.seconds, 3)
    record.failure_reason = result.failure_reason
    _save_record(store, record)
    candidate = None
    if best is not None and best.model_uri:
        candidate = Candidate(
            name=algo + TUNED_SUFFIX, algo=algo, source="tune", job_name=best.name,
            hyperparameters=best.hyperparameters,
            container_version=job.training.container_version,
            model=Artifact(uri=best.model_uri, sha256=best.model_sha256 or ""),
            training_metrics=best.final_metrics, data_sha256=data.splits["train"].sha256,
        )
        register_candidate(store, candidate)
        shown = (f", {job.objective_metric}={best.objective:.5g}"
                 if best.objective is not None else "")
        if not getattr(backend, "dry_run", False):  # a dry run's "best" is a placeholder
            events(Event("info", f"{candidate.name}: best of {len(result.trials)} trials is "
                                 f"{best.name}{shown}"))
    return TuneOutcome(algo, job.name, result, candidate, leaderboard, artifact)


def _budget_note(seconds: float | None) -> str:
    if not seconds:
        return ""
    if seconds <= MIN_SHARE_SECONDS:
        return "; the time budget is spent: the first trial (untuned values) only"
    return f", {seconds:.0f} s of the time budget"


def _overall_best(job: TuningJobSpec, result: TuningResult,
                  parents: list[TuningRecord]) -> TrialResult | None:
    """The tuning job's best trial or, warm-started on identical data, a parent's if better
    (SageMaker's ``OverallBestTrainingJob``)."""
    if result.best is None or result.best.objective is None:
        return result.best  # e.g. a dry run's placeholder: nothing to compare
    pool = [result.best]
    if job.warm_start_type == "IDENTICAL_DATA_AND_ALGORITHM":
        pool += [_trial_result(t) for p in parents for t in p.trials
                 if t.status == "Completed" and t.model is not None and t.objective is not None]
    sign = 1 if job.objective_type == "Minimize" else -1
    return min(pool, key=lambda t: sign * t.objective)  # type: ignore[operator]


def leaderboard_json(job: TuningJobSpec, result: TuningResult, best: TrialResult | None,
                     backend: str) -> dict[str, Any]:
    """``tuning.json``: the search, and its trials ranked by objective (then stopped, failed)."""
    sign = 1 if job.objective_type == "Minimize" else -1
    order = {"Completed": 0, "Stopped": 1, "InProgress": 2, "Failed": 3}
    ranked = sorted(result.trials, key=lambda t: (
        order.get(t.status, 3), sign * t.objective if t.objective is not None else 0.0))
    return {
        "name": job.name, "algorithm": job.training.algorithm, "backend": backend,
        "status": result.status, "strategy": job.strategy, "early_stopping": job.early_stopping,
        "objective": {"metric": job.objective_metric, "type": job.objective_type},
        "limits": {"max_jobs": job.max_jobs, "max_parallel_jobs": job.max_parallel_jobs,
                   "timeout_seconds": job.timeout_seconds},
        "ranges": _ranges(job),
        "static_hyperparameters": {k: v for k, v in job.training.hyperparameters.items()
                                   if k not in job.ranges},
        "warm_start": {"type": job.warm_start_type, "parents": list(job.warm_start_parents)}
        if job.warm_start_parents else None,
        "seconds": round(result.seconds, 3), "failure_reason": result.failure_reason,
        "best": best.name if best else None,
        "trials": [{
            "rank": rank, "name": t.name, "status": t.status, "objective": t.objective,
            "seconds": round(t.seconds, 3),
            "hyperparameters": {k: v for k, v in t.hyperparameters.items() if k in job.ranges},
            "failure_reason": t.failure_reason, "model_uri": t.model_uri,
        } for rank, t in enumerate(ranked, start=1)],
    }


def _ranges(job: TuningJobSpec) -> dict[str, Any]:
    return {name: value.model_dump(mode="json") for name, value in sorted(job.ranges.items())}


def _save_record(store: Store, record: TuningRecord, keep_trials: bool = False) -> None:
    def change(manifest: Manifest) -> None:
        previous = manifest.tuning.pop(record.name, None)
        if keep_trials and previous is not None and not record.trials:
            record.trials = previous.trials
        manifest.tuning[record.name] = record  # re-inserted: the latest record is last

    update_manifest(store, change)


def _trial_record(trial: TrialResult) -> TrialRecord:
    return TrialRecord(
        name=trial.name, status=trial.status, objective=trial.objective,
        hyperparameters=trial.hyperparameters, final_metrics=trial.final_metrics,
        seconds=round(trial.seconds, 3), failure_reason=trial.failure_reason,
        model=Artifact(uri=trial.model_uri, sha256=trial.model_sha256 or "")
        if trial.model_uri else None,
    )


def _trial_result(trial: TrialRecord) -> TrialResult:
    return TrialResult(
        name=trial.name, hyperparameters=trial.hyperparameters,
        status=trial.status,  # type: ignore[arg-type]
        objective=trial.objective, final_metrics=trial.final_metrics, seconds=trial.seconds,
        model_uri=trial.model.uri if trial.model else None,
        model_sha256=trial.model.sha256 if trial.model else None,
        failure_reason=trial.failure_reason,
    )
