"""What smlp knows about an algorithm without importing it: names, channels, metrics, image."""

from __future__ import annotations

from dataclasses import dataclass, field

from smlp.algorithms.hyperparameters import Hyperparameter, HyperparameterValue

# A number as SageMaker's built-in metric regexes capture it.
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


@dataclass(frozen=True)
class MetricDefinition:
    """A metric SageMaker extracts from a job's log lines (``MetricDefinitions`` entry)."""

    name: str
    regex: str
    minimize: bool = True


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

    def metric(self, name: str) -> MetricDefinition:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        known = ", ".join(m.name for m in self.metrics)
        raise KeyError(f"{self.name} does not emit metric {name!r}; it emits {known}")

    def validate(self, values: dict[str, object]) -> dict[str, HyperparameterValue]:
        """Coerce every value, raising KeyError/ValueError naming the offending hyperparameter."""
        checked: dict[str, HyperparameterValue] = {}
        for name, value in values.items():
            declared = self.hyperparameters.get(name)
            if declared is None:
                raise KeyError(
                    f"{name}: not a {self.name} hyperparameter; known: "
                    + ", ".join(sorted(self.hyperparameters))
                )
            try:
                checked[name] = declared.coerce(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return checked
