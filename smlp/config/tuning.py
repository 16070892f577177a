"""``tuning:``: search ranges and limits in SageMaker's terms (HyperParameterTuningJobConfig)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from smlp.algorithms import ALGORITHMS
from smlp.algorithms.hyperparameters import HyperparameterValue
from smlp.config.base import Strict

Scaling = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]


class _NumericRange(Strict):
    scaling: Scaling = "Auto"

    @model_validator(mode="after")
    def _check_bounds(self) -> Any:
        low, high = self.min_value, self.max_value  # type: ignore[attr-defined]
        if low > high:
            raise ValueError(f"min_value {low} is greater than max_value {high}")
        if self.scaling == "Logarithmic" and low <= 0:
            raise ValueError(f"Logarithmic scaling needs min_value > 0, got {low}")
        if self.scaling == "ReverseLogarithmic" and not (0 <= low and high < 1):
            raise ValueError("ReverseLogarithmic scaling needs 0 <= min_value <= max_value < 1")
        return self


class ContinuousRange(_NumericRange):
    type: Literal["continuous"] = "continuous"
    min_value: float
    max_value: float


class IntegerRange(_NumericRange):
    type: Literal["integer"] = "integer"
    min_value: int
    max_value: int


class CategoricalRange(Strict):
    type: Literal["categorical"] = "categorical"
    values: list[HyperparameterValue] = Field(min_length=1)


ParameterRange = Annotated[
    Union[ContinuousRange, IntegerRange, CategoricalRange], Field(discriminator="type")
]


class AlgorithmTuning(Strict):
    ranges: dict[str, ParameterRange] = {}
    static_hyperparameters: dict[str, HyperparameterValue] = {}
    objective_metric: str | None = Field(None, description="default: the algorithm's own")
    objective_type: Literal["Minimize", "Maximize"] = "Minimize"


class WarmStart(Strict):
    parents: list[str] = Field(min_length=1, max_length=5)
    type: Literal["IDENTICAL_DATA_AND_ALGORITHM", "TRANSFER_LEARNING"] = (
        "IDENTICAL_DATA_AND_ALGORITHM"
    )


def _default_ranges() -> dict[str, AlgorithmTuning]:
    return {
        "xgboost": AlgorithmTuning(ranges={
            "num_round": IntegerRange(min_value=50, max_value=600, scaling="Logarithmic"),
            "max_depth": IntegerRange(min_value=3, max_value=10),
            "eta": ContinuousRange(min_value=0.01, max_value=0.3, scaling="Logarithmic"),
            "subsample": ContinuousRange(min_value=0.5, max_value=1.0),
            "colsample_bytree": ContinuousRange(min_value=0.5, max_value=1.0),
            "min_child_weight": ContinuousRange(min_value=1, max_value=20, scaling="Logarithmic"),
            "lambda": ContinuousRange(min_value=0.01, max_value=10, scaling="Logarithmic"),
        }),
        "knn": AlgorithmTuning(ranges={
            "k": IntegerRange(min_value=1, max_value=64, scaling="Logarithmic"),
        }),
        "sklearn-gbm": AlgorithmTuning(ranges={
            "n_estimators": IntegerRange(min_value=50, max_value=400, scaling="Logarithmic"),
            "max_depth": IntegerRange(min_value=2, max_value=8),
            "learning_rate": ContinuousRange(min_value=0.02, max_value=0.3,
                                             scaling="Logarithmic"),
            "subsample": ContinuousRange(min_value=0.5, max_value=1.0),
        }),
    }


class TuningConfig(Strict):
    strategy: Literal["Bayesian", "Random", "Grid", "Hyperband"] = "Bayesian"
    max_jobs: int = Field(20, ge=1, le=10_000)
    max_parallel_jobs: int = Field(2, ge=1, le=100)
    random_seed: int = Field(42, ge=0)
    early_stopping: Literal["Off", "Auto"] = "Off"
    timeout_seconds: float | None = Field(None, gt=0, description="wall-time budget")
    warm_start: WarmStart | None = None
    algorithms: dict[str, AlgorithmTuning] = Field(default_factory=_default_ranges)

    @model_validator(mode="after")
    def _check(self) -> TuningConfig:
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError(
                f"max_parallel_jobs ({self.max_parallel_jobs}) exceeds max_jobs ({self.max_jobs})"
            )
        if self.strategy == "Hyperband" and self.early_stopping != "Off":
            raise ValueError("Hyperband needs early_stopping Off (it stops trials itself)")
        for name, tuning in self.algorithms.items():
            spec = ALGORITHMS.get(name)
            if spec is None:
                raise ValueError(
                    f"algorithms.{name}: unknown algorithm; expected one of {', '.join(ALGORITHMS)}"
                )
            try:
                for param in (*tuning.ranges, *tuning.static_hyperparameters):
                    if param not in spec.hyperparameters:
                        raise KeyError(param)
                spec.validate(tuning.static_hyperparameters)
            except KeyError as exc:
                raise ValueError(
                    f"algorithms.{name}: {exc.args[0]!r} is not a {name} hyperparameter"
                ) from None
            except ValueError as exc:
                raise ValueError(f"algorithms.{name}.static_hyperparameters.{exc}") from None
            if tuning.objective_metric is not None:
                try:
                    spec.metric(tuning.objective_metric)
                except KeyError as exc:
                    raise ValueError(f"algorithms.{name}.objective_metric: {exc.args[0]}") from None
        return self
