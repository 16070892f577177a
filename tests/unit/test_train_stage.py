from __future__ import annotations

from typing import Any

import pytest

from smlp.errors import ConfigError, JobFailedError
from smlp.manifest import load_manifest
from smlp.stages.data import generate
from smlp.stages.train import parse_overrides, train
from smlp.store import LocalStore
from tests.data_paths import split_key
from tests.fakes import FakeBackend


@pytest.fixture
def store(small_config: Any, project: Any) -> LocalStore:
    store = LocalStore(project / "store")
    generate(small_config, store)
    return store


def test_jobs_follow_each_algorithm_contract(small_config: Any, store: LocalStore) -> None:
    backend = FakeBackend()
    train(small_config, store, backend, ["all"])
    jobs = {job.algorithm: job for job in backend.trained}
    assert set(jobs["xgboost"].channels) == {"train", "validation"}
    assert set(jobs["knn"].channels) == {"train", "test"}
    validation = split_key(store, "validation").rsplit("/", 1)[0]
    assert jobs["knn"].channels["test"] == store.uri(validation)  # never the test split
    assert jobs["knn"].hyperparameters["feature_dim"] == "8"
    assert all(isinstance(v, str) for job in jobs.values() for v in job.hyperparameters.values())
    assert jobs["sklearn-gbm"].container_version == "1.9-0"
    assert jobs["xgboost"].output_uri == store.uri("training")


def test_failed_job_is_recorded_and_other_candidates_are_kept(small_config: Any,
                                                              store: LocalStore) -> None:
    train(small_config, store, FakeBackend(), ["xgboost"])
    with pytest.raises(JobFailedError, match="AlgorithmError: fake failure"):
        train(small_config, store, FakeBackend(fail={"knn"}), ["knn", "sklearn-gbm"])
    manifest = load_manifest(store)
    assert set(manifest.candidates) == {"xgboost", "sklearn-gbm"}
    assert manifest.stages["train"].status == "failed"
    assert "fake failure" in (manifest.stages["train"].error or "")
    assert manifest.data is not None


def test_overrides_target_the_right_algorithms() -> None:
    result = parse_overrides(["max_depth=3", "knn.k=5"], ["xgboost", "knn", "sklearn-gbm"])
    assert result == {"xgboost": {"max_depth": "3"}, "knn": {"k": "5"},
                      "sklearn-gbm": {"max_depth": "3"}}
    with pytest.raises(ConfigError, match="expected name=value"):
        parse_overrides(["max_depth"], ["xgboost"])
    with pytest.raises(ConfigError, match="'knn' is not among the algorithms"):
        parse_overrides(["knn.k=3"], ["xgboost"])


def test_bad_override_value_fails_before_any_job(small_config: Any, store: LocalStore) -> None:
    backend = FakeBackend()
    with pytest.raises(ConfigError, match="--hp eta=3: expected <= 1"):
        train(small_config, store, backend, ["xgboost"], ["eta=3"])
    assert backend.trained == []


def test_feature_dim_must_match_the_data(small_config: Any, store: LocalStore) -> None:
    with pytest.raises(ConfigError, match="feature_dim: 5 does not match the data's 8"):
        train(small_config, store, FakeBackend(), ["knn"], ["feature_dim=5"])


def test_early_stopping_names_the_metric_the_container_needs(small_config: Any,
                                                             store: LocalStore) -> None:
    # Built-in XGBoost ignores early_stopping_rounds unless a metric is named (eval_metric or a
    # tuning objective: sagemaker-xgboost-container algorithm_mode/train.py train_job).
    config = small_config.model_copy(deep=True)
    config.algorithms.xgboost.hyperparameters.pop("early_stopping_rounds", None)
    backend = FakeBackend()
    train(config, store, backend, ["xgboost"], ["early_stopping_rounds=10"])
    train(config, store, backend, ["xgboost"], ["early_stopping_rounds=10", "eval_metric=mae"])
    train(config, store, backend, ["xgboost"])
    first, second, third = (job.hyperparameters for job in backend.trained)
    assert first["eval_metric"] == "rmse"  # the default objective's metric
    assert second["eval_metric"] == "mae"  # a named one is kept
    assert "eval_metric" not in third  # nothing to stop on: left as configured
