"""What smlp knows about an algorithm without importing it: names, channels, metrics, image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smlp.algorithms.hyperparameters import Hyperparameter, HyperparameterValue

# A number as SageMaker's built-in metric regexes capture it.
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
HYPERBAND_FIRST_RUNG = 27  # a static resource's first rung: 1/27 of it (3 rungs, factor 3)


@dataclass(frozen=True)
class MetricDefinition:
    """A metric SageMaker extracts from a job's log lines (``MetricDefinitions`` entry)."""

    name: str
    regex: str
    minimize: bool = True
    # A tuning objective SageMaker accepts (the algorithm's SupportedTuningJobObjectiveMetrics);
    # some emitted metrics (XGBoost's train:*) are read from the log but cannot be tuned on.
    tunable: bool = True

    @property
    def direction(self) -> str:
        return "Minimize" if self.minimize else "Maximize"


@dataclass(frozen=True)
class AlgorithmSpec:
    """The contract of one algorithm, identical for the local and the SageMaker backend.

    ``channels`` maps each SageMaker channel to the prepared split fed into it; the test split
    is never a channel, so that ``smlp compare`` scores every candidate on data no job has seen.
    """

    name: str
    title: str
    entry_point: str  # file in training_scripts/
    image_framework: str  # key for sagemaker.core.image_uris.retrieve
    default_container_version: str
    content_type: str
    channels: dict[str, str]
    required_channels: tuple[str, ...]
    hyperparameters: dict[str, Hyperparameter]
    defaults: dict[str, HyperparameterValue]
    metrics: tuple[MetricDefinition, ...]
    default_objective: str
    script_mode: bool = False
    # Hyperparameters smlp fills in from the data (e.g. KNN's feature_dim).
    derived: tuple[str, ...] = field(default=())
    # Writes checkpoints to /opt/ml/checkpoints and resumes from them (managed spot training).
    supports_checkpoints: bool = False
    # The hyperparameter counting epochs/rounds (one objective metric line each): what
    # Hyperband allocates. None: the algorithm has no such resource.
    resource: str | None = None

    def metric(self, name: str) -> MetricDefinition:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        known = ", ".join(m.name for m in self.metrics)
        raise KeyError(f"{self.name} does not emit metric {name!r}; it emits {known}")

    def tuning_metrics(self) -> tuple[MetricDefinition, ...]:
        """The metrics a tuning job may optimise."""
        return tuple(m for m in self.metrics if m.tunable)

    def objective(self, name: str) -> MetricDefinition:
        """The tuning objective ``name``; KeyError saying which metrics can be tuned on."""
        tunable = ", ".join(m.name for m in self.tuning_metrics())
        metric = self.metric(name)
        if not metric.tunable:
            raise KeyError(f"{self.name} emits {name!r} but SageMaker does not tune on it; "
                           f"tunable objectives: {tunable}")
        return metric

    def hyperband_resources(self, ranges: dict[str, Any],
                            static: dict[str, Any]) -> tuple[int, int] | None:
        """(MinResource, MaxResource) for Hyperband, in epochs of ``resource``.

        A tuned resource gives its range's bounds; a static one is the most any trial runs,
        with the first rung at 1/27 of it (reduction factor 3 over three rungs, like the local
        pruner). None when the algorithm has no resource or no value for it.
        """
        if self.resource is None:
            return None
        searched = ranges.get(self.resource)
        if searched is not None:
            values = getattr(searched, "values", None)
            numbers = ([int(float(v)) for v in values] if values
                       else [int(searched.min_value), int(searched.max_value)])
            return max(1, min(numbers)), max(numbers)
        value = static.get(self.resource)
        if value is None:
            return None
        most = int(float(value))
        return max(1, most // HYPERBAND_FIRST_RUNG), most

    def validate(self, values: dict[str, object]) -> dict[str, HyperparameterValue]:
        """Coerce every value, raising KeyError/ValueError naming the offending hyperparameter."""
        checked: dict[str, HyperparameterValue] = {}
        for name, value in values.items():
            declared = self.hyperparameters.get(name)
            if declared is None:
                from smlp.suggest import did_you_mean

                hint = did_you_mean(name, self.hyperparameters)
                raise KeyError(f"{name}: not a {self.name} hyperparameter" + (hint or (
                    "; known: " + ", ".join(sorted(self.hyperparameters)))))
            try:
                checked[name] = declared.coerce(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return checked
