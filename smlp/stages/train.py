"""``smlp train``: one training job per algorithm; each success becomes a candidate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from smlp.algorithms import ALGORITHMS, get_algorithm, knn
from smlp.algorithms.display import shown_metrics
from smlp.algorithms.hyperparameters import HyperparameterValue, as_string
from smlp.backends.base import Backend, TrainingJobSpec, TrainingResult
from smlp.config import Config
from smlp.errors import ConfigError, JobFailedError
from smlp.events import Event, EventSink, ignore
from smlp.manifest import (
    Artifact,
    Candidate,
    DataRecord,
    Manifest,
    load_manifest,
    record_stage,
    update_manifest,
)
from smlp.naming import job_name
from smlp.store import Store

TRAINING_PREFIX = "training"


def resolve_algorithms(config: Config, requested: list[str] | None) -> list[str]:
    """``None`` or ``all`` means every enabled algorithm; names are checked against the registry."""
    if not requested or requested == ["all"]:
        enabled = config.algorithms.enabled()
        if not enabled:
            raise ConfigError("algorithms: every algorithm is disabled; enable at least one")
        return enabled
    for name in requested:
        try:
            get_algorithm(name)
        except KeyError as exc:
            raise ConfigError(f"--algo: {exc.args[0]}") from None
    return list(dict.fromkeys(requested))


def parse_overrides(pairs: list[str], algorithms: list[str]) -> dict[str, dict[str, str]]:
    """``--hp name=value`` (every selected algorithm that has it) or ``--hp algo.name=value``."""
    result: dict[str, dict[str, str]] = {name: {} for name in algorithms}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--hp {pair}: expected name=value")
        algo, dot, name = key.rpartition(".")
        targets = [algo] if dot else [a for a in algorithms
                                      if name in ALGORITHMS[a].hyperparameters]
        if dot and algo not in algorithms:
            raise ConfigError(f"--hp {pair}: {algo!r} is not among the algorithms being "
                              f"trained ({', '.join(algorithms)})")
        if not targets:
            from smlp.suggest import did_you_mean

            known = [h for a in algorithms for h in ALGORITHMS[a].hyperparameters]
            raise ConfigError(f"--hp {pair}: no selected algorithm has a hyperparameter "
                              f"{name!r}{did_you_mean(name, known)}")
        for target in targets:
            try:  # checked here, so the error names the flag, not the config section
                ALGORITHMS[target].hyperparameters[name].coerce(value)
            except ValueError as exc:
                raise ConfigError(f"--hp {pair}: {exc}") from None
            result[target][name] = value
    return result


Problem = tuple[str, int]  # (problem type, number of classes; 0 for regression)
REGRESSION: Problem = ("regression", 0)


def problem_of(store: Store, data: DataRecord) -> Problem:
    """The recorded data's problem type and class count, from its (verified) schema."""
    from smlp.data.schema import load_schema

    schema = load_schema(store, data)
    return schema.problem_type, len(schema.classes)


def objective_for(algo: str, problem: Problem) -> str:
    """The algorithm's own objective metric for this problem type (regression: its spec's)."""
    from smlp.algorithms.problems import default_objective

    return default_objective(algo, problem[0], get_algorithm(algo).default_objective)


def hyperparameters_for(config: Config, algo: str, data: DataRecord,
                        overrides: dict[str, str] | None = None,
                        problem: Problem = REGRESSION) -> dict[str, HyperparameterValue]:
    """Config values, then overrides, then values derived from the data; all validated."""
    from smlp.algorithms.problems import adapt

    spec = get_algorithm(algo)
    values: dict[str, Any] = dict(config.algorithms.get(algo).hyperparameters)
    values.update(overrides or {})
    try:  # regression values stay as they are; what contradicts the data is refused
        values = adapt(algo, values, problem[0], problem[1], spec.defaults)
    except ValueError as exc:
        raise ConfigError(f"algorithms.{algo}.hyperparameters: {exc.args[0]}") from None
    n_features = len(data.features)
    if "feature_dim" in spec.derived:
        given = values.get("feature_dim")
        if given is not None and int(given) != n_features:
            raise ConfigError(f"algorithms.{algo}.hyperparameters.feature_dim: {given} does not "
                              f"match the data's {n_features} features")
        values["feature_dim"] = n_features
    try:
        checked = spec.validate(values)
        if algo == "knn":
            knn.check_combination(checked)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"algorithms.{algo}.hyperparameters: {exc.args[0]}") from None
    missing = [h.name for h in spec.hyperparameters.values()
               if h.required and h.name not in checked]
    if missing:
        raise ConfigError(f"algorithms.{algo}.hyperparameters: missing required "
                          + ", ".join(missing))
    if "early_stopping_rounds" in checked and "eval_metric" in spec.hyperparameters:
        # The XGBoost container early-stops only on a named metric (eval_metric's last, or a
        # tuning job's objective) and otherwise silently trains every round
        # (sagemaker-xgboost-container, algorithm_mode/train.py train_job): name the default.
        checked.setdefault("eval_metric", objective_for(algo, problem).partition(":")[2])
    return checked


