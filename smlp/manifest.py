"""The manifest: a versioned lock file that is the only hand-off between stages.

It records, per stage, the command, parameters, inputs and outputs (URI + sha256), jobs,
status and timing; plus the prepared data, the candidates and the comparison. A stage that
fails is recorded as failed without touching what earlier stages recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

# Artifacts and their checks live in smlp.artifact; stages import them from here too.
from smlp.artifact import STORE_ROOT, Artifact, SplitArtifact
from smlp.artifact import Shard as Shard
from smlp.artifact import artifact_for_bytes as artifact_for_bytes
from smlp.artifact import artifact_for_file as artifact_for_file
from smlp.artifact import split_sha256 as split_sha256
from smlp.artifact import verify as verify
from smlp.artifact import verify_split as verify_split
from smlp.artifact import verify_stored as verify_stored
from smlp.errors import IntegrityError, MissingStageError, SmlpError
from smlp.manifest_io import read_change_write
from smlp.store import Store

# 2: a split is a folder of shards (SplitArtifact). Schema 1 manifests (one file per split)
# still load: each split becomes a one-shard split (DataRecord._one_file_splits).
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST_KEY = "manifest.json"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StageRecord(BaseModel):
    command: str
    status: Literal["running", "completed", "failed"] = "running"
    started_at: str = Field(default_factory=now)
    finished_at: str | None = None
    duration_s: float | None = None
    parameters: dict[str, Any] = {}
    inputs: dict[str, Artifact] = {}
    outputs: dict[str, Artifact] = {}
    jobs: list[str] = []
    metrics: dict[str, Any] = {}
    error: str | None = None


class DataRecord(BaseModel):
    """The prepared splits (SageMaker CSV: target first, no header), each a folder of shards,
    and their schema."""

    splits: dict[str, SplitArtifact]
    schema_: Artifact = Field(alias="schema")
    features: list[str]
    rows: dict[str, int]

    model_config = {"populate_by_name": True}

    @model_validator(mode="before")
    @classmethod
    def _one_file_splits(cls, raw: Any) -> Any:
        """A schema 1 split (one file: uri, sha256, size) as a split of that one shard, its
        folder the file's; its hash stays the file's (``split_sha256`` of one shard)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("splits"), dict):
            return raw
        rows = raw.get("rows") if isinstance(raw.get("rows"), dict) else {}
        splits = {}
        for name, split in raw["splits"].items():
            if isinstance(split, dict) and "shards" not in split and isinstance(
                    split.get("uri"), str):
                shard = {**split, "rows": rows.get(name, 0)}
                split = {**split, "uri": split["uri"].rsplit("/", 1)[0], "shards": [shard]}
            splits[name] = split
        return {**raw, "splits": splits}


# What model.tar.gz holds, by algorithm. XGBoost (Booster.save_model, UBJSON since xgboost
# 2.1) and scikit-learn (joblib) write the same files locally and in SageMaker's containers, so
# either backend serves them. k-NN's local model (faiss and numpy, knn_builtin.py) is not the
# knn:1 container's own format, nor the reverse ("Built-in KNN" in the SageMaker contract).
_PORTABLE_FORMATS = {"xgboost": "xgboost-ubj", "sklearn-gbm": "sklearn-joblib"}
_BACKEND_FORMATS = {"knn": {"sagemaker": "sagemaker-knn-1", "local": "smlp-knn-npz-1"}}


def artifact_format(algo: str, backend: str) -> str:
    """The format of ``algo``'s model when trained by ``backend``; also what that backend's
    transform reads (a backend other than ``sagemaker`` runs the local entry points)."""
    if algo in _PORTABLE_FORMATS:
        return _PORTABLE_FORMATS[algo]
    formats = _BACKEND_FORMATS.get(algo, {})
    kind = "sagemaker" if backend == "sagemaker" else "local"
    return formats.get(kind, f"{algo}-{kind}")


