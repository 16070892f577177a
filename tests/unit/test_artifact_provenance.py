"""Candidates remember which backend trained them and what their model.tar.gz holds.

A k-NN model trained locally (faiss and numpy) is not the format SageMaker's knn:1 container
reads, nor the reverse; XGBoost and scikit-learn models are the same files on both. So a
cross-backend k-NN transform or compare is refused before any job starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from smlp.backends.base import (
    TransformJobSpec,
    TransformResult,
    TrialResult,
    TuningJobSpec,
    TuningResult,
)
from smlp.errors import BackendError
from smlp.manifest import MANIFEST_KEY, Artifact, Candidate, load_manifest
from smlp.stages.compare import compare
from smlp.stages.data import generate
from smlp.stages.run import run_pipeline
from smlp.stages.train import register_candidate, train
from smlp.stages.transform import transform
from smlp.store import LocalStore
from tests.fakes import FakeBackend


@dataclass
class RecordingBackend(FakeBackend):
    """A fake that records transform jobs (and then fails them: there is no model)."""

    transforms: list[TransformJobSpec] = field(default_factory=list)

    def transform(self, job: TransformJobSpec, events: Any = None) -> TransformResult:
        self.transforms.append(job)
        raise NotImplementedError("reached the transform job")

    def tune(self, job: TuningJobSpec, events: Any = None) -> TuningResult:
        """One completed trial (no real model)."""
        trial = TrialResult(name=f"{job.name}-001", status="Completed", objective=1.0,
                            hyperparameters=dict(job.training.hyperparameters),
                            final_metrics={job.objective_metric: 1.0}, model_uri="u",
                            model_sha256="0" * 64)
        return TuningResult(name=job.name, status="Completed", trials=[trial], best=trial)


@pytest.fixture
def store(small_config: Any, project: Any) -> LocalStore:
    store = LocalStore(project / "store")
    generate(small_config, store)
    return store


def tuned(store: LocalStore, algo: str, backend: str) -> Candidate:
    data = load_manifest(store).require_data()
    candidate = Candidate(name=f"{algo}-tuned", algo=algo, source="tune", job_name=f"{algo}-t1",
                          hyperparameters={}, model=Artifact(uri="u", sha256="0" * 64),
                          data_sha256=data.splits["train"].sha256, backend=backend)
    register_candidate(store, candidate)
    return candidate


def test_candidates_record_backend_and_artifact_format(small_config: Any,
                                                       store: LocalStore) -> None:
    train(small_config, store, FakeBackend(name="sagemaker"), ["knn", "xgboost"])
    train(small_config, store, FakeBackend(name="local"), ["sklearn-gbm"])
    saved = json.loads(store.read_bytes(MANIFEST_KEY))["candidates"]
    provenance = {name: (c["backend"], c["artifact_format"]) for name, c in saved.items()}
    assert provenance == {"knn": ("sagemaker", "sagemaker-knn-1"),
                          "xgboost": ("sagemaker", "xgboost-ubj"),
                          "sklearn-gbm": ("local", "sklearn-joblib")}


def test_a_tuned_candidate_records_the_tuning_backend(small_config: Any,
                                                     store: LocalStore) -> None:
    from smlp.stages.tune import tune

    tune(small_config, store, RecordingBackend(name="sagemaker"), ["knn"])
    candidate = load_manifest(store).candidates["knn-tuned"]
    assert (candidate.backend, candidate.artifact_format) == ("sagemaker", "sagemaker-knn-1")


def test_older_manifests_get_provenance_from_their_records(small_config: Any,
                                                           store: LocalStore) -> None:
    train(small_config, store, FakeBackend(name="sagemaker"), ["knn"])
    tuned(store, "knn", "local")
    raw = json.loads(store.read_bytes(MANIFEST_KEY))
    raw["tuning"] = {"knn-tune-1": {
        "name": "knn-tune-1", "algo": "knn", "backend": "sagemaker", "strategy": "Bayesian",
        "objective_metric": "test:mse", "objective_type": "Minimize", "max_jobs": 2,
        "trials": [{"name": "knn-t1", "status": "Completed"}]}}
    raw["candidates"]["orphan"] = {**raw["candidates"]["knn"], "name": "orphan",
                                   "job_name": "nobody-ran-this"}
    for candidate in raw["candidates"].values():  # as written before the fields existed
        del candidate["backend"], candidate["artifact_format"]
    store.write_bytes(MANIFEST_KEY, json.dumps(raw).encode())
    candidates = load_manifest(store).candidates
    assert candidates["knn"].backend == "sagemaker"  # the train stage that ran its job
    assert candidates["knn"].artifact_format == "sagemaker-knn-1"
    assert candidates["knn-tuned"].backend == "sagemaker"  # the tuning job that ran its trial
    assert (candidates["orphan"].backend, candidates["orphan"].artifact_format) == (
        "local", "smlp-knn-npz-1")  # smlp's default backend


@pytest.mark.parametrize(("trained_by", "served_by"), [("local", "sagemaker"),
                                                       ("sagemaker", "local")])
def test_cross_backend_knn_transform_is_refused(small_config: Any, store: LocalStore,
                                                trained_by: str, served_by: str) -> None:
    train(small_config, store, FakeBackend(name=trained_by), ["knn"])
    backend = RecordingBackend(name=served_by)
    with pytest.raises(BackendError) as caught:
        transform(small_config, store, backend, model="knn")
    message = str(caught.value)
    assert message.startswith(f"candidate knn: its knn model was trained by the {trained_by} "
                              "backend")
    assert f"`smlp train --algo knn --backend {served_by}`" in message
    assert f"--backend {trained_by}" in message and "\n" not in message
    assert backend.transforms == []


def test_compare_refuses_before_its_first_job(small_config: Any, store: LocalStore) -> None:
    # "knn" (SageMaker's) would be scored first; "knn-tuned" (local) is what SageMaker can't
    # serve: nothing may run.
    train(small_config, store, FakeBackend(name="sagemaker"), ["knn", "xgboost"])
    tuned(store, "knn", "local")
    backend = RecordingBackend(name="sagemaker")
    with pytest.raises(BackendError, match=r"candidate knn-tuned: .*re-run `smlp tune --algo "
                                           r"knn --backend sagemaker`"):
        compare(small_config, store, backend)
    assert backend.transforms == []


def test_xgboost_and_sklearn_models_serve_on_either_backend(small_config: Any,
                                                            store: LocalStore) -> None:
    train(small_config, store, FakeBackend(name="local"), ["xgboost", "sklearn-gbm"])
    backend = RecordingBackend(name="sagemaker")
    with pytest.raises(NotImplementedError, match="reached the transform job"):
        compare(small_config, store, backend)
    assert len(backend.transforms) == 1


def test_run_refuses_before_any_training_job(small_config: Any, store: LocalStore) -> None:
    tuned(store, "knn", "local")  # not replaced by `smlp run` (without --tune)
    backend = RecordingBackend(name="sagemaker")
    with pytest.raises(BackendError, match="candidate knn-tuned"):
        run_pipeline(small_config, store, backend)
    assert backend.trained == [] and backend.transforms == []
