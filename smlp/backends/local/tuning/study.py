"""The optuna study behind a tuning job: persistent, resumable, seeded from parent jobs.

The study lives in a journal file in the tuning job's folder, copied into the store
(``tuning/<job>/study.journal``) whenever a trial finishes: ``smlp tune --resume`` after an
interruption (Ctrl-C, a killed process) finds every finished trial where it was left, from
another working folder or another machine sharing the store too.
Each trial carries its SageMaker-side record (job name, string hyperparameters, status, model)
as user attributes; the tuning result is rebuilt from them alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from smlp.backends.base import TrialResult, TuningJobSpec
from smlp.errors import ConfigError
from smlp.fileio import atomic_write_bytes
from smlp.tuning.space import SearchSpace
from smlp.tuning.strategies import make_pruner, make_sampler

if TYPE_CHECKING:
    from smlp.store import Store

JOURNAL = "study.journal"
TRANSFER_POINTS = 5  # transfer learning re-runs at most this many of the parents' best


def fingerprint(job: TuningJobSpec) -> str:
    """What a resumed search must share with the one it continues (limits may change)."""
    body = {
        "algorithm": job.training.algorithm,
        "hyperparameters": job.training.hyperparameters,
        "ranges": SearchSpace.of(job.ranges).describe(),
        "objective": [job.objective_metric, job.objective_type],
        "strategy": job.strategy,
        "early_stopping": job.early_stopping,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class OpenStudy:
    study: optuna.Study
    storage: optuna.storages.BaseStorage
    resumed: bool


def journal_key(job_name: str) -> str:
    """Where the store keeps a tuning job's resumable state."""
    return f"tuning/{job_name}/{JOURNAL}"


def save_journal(store: Store | None, job_name: str, job_dir: Path) -> None:
    """Copy the journal into the store (atomically): the state ``--resume`` continues from."""
    path = job_dir / JOURNAL
    if store is not None and path.exists():
        store.write_bytes(journal_key(job_name), path.read_bytes())


def _fetch_journal(store: Store, job_name: str, path: Path) -> None:
    """The store's journal, unless the local one already continues it (append-only)."""
    key = journal_key(job_name)
    if not store.exists(key):
        return
    saved = store.read_bytes(key)
    if path.exists() and path.read_bytes().startswith(saved):
        return
    atomic_write_bytes(path, saved)


