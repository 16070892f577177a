"""A command whose jobs SageMaker would refuse sends none of them, even the valid ones that
come first: training jobs run side by side, tuning jobs one after the other."""

from __future__ import annotations

from typing import Any

import pytest

from smlp.backends.sagemaker import SageMakerBackend
from smlp.backends.sagemaker.session import AwsSession
from smlp.errors import ConfigError

ROLE = "arn:aws:iam::123456789012:role/smlp"


class Sent(Exception):
    """Raised instead of sending: a request got as far as the wire."""


class RecordingBackend(SageMakerBackend):
    """The real backend (checks, request builders) with ``send`` recording, not sending."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    def send(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.validate((operation, params))
        self.sent.append(operation)
        raise Sent(operation)


@pytest.fixture
def spot_project(small_config: Any, make_store: Any) -> tuple[Any, Any]:
    from smlp.config import SageMakerBackendConfig
    from smlp.stages.data import generate

    store = make_store("s3")
    backend = SageMakerBackendConfig(region="us-east-1", role_arn=ROLE, use_spot=True,
                                     max_wait_seconds=7200, max_parallel_jobs=4)
    config = small_config.model_copy(update={"backend": backend, "store": store.root})
    for name in ("xgboost", "sklearn-gbm"):
        config.algorithms.get(name).max_runtime_seconds = 3600
    generate(config, store)
    return config, store


def test_train_sends_nothing_when_one_job_is_impossible(spot_project: tuple[Any, Any]) -> None:
    from smlp.stages.train import train

    config, store = spot_project
    backend = RecordingBackend(config, store, session=AwsSession("us-east-1", 3))
    assert backend.max_parallel_jobs == 4  # xgboost and knn would be sent side by side
    with pytest.raises(ConfigError, match="backend.max_wait_seconds: 7200 s, but knn does not "
                                          "checkpoint"):
        train(config, store, backend, ["xgboost", "knn"])
    assert backend.sent == []


def test_tune_sends_nothing_when_a_later_algorithm_is_impossible(
        spot_project: tuple[Any, Any]) -> None:
    from smlp.stages.tune import tune

    config, store = spot_project
    config = config.model_copy(update={"tuning": config.tuning.model_copy(
        update={"strategy": "Hyperband", "early_stopping": "Off"})})
    config.algorithms.get("knn").max_runtime_seconds = 3600
    backend = RecordingBackend(config.model_copy(update={"backend": config.backend.model_copy(
        update={"max_wait_seconds": None})}), store, session=AwsSession("us-east-1", 3))
    with pytest.raises(ConfigError, match="Hyperband needs a hyperparameter counting epochs, "
                                          "and knn has none"):
        tune(backend.config, store, backend, ["xgboost", "knn"])
    assert backend.sent == []