def channels_for(store: Store, algo: str, data: DataRecord) -> dict[str, str]:
    """Each channel is the folder of the recorded data version's split (a prefix on S3)."""
    from smlp.stages.data import split_folder

    spec = get_algorithm(algo)
    return {channel: split_folder(store, data, split) for channel, split in spec.channels.items()}


def build_job(config: Config, store: Store, algo: str, data: DataRecord,
              hyperparameters: dict[str, HyperparameterValue], name: str) -> TrainingJobSpec:
    section = config.algorithms.get(algo)
    return TrainingJobSpec(
        name=name,
        algorithm=algo,
        hyperparameters={k: as_string(v) for k, v in hyperparameters.items()},
        channels=channels_for(store, algo, data),
        output_uri=store.uri(TRAINING_PREFIX),
        container_version=section.container_version,
        instance_type=section.instance_type,
        instance_count=section.instance_count,
        volume_size_gb=section.volume_size_gb,
        max_runtime_seconds=section.max_runtime_seconds,
    )


def verify_data(store: Store, data: DataRecord) -> None:
    """Refuse to train on split shards that changed since the manifest recorded them (S3
    objects by their sha256 metadata, else their bytes: see ``content_sha256``)."""
    from smlp.artifact import verify_split

    for split, artifact in data.splits.items():
        verify_split(store, artifact, f"{split} split",
                     "smlp data generate` or `smlp data prepare")


def train(config: Config, store: Store, backend: Backend, algorithms: list[str] | None = None,
          hp: list[str] | None = None, events: EventSink = ignore) -> list[Candidate]:
    names = resolve_algorithms(config, algorithms)
    manifest: Manifest = load_manifest(store)
    data = manifest.require_data()
    overrides = parse_overrides(hp or [], names)
    problem = problem_of(store, data)
    settings = {name: hyperparameters_for(config, name, data, overrides[name], problem)
                for name in names}
    verify_data(store, data)
    parameters = {"algorithms": names, "hp": hp or [], "backend": backend.name}
    command = "smlp train --algo " + ",".join(names)
    jobs = {name: build_job(config, store, name, data, settings[name], job_name(name))
            for name in names}
    preflight = getattr(backend, "preflight", None)  # a remote backend's rules, before any job
    if preflight is not None:
        preflight(jobs.values())
    candidates: dict[str, Candidate] = {}
    with record_stage(store, "train", command, parameters) as record:
        record.inputs.update(data.splits)
        record.jobs.extend(job.name for job in jobs.values())
        failures = []
        for name, result in _run_jobs(backend, jobs, events):
            job = jobs[name]
            if result.status != "Completed":
                failures.append(JobFailedError(job.name, result.failure_reason or result.status))
                continue
            candidate = Candidate(
                name=name, algo=name, source="train", job_name=job.name,
                hyperparameters=job.hyperparameters, container_version=job.container_version,
                model=Artifact(uri=result.model_uri or "", sha256=result.model_sha256 or ""),
                training_metrics=result.final_metrics,
                data_sha256=data.splits["train"].sha256, backend=backend.name,
            )
            register_candidate(store, candidate)
            record.outputs[name] = candidate.model
            record.metrics[name] = result.final_metrics
            candidates[name] = candidate
            shown = shown_metrics(name, result.final_metrics)  # says which split k-NN's is
            if shown:
                events(Event("info", f"{name}: {shown} ({result.seconds:.1f} s)"))
        if failures:
            raise failures[0]
    return [candidates[name] for name in names]


def _run_jobs(backend: Backend, jobs: dict[str, TrainingJobSpec],
              events: EventSink) -> Iterator[tuple[str, TrainingResult]]:
    """Run independent jobs side by side, up to the backend's parallelism, as SageMaker would."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    workers = max(1, min(len(jobs), getattr(backend, "max_parallel_jobs", 1)))
    for name, job in jobs.items():
        events(Event("info", f"training {name} as job {job.name}"))
    if workers == 1:
        for name, job in jobs.items():
            yield name, backend.train(job, events)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(backend.train, job, events): name for name, job in jobs.items()}
        for future in as_completed(futures):
            yield futures[future], future.result()


def register_candidate(store: Store, candidate: Candidate) -> None:
    """Add or replace one candidate, leaving every other manifest entry as it was.

    A candidate without a backend gets the one of the tuning job or stage that ran its job.
    """

    def change(manifest: Manifest) -> None:
        manifest.fill_provenance(candidate)
        manifest.candidates[candidate.name] = candidate

    update_manifest(store, change)
