"""``algorithms:``: one section per algorithm, checked against that algorithm's contract."""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, Literal

from pydantic import Field, field_validator

from smlp.algorithms import ALGORITHMS, knn
from smlp.algorithms.hyperparameters import HyperparameterValue
from smlp.config.base import Strict


class AlgorithmConfig(Strict):
    """Settings of one algorithm; ``algorithm`` names which contract validates them."""

    algorithm: ClassVar[str]

    enabled: bool = True
    hyperparameters: dict[str, HyperparameterValue] = {}
    container_version: str = ""
    instance_type: str = Field("ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    # Several instances shard the train channel by S3 key (XGBoost, k-NN); which input modes
    # each algorithm accepts is SageMaker's rule: smlp.backends.sagemaker.rules.INPUT_MODES.
    instance_count: int = Field(1, ge=1, le=100)
    input_mode: Literal["File", "FastFile", "Pipe"] = "File"
    volume_size_gb: int = Field(30, ge=1, le=16_384)
    # StoppingCondition.MaxRuntimeInSeconds: 1 s to 28 days (SageMaker API reference).
    max_runtime_seconds: int = Field(86_400, ge=1, le=2_419_200)

    # Defaults over the contract's seed values (``AlgorithmSpec.defaults``).
    default_changes: ClassVar[dict[str, HyperparameterValue]] = {}

    def __init__(self, **data: Any) -> None:
        spec = ALGORITHMS[self.algorithm]
        data.setdefault("hyperparameters", {**spec.defaults, **self.default_changes})
        data.setdefault("container_version", spec.default_container_version)
        super().__init__(**data)

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _check_hyperparameters(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        # null drops a default (e.g. `early_stopping_rounds: null` trains every round)
        value = {name: item for name, item in value.items() if item is not None}
        spec = ALGORITHMS[cls.algorithm]
        try:
            checked = spec.validate(value)
            if spec.name == "knn":
                knn.check_combination(checked)
        except (KeyError, ValueError) as exc:
            raise ValueError(exc.args[0]) from None
        return checked


class XGBoostConfig(AlgorithmConfig):
    algorithm: ClassVar[str] = "xgboost"
    # Early stopping on the validation channel (the built-in's early_stopping_rounds; the
    # container keeps the best round) makes num_round a ceiling: a model stops once 30 rounds
    # bring no gain. Measured with the other defaults (benchmarks/tuning.py data sets, test
    # RMSE against 100 rounds without it): ggplot2 diamonds -2.0% (197 rounds), Ecdat
    # Computers -4.3% (198), Treatment -3.5% (14), SLID -2.6% (17).
    default_changes: ClassVar[dict[str, HyperparameterValue]] = {
        "num_round": 1000, "early_stopping_rounds": 30}


class KnnConfig(AlgorithmConfig):
    algorithm: ClassVar[str] = "knn"


class SklearnGbmConfig(AlgorithmConfig):
    algorithm: ClassVar[str] = "sklearn-gbm"


class AlgorithmsConfig(Strict):
    xgboost: XGBoostConfig = XGBoostConfig()
    knn: KnnConfig = KnnConfig()
    sklearn_gbm: SklearnGbmConfig = Field(SklearnGbmConfig(), alias="sklearn-gbm")

    def get(self, name: str) -> AlgorithmConfig:
        """Section by ``--algo`` name (``sklearn-gbm``, not the Python attribute name)."""
        return getattr(self, name.replace("-", "_"))

    def enabled(self) -> list[str]:
        return [name for name, section in self.items() if section.enabled]

    def items(self) -> Iterator[tuple[str, AlgorithmConfig]]:
        for name in ALGORITHMS:
            yield name, self.get(name)
