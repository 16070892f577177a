"""``tuning:``: search ranges and limits in SageMaker's terms (HyperParameterTuningJobConfig).

Every rule SageMaker would reject a tuning job for is checked here, so a bad range fails as one
config line before any trial starts; the rules that depend on the data (KNN's ``feature_dim``)
or on which algorithms are tuned (Grid needs categorical ranges) are in ``check_algorithm``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from smlp.algorithms import ALGORITHMS
from smlp.algorithms.hyperparameters import HyperparameterValue
from smlp.config.base import Strict

Scaling = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
MAX_RANGES = 30  # SageMaker: at most 30 hyperparameter ranges per tuning job
MAX_CATEGORICAL_VALUES = 30  # and at most 30 values in one categorical range
MAX_GRID_JOBS = 10_000  # a grid bigger than this is a mistake, not a search


class _NumericRange(Strict):
    """Bounds and scaling checks shared by continuous and integer ranges."""

    @model_validator(mode="after")
    def _check_bounds(self) -> Any:
        low, high = self.min_value, self.max_value  # type: ignore[attr-defined]
        scaling = self.scaling  # type: ignore[attr-defined]
        if scaling == "ReverseLogarithmic" and self.type == "integer":  # type: ignore[attr-defined]
            raise ValueError("ReverseLogarithmic scaling is for continuous ranges only "
                             "(SageMaker rejects it on integer ranges)")
        if low > high:
            raise ValueError(f"min_value {low} is greater than max_value {high}")
        if scaling == "Logarithmic" and low <= 0:
            raise ValueError(f"Logarithmic scaling needs min_value > 0, got {low}")
        if scaling == "ReverseLogarithmic" and not (0 <= low and high < 1):
            raise ValueError("ReverseLogarithmic scaling needs 0 <= min_value <= max_value < 1")
        return self


class ContinuousRange(_NumericRange):
    type: Literal["continuous"] = "continuous"
    min_value: float
    max_value: float
    scaling: Scaling = "Auto"


class IntegerRange(_NumericRange):
    type: Literal["integer"] = "integer"
    min_value: int
    max_value: int
    scaling: Scaling = "Auto"


class CategoricalRange(Strict):
    type: Literal["categorical"] = "categorical"
    values: list[HyperparameterValue]

    @field_validator("values")
    @classmethod
    def _check_values(cls, values: list[HyperparameterValue]) -> list[HyperparameterValue]:
        if not values:
            raise ValueError("a categorical range needs at least one value")
        if len(values) > MAX_CATEGORICAL_VALUES:
            raise ValueError(f"{len(values)} values; SageMaker allows at most "
                             f"{MAX_CATEGORICAL_VALUES} in a categorical range")
        return list(dict.fromkeys(values))


ParameterRange = Annotated[
    Union[ContinuousRange, IntegerRange, CategoricalRange], Field(discriminator="type")
]
_NUMERIC_KEYS = ("min_value", "max_value", "scaling")


def _one_kind(raw: object) -> object:
    """A range merged from several files keeps only the keys of its (last) ``type``.

    Config files are deep-merged over the defaults, so ``{type: categorical, values: [...]}``
    given for a default integer range arrives with that range's ``min_value`` too.
    """
    if not isinstance(raw, dict):
        return raw
    kind = raw.get("type")
    if kind == "categorical" and "values" in raw:
        return {k: v for k, v in raw.items() if k not in _NUMERIC_KEYS}
    if kind in {"continuous", "integer"} and "min_value" in raw:
        return {k: v for k, v in raw.items() if k != "values"}
    return raw


class AlgorithmTuning(Strict):
    """The search for one algorithm.

    A range set to ``null`` drops that default range; a static hyperparameter fixes its value
    and drops a range of the same name.
    """

    enabled: bool = Field(True, description="tuned by `smlp tune --algo all` / `smlp run --tune`")
    ranges: dict[str, ParameterRange] = {}
    static_hyperparameters: dict[str, HyperparameterValue] = Field(
        {}, description="fixed for every trial, over algorithms.<name>.hyperparameters")
    objective_metric: str | None = Field(None, description="default: the algorithm's own")
    objective_type: Literal["Minimize", "Maximize"] = "Minimize"

    @field_validator("ranges", mode="before")
    @classmethod
    def _drop_nulls(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        return {name: _one_kind(raw) for name, raw in value.items() if raw is not None}

    @model_validator(mode="after")
    def _static_wins(self) -> AlgorithmTuning:
        for name in self.static_hyperparameters:
            self.ranges.pop(name, None)
        return self

    def grid_size(self) -> int:
        size = 1
        for value in self.ranges.values():
            size *= len(value.values) if isinstance(value, CategoricalRange) else 0
        return size


class WarmStart(Strict):
    parents: list[str] = Field(min_length=1, max_length=5,
                               description="tuning job names from the manifest, or 'latest'")
    type: Literal["IDENTICAL_DATA_AND_ALGORITHM", "TRANSFER_LEARNING"] = (
        "IDENTICAL_DATA_AND_ALGORITHM"
    )


# What each algorithm uses for a tunable hyperparameter it is not given: the "Default" column
# of AWS's "XGBoost hyperparameters" table (docs.aws.amazon.com/sagemaker/latest/dg/
# xgboost_hyperparameters.html) and scikit-learn's GradientBoostingRegressor signature. A
# search starts from the untuned values: these, under algorithms.<name>.hyperparameters.
UNTUNED_DEFAULTS: dict[str, dict[str, HyperparameterValue]] = {
    "xgboost": {
        "eta": 0.3, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
        "colsample_bytree": 1.0, "colsample_bylevel": 1.0, "colsample_bynode": 1.0,
        "gamma": 0.0, "alpha": 0.0, "lambda": 1.0, "max_delta_step": 0.0, "max_bin": 256,
        "max_leaves": 0, "num_parallel_tree": 1, "tree_method": "auto",
        "grow_policy": "depthwise", "booster": "gbtree",
    },
    "sklearn-gbm": {
        "n_estimators": 100, "learning_rate": 0.1, "max_depth": 3, "subsample": 1.0,
        "min_samples_split": 2, "min_samples_leaf": 1, "min_weight_fraction_leaf": 0.0,
        "min_impurity_decrease": 0.0, "loss": "squared_error", "alpha": 0.9,
    },
    "knn": {},
}


def _default_ranges() -> dict[str, AlgorithmTuning]:
    """Ranges that tune well on tabular regression of 1k-100k rows in a few dozen trials.

    XGBoost stops a trial once its objective has not improved for ``early_stopping_rounds``
    (30, from algorithms.xgboost.hyperparameters, as for the untuned model), so ``num_round``
    is a ceiling (1000, also from there) and not tuned: a tuned ceiling only cuts slow
    learners short. Each trial costs the rounds it needs; eta's floor, 0.02, still converges
    under the ceiling (683 rounds on ggplot2 diamonds, 807 on Ecdat Computers at depth 7).

    scikit-learn's gradient boosting is not tuned by ``--algo all``: the same model family as
    XGBoost with single-threaded exact splits, so each trial costs several XGBoost trials. On
    Ecdat Computers (benchmarks/tuning.py, with the earlier defaults) its 20 trials took 127
    of `smlp run --tune`'s 263 s for a test RMSE 0.75% below tuned XGBoost's.
    ``--algo sklearn-gbm`` still tunes it.
    """
    return {
        "xgboost": AlgorithmTuning(
            ranges={
                "eta": ContinuousRange(min_value=0.02, max_value=0.3, scaling="Logarithmic"),
                "max_depth": IntegerRange(min_value=3, max_value=14, scaling="Linear"),
                "min_child_weight": ContinuousRange(min_value=0.5, max_value=50,
                                                    scaling="Logarithmic"),
                "subsample": ContinuousRange(min_value=0.5, max_value=1.0, scaling="Linear"),
                "colsample_bynode": ContinuousRange(min_value=0.3, max_value=1.0,
                                                    scaling="Linear"),
                "lambda": ContinuousRange(min_value=0.01, max_value=10, scaling="Logarithmic"),
            },
        ),
        "knn": AlgorithmTuning(ranges={
            "k": IntegerRange(min_value=1, max_value=64, scaling="Logarithmic"),
        }),
        "sklearn-gbm": AlgorithmTuning(enabled=False, ranges={
            "n_estimators": IntegerRange(min_value=50, max_value=400, scaling="Logarithmic"),
            "learning_rate": ContinuousRange(min_value=0.02, max_value=0.3,
                                             scaling="Logarithmic"),
            "max_depth": IntegerRange(min_value=2, max_value=8, scaling="Linear"),
            "subsample": ContinuousRange(min_value=0.5, max_value=1.0, scaling="Linear"),
            "min_samples_leaf": IntegerRange(min_value=1, max_value=50, scaling="Logarithmic"),
        }),
    }


class TuningConfig(Strict):
    strategy: Literal["Bayesian", "Random", "Grid", "Hyperband"] = "Bayesian"
    max_jobs: int = Field(20, ge=1, le=10_000, description="trials per algorithm (not Grid)")
    max_parallel_jobs: int = Field(2, ge=1, le=100, description="trials run side by side")
    random_seed: int = Field(42, ge=0)
    # Off by default, as on SageMaker. The median rule (Auto) judges a trial by its first
    # rounds, where a slow learning rate always looks worse. Measured on ggplot2 diamonds
    # (benchmarks/tuning.py): with Auto, 10 of 20 XGBoost trials stopped within their first
    # rounds, the search took 11 s instead of ~53 s, and the tuned model's test RMSE was 535.4
    # against 517.9-521.9 with Off.
    early_stopping: Literal["Off", "Auto"] = Field(
        "Off", description="Auto: stop a trial worse than the median of earlier ones "
        "(always Off under Hyperband, which stops trials itself)")
    timeout_seconds: float | None = Field(
        None, gt=0, description="wall-time budget of a whole `smlp tune` (all its algorithms); "
        "each algorithm's first trial, its untuned values, always runs")
    warm_start: WarmStart | None = None
    algorithms: dict[str, AlgorithmTuning] = Field(default_factory=_default_ranges)

    @model_validator(mode="after")
    def _check(self) -> TuningConfig:
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError(
                f"max_parallel_jobs ({self.max_parallel_jobs}) exceeds max_jobs ({self.max_jobs})"
            )
        if self.strategy == "Hyperband":
            # Hyperband stops trials itself; SageMaker takes it with early stopping Off only.
            self.early_stopping = "Off"
        for name, tuning in self.algorithms.items():
            _check_contract(name, tuning)
        return self

    def for_algorithm(self, name: str) -> AlgorithmTuning:
        """The search for ``name``; an algorithm without a section has no ranges."""
        return self.algorithms.get(name) or AlgorithmTuning()

    def enabled(self) -> list[str]:
        return [name for name in ALGORITHMS if self.for_algorithm(name).enabled]


def _check_contract(name: str, tuning: AlgorithmTuning) -> None:
    """Ranges and static values against what the algorithm accepts (its ``AlgorithmSpec``)."""
    spec = ALGORITHMS.get(name)
    where = f"algorithms.{name}"
    if spec is None:
        raise ValueError(f"{where}: unknown algorithm; expected one of {', '.join(ALGORITHMS)}")
    if len(tuning.ranges) > MAX_RANGES:
        raise ValueError(f"{where}.ranges: {len(tuning.ranges)} ranges; SageMaker allows at "
                         f"most {MAX_RANGES}")
    for section, params in (("ranges", tuning.ranges),
                            ("static_hyperparameters", tuning.static_hyperparameters)):
        for param in params:
            if param not in spec.hyperparameters:
                raise ValueError(f"{where}.{section}.{param}: not a hyperparameter of {name}; "
                                 "known: " + ", ".join(sorted(spec.hyperparameters)))
    for param, value in tuning.ranges.items():
        _check_range(spec.hyperparameters[param], value, f"{where}.ranges.{param}")
    try:
        spec.validate(tuning.static_hyperparameters)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{where}.static_hyperparameters.{exc.args[0]}") from None
    if tuning.objective_metric is not None:
        try:
            spec.objective(tuning.objective_metric)
        except KeyError as exc:
            raise ValueError(f"{where}.objective_metric: {exc.args[0]}") from None


def _check_range(declared: Any, value: Any, where: str) -> None:
    if not declared.tunable:
        raise ValueError(f"{where}: {declared.name} is set by smlp or fixed for the job; it "
                         "cannot be tuned (use static_hyperparameters)")
    if isinstance(value, CategoricalRange):
        for item in value.values:
            try:
                declared.coerce(item)
            except ValueError as exc:
                raise ValueError(f"{where}: value {item!r}: {exc}") from None
        return
    if declared.kind in {"str", "bool"}:
        raise ValueError(f"{where}: {declared.name} takes {declared.kind} values; give a "
                         "categorical range")
    if declared.kind == "int" and isinstance(value, ContinuousRange):
        raise ValueError(f"{where}: {declared.name} is an integer; give an integer range")
    for bound in (value.min_value, value.max_value):
        try:
            declared.coerce(bound)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def check_algorithm(config: TuningConfig, name: str) -> AlgorithmTuning:
    """Rules that apply once ``name`` is being tuned; raises ValueError with the config path."""
    tuning = config.for_algorithm(name)
    where = f"tuning.algorithms.{name}"
    if not tuning.ranges:
        raise ValueError(f"{where}.ranges: nothing to tune; give at least one range")
    if config.strategy == "Grid":
        numeric = [p for p, v in tuning.ranges.items() if not isinstance(v, CategoricalRange)]
        if numeric:
            raise ValueError(f"{where}.ranges: Grid search takes categorical ranges only; "
                             f"{', '.join(numeric)} {'is' if len(numeric) == 1 else 'are'} "
                             "numeric (list its values, or use strategy Bayesian/Random)")
        if tuning.grid_size() > MAX_GRID_JOBS:
            raise ValueError(f"{where}.ranges: the grid has {tuning.grid_size():,} "
                             f"combinations; at most {MAX_GRID_JOBS:,}")
        if config.max_parallel_jobs > tuning.grid_size():
            raise ValueError(f"tuning: max_parallel_jobs ({config.max_parallel_jobs}) exceeds "
                             f"the {tuning.grid_size()} combinations of the {name} grid")
    return tuning