class Candidate(BaseModel):
    name: str
    algo: str
    source: Literal["train", "tune"] = "train"
    job_name: str
    hyperparameters: dict[str, str]
    container_version: str = ""  # the image the model was trained in, and must be served by
    model: Artifact
    training_metrics: dict[str, float] = {}
    data_sha256: str = ""
    created_at: str = Field(default_factory=now)
    # Which backend trained it (local, sagemaker) and what its model.tar.gz holds. Manifests
    # written before these fields existed get them from the stage or tuning job that recorded
    # the candidate's job (Manifest.fill_provenance).
    backend: str | None = None
    artifact_format: str | None = None

    @model_validator(mode="after")
    def _derive_format(self) -> Candidate:
        if self.artifact_format is None and self.backend is not None:
            self.artifact_format = artifact_format(self.algo, self.backend)
        return self


class TrialRecord(BaseModel):
    """One trial of a tuning job: its training job, hyperparameters (strings) and outcome."""

    name: str
    status: str
    objective: float | None = None
    hyperparameters: dict[str, str] = {}
    final_metrics: dict[str, float] = {}
    seconds: float = 0.0
    model: Artifact | None = None
    failure_reason: str | None = None


class TuningRecord(BaseModel):
    """One tuning job: what was searched and how each trial did.

    ``smlp tune --resume`` continues the latest one that did not complete; warm start reads
    the trials of the parents it names.
    """

    name: str
    algo: str
    backend: str
    status: Literal["InProgress", "Completed", "Failed", "Stopped"] = "InProgress"
    strategy: str
    objective_metric: str
    objective_type: str
    max_jobs: int
    ranges: dict[str, Any] = {}
    static_hyperparameters: dict[str, str] = {}
    data_sha256: str = ""
    parents: list[str] = []
    warm_start_type: str | None = None
    trials: list[TrialRecord] = []
    best: str | None = None
    leaderboard: Artifact | None = None
    started_at: str = Field(default_factory=now)
    finished_at: str | None = None
    seconds: float | None = None
    failure_reason: str | None = None


class Manifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    updated_at: str = Field(default_factory=now)
    stages: dict[str, StageRecord] = {}
    data: DataRecord | None = None
    candidates: dict[str, Candidate] = {}
    comparison: Artifact | None = None
    best: str | None = None
    # The sha256 of the model `smlp compare` ranked first: ``best`` names a candidate, and a
    # retrain replaces the candidate's model under the same name.
    best_sha256: str | None = None
    tuning: dict[str, TuningRecord] = {}
    extra: dict[str, Any] = {}

    def require_data(self) -> DataRecord:
        if self.data is None:
            raise MissingStageError("prepared data", "smlp data generate` (synthetic data) or "
                                    "`smlp data prepare --input FILE --target COLUMN")
        return self.data

    def stale_best(self) -> str | None:
        """Why ``best`` no longer names the model the comparison chose, or None if it does
        (or there is no comparison yet). For ``transform --model best`` and ``smlp status``."""
        if self.best is None:
            return None
        candidate = self.candidates.get(self.best)
        if candidate is None:
            return f"its best model {self.best} is no longer a candidate"
        if self.best_sha256 is not None:
            if candidate.model.sha256 != self.best_sha256:
                return f"{self.best} was retrained after `smlp compare` ranked it best"
            return None
        compared = self.stages.get("compare")  # a manifest from before best_sha256
        finished = compared.finished_at if compared is not None else None
        if finished is not None and candidate.created_at > finished:
            return f"{self.best} was retrained after `smlp compare` ranked it best"
        return None

    def require_candidates(self) -> dict[str, Candidate]:
        if not self.candidates:
            raise MissingStageError("a trained model", "smlp train")
        return self.candidates

    @model_validator(mode="after")
    def _provenance(self) -> Manifest:
        for candidate in self.candidates.values():
            self.fill_provenance(candidate)
        return self

    def fill_provenance(self, candidate: Candidate) -> None:
        """Give ``candidate`` its backend and artifact format if it lacks them: the backend of
        the tuning job or stage that ran its job, else ``local`` (smlp's default backend)."""
        if candidate.backend is None:
            candidate.backend = self._backend_of(candidate.job_name) or "local"
        if candidate.artifact_format is None:
            candidate.artifact_format = artifact_format(candidate.algo, candidate.backend)

    def _backend_of(self, job_name: str) -> str | None:
        for tuning in self.tuning.values():
            if tuning.name == job_name or any(t.name == job_name for t in tuning.trials):
                return tuning.backend
        for stage in self.stages.values():
            backend = stage.parameters.get("backend")
            if job_name in stage.jobs and isinstance(backend, str):
                return backend
        return None