def open_study(job: TuningJobSpec, job_dir: Path, store: Store | None = None) -> OpenStudy:
    """The job's study: created, or loaded when resuming a job whose journal exists (in the
    store, else in the job folder)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = job_dir / JOURNAL
    if job.resume and store is not None:
        _fetch_journal(store, job.name, path)
    exists = path.exists()
    if job.resume and not exists:
        where = f"{store.uri(journal_key(job.name))} nor " if store is not None else ""
        raise ConfigError(f"--resume: tuning job {job.name} left no state to resume (neither "
                          f"{where}{path} exists); run `smlp tune` without --resume to start "
                          "a new search")
    if exists and not job.resume:
        raise ConfigError(f"tuning job {job.name} already exists in {job_dir}; resume it with "
                          "`smlp tune --resume` or start a new one")
    job_dir.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(path)))
    direction = "minimize" if job.objective_type == "Minimize" else "maximize"
    if exists:
        done = len(storage.get_all_trials(storage.get_study_id_from_name(job.name)))
        study = optuna.load_study(study_name=job.name, storage=storage,
                                  sampler=make_sampler(job, job.random_seed + done),
                                  pruner=make_pruner(job))
        if study.user_attrs.get("fingerprint") != fingerprint(job):
            raise ConfigError(
                f"tuning job {job.name}: the search (ranges, static hyperparameters, objective "
                "or strategy) changed since it started; run `smlp tune` without --resume for "
                "a new search, with warm_start to reuse its trials")
        return OpenStudy(study, storage, True)
    study = optuna.create_study(study_name=job.name, storage=storage, direction=direction,
                                sampler=make_sampler(job, job.random_seed),
                                pruner=make_pruner(job))
    study.set_user_attr("fingerprint", fingerprint(job))
    study.set_user_attr("algorithm", job.training.algorithm)
    study.set_user_attr("objective_metric", job.objective_metric)
    return OpenStudy(study, storage, False)


def warm_start(study: optuna.Study, job: TuningJobSpec,
               space: SearchSpace) -> tuple[int, list[dict[str, Any]]]:
    """Seed the study from the parents' trials.

    ``IDENTICAL_DATA_AND_ALGORITHM``: the parents' finished trials are known results on this
    data, added as completed observations (not re-run, not counted against ``max_jobs``).
    ``TRANSFER_LEARNING``: the data or ranges differ, so their results are not comparable; the
    parents' best few settings (clipped into the new ranges) are re-run first instead.

    Returns how many observations were added and the points to run first.
    """
    finished = [t for t in job.parent_trials
                if t.status == "Completed" and t.objective is not None]
    if job.warm_start_type == "TRANSFER_LEARNING":
        finished.sort(key=lambda t: t.objective if job.objective_type == "Minimize"
                      else -t.objective)  # type: ignore[operator]
        points: list[dict[str, Any]] = []
        for trial in finished:
            params = space.clip(trial.hyperparameters)
            if params is not None and params not in points:
                points.append(params)
            if len(points) == TRANSFER_POINTS:
                break
        return 0, points
    distributions = space.distributions()
    added = 0
    for trial in finished:
        params = space.from_hyperparameters(trial.hyperparameters)
        if params is None:
            continue
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions=distributions, value=trial.objective,
            user_attrs={"parent": True, **record_attrs(trial)},
        ))
        added += 1
    return added, []


def recover(opened: OpenStudy) -> list[dict[str, Any]]:
    """Trials an interruption left running: failed as interrupted, their points run again."""
    study = opened.study
    rerun = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        opened.storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        study.tell(trial.number, state=TrialState.FAIL)
        rerun.append(dict(trial.params))
    return rerun


def own_trials(study: optuna.Study) -> list[FrozenTrial]:
    """This job's trials: not the parents' observations, not those an interruption voided."""
    return [t for t in study.get_trials(deepcopy=False)
            if not t.user_attrs.get("parent") and not t.user_attrs.get("interrupted")]


def finished_count(study: optuna.Study) -> int:
    return sum(1 for t in own_trials(study) if t.state.is_finished())


def record_attrs(trial: TrialResult) -> dict[str, Any]:
    """A trial result as user attributes (JSON-serialisable)."""
    return {
        "name": trial.name, "hyperparameters": trial.hyperparameters, "status": trial.status,
        "objective": trial.objective, "final_metrics": trial.final_metrics,
        "seconds": trial.seconds, "model_uri": trial.model_uri,
        "model_sha256": trial.model_sha256, "failure_reason": trial.failure_reason,
    }


def trial_result(trial: FrozenTrial) -> TrialResult:
    attrs = trial.user_attrs
    return TrialResult(
        name=attrs.get("name", f"trial-{trial.number}"),
        hyperparameters=attrs.get("hyperparameters", {}),
        status=attrs.get("status", "Failed" if trial.state.is_finished() else "InProgress"),
        objective=attrs.get("objective"),
        final_metrics=attrs.get("final_metrics", {}),
        seconds=attrs.get("seconds", 0.0),
        model_uri=attrs.get("model_uri"),
        model_sha256=attrs.get("model_sha256"),
        failure_reason=attrs.get("failure_reason"),
    )


def best_trial(trials: list[TrialResult], minimize: bool) -> TrialResult | None:
    """The best completed trial with a model; ties go to the earlier trial."""
    candidates = [t for t in trials if t.status == "Completed" and t.objective is not None
                  and t.model_uri]
    if not candidates:
        return None
    sign = 1 if minimize else -1
    return min(candidates, key=lambda t: sign * t.objective)  # type: ignore[operator]