def load_manifest(store: Store) -> Manifest:
    """The store's manifest, or an empty one if none exists yet."""
    if not store.exists(MANIFEST_KEY):
        return Manifest()
    return _parse(store, store.read_bytes(MANIFEST_KEY))


def _parse(store: Store, data: bytes) -> Manifest:
    uri = store.uri(MANIFEST_KEY)
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{uri}: manifest is not valid JSON ({exc})") from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version not in READABLE_VERSIONS:
        raise IntegrityError(
            f"{uri}: manifest schema_version {version!r} is not one of "
            f"{', '.join(map(str, READABLE_VERSIONS))}; this smlp cannot read it"
        )
    try:
        return Manifest.model_validate(raw, context={STORE_ROOT: store.root})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise IntegrityError(f"{uri}: manifest field {where}: {first['msg']}") from None


def _dump(store: Store, manifest: Manifest) -> bytes:
    manifest.updated_at = now()
    manifest.schema_version = SCHEMA_VERSION  # a schema 1 manifest is written back as 2
    return manifest.model_dump_json(indent=2, by_alias=True,
                                    context={STORE_ROOT: store.root}).encode()


def save_manifest(store: Store, manifest: Manifest) -> None:
    """Overwrite the manifest with ``manifest`` (stages use ``update_manifest``)."""
    store.write_bytes(MANIFEST_KEY, _dump(store, manifest))


def update_manifest(store: Store, change: Any) -> Manifest:
    """Re-read, apply ``change(manifest)``, write, with no concurrent update lost (a lock on a
    local store, conditional writes on S3: see manifest_io). ``change`` may run more than once
    and must only set the entries it owns."""
    result: list[Manifest] = []

    def apply(current: bytes | None) -> bytes:
        manifest = Manifest() if current is None else _parse(store, current)
        change(manifest)
        result[:] = [manifest]
        return _dump(store, manifest)

    read_change_write(store, MANIFEST_KEY, apply)
    return result[0]


@contextmanager
def record_stage(
    store: Store, name: str, command: str, parameters: dict[str, Any] | None = None
) -> Iterator[StageRecord]:
    """Record a stage as running, then completed or failed (with the error), atomically."""
    from smlp import recovery  # crash marker: a killed stage leaves a trace (smlp.recovery)

    marker = recovery.begin(store, name, command, update_manifest)
    record = StageRecord(command=command, parameters=parameters or {})
    started = time.perf_counter()
    try:
        yield record
    except BaseException as exc:
        record.status = "failed"
        record.error = _describe(exc)
        _finish(store, name, record, started)
        recovery.end(store, marker)
        raise
    record.status = "completed"
    _finish(store, name, record, started)
    recovery.end(store, marker)


def _finish(store: Store, name: str, record: StageRecord, started: float) -> None:
    record.finished_at = now()
    record.duration_s = round(time.perf_counter() - started, 3)

    def change(manifest: Manifest) -> None:
        manifest.stages[name] = record

    try:
        update_manifest(store, change)
    except SmlpError:
        if record.status == "completed":
            raise
        # A failed stage whose manifest cannot be written must still report its own error.


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return str(exc) or type(exc).__name__


def data_command(manifest: Manifest) -> str:
    """The command that wrote the manifest's data: what to re-run when a split is changed."""
    stage = manifest.stages.get("data")
    return stage.command if stage is not None else "smlp data generate"
