"""SageMaker parameter ranges as optuna distributions, and trial values as hyperparameters.

Scaling follows SageMaker: ``Logarithmic`` samples uniformly in log space, ``ReverseLogarithmic``
samples ``1 - x`` in log space (dense near 1, for values like momentum), ``Auto`` picks
logarithmic when a positive range spans two orders of magnitude or more, else linear.
A reverse-logarithmic parameter is stored in optuna as ``1 - x`` so that optuna's own
log-scale machinery models it; ``to_hyperparameters`` turns it back.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smlp.algorithms.hyperparameters import as_string
from smlp.config.tuning import CategoricalRange, ContinuousRange, IntegerRange

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from smlp.config.tuning import ParameterRange

AUTO_LOG_SPAN = 100.0  # max/min at which Auto scaling turns logarithmic


def effective_scaling(value: ContinuousRange | IntegerRange) -> str:
    """The scaling a range is searched with once ``Auto`` is resolved."""
    if value.scaling != "Auto":
        return value.scaling
    positive = value.min_value > 0
    if positive and value.max_value / value.min_value >= AUTO_LOG_SPAN:
        return "Logarithmic"
    return "Linear"


@dataclass(frozen=True)
class SearchSpace:
    """The ranges of one tuning job, in a fixed (sorted) order."""

    ranges: dict[str, ParameterRange]

    @classmethod
    def of(cls, ranges: dict[str, ParameterRange]) -> SearchSpace:
        return cls(dict(sorted(ranges.items())))

    def distributions(self) -> dict[str, BaseDistribution]:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        result: dict[str, BaseDistribution] = {}
        for name, value in self.ranges.items():
            if isinstance(value, CategoricalRange):
                result[name] = CategoricalDistribution(value.values)
                continue
            scaling = effective_scaling(value)
            if isinstance(value, IntegerRange):
                result[name] = IntDistribution(value.min_value, value.max_value,
                                               log=scaling == "Logarithmic")
            elif scaling == "ReverseLogarithmic":
                result[name] = FloatDistribution(1 - value.max_value, 1 - value.min_value,
                                                 log=True)
            else:
                result[name] = FloatDistribution(value.min_value, value.max_value,
                                                 log=scaling == "Logarithmic")
        return result

    def _reversed(self, name: str) -> bool:
        value = self.ranges[name]
        return isinstance(value, ContinuousRange) and value.scaling == "ReverseLogarithmic"

    def to_hyperparameters(self, params: dict[str, Any]) -> dict[str, str]:
        """Optuna's values of a trial as SageMaker's string hyperparameters."""
        result = {}
        for name, value in params.items():
            if self._reversed(name):
                value = 1 - value
            result[name] = as_string(value)
        return result

    def from_hyperparameters(self, values: dict[str, str]) -> dict[str, Any] | None:
        """A recorded trial's strings as optuna values; None if any falls outside this space."""
        distributions = self.distributions()
        params: dict[str, Any] = {}
        for name, value in self.ranges.items():
            text = values.get(name)
            if text is None:
                return None
            try:
                if isinstance(value, CategoricalRange):
                    matches = [v for v in value.values if as_string(v) == text]
                    if not matches:
                        return None
                    params[name] = matches[0]
                    continue
                number = float(text)
            except ValueError:
                return None
            if isinstance(value, IntegerRange):
                if not number.is_integer():
                    return None
                params[name] = int(number)
            else:
                params[name] = 1 - number if self._reversed(name) else number
            dist = distributions[name]
            if not dist._contains(dist.to_internal_repr(params[name])):
                return None
        return params

    def clip(self, values: dict[str, str]) -> dict[str, Any] | None:
        """Like ``from_hyperparameters``, but numeric values are clipped into the ranges.

        Used for transfer learning, where a parent searched other ranges.
        """
        clipped = dict(values)
        for name, value in self.ranges.items():
            text = values.get(name)
            if text is None or isinstance(value, CategoricalRange):
                continue
            try:
                number = float(text)
            except ValueError:
                return None
            if not math.isfinite(number):
                return None
            number = min(max(number, value.min_value), value.max_value)
            if isinstance(value, IntegerRange):
                number = round(number)
            clipped[name] = as_string(number)
        return self.from_hyperparameters(clipped)

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of categorical values, in a stable order (Grid strategy)."""
        names = list(self.ranges)
        choices = []
        for name in names:
            value = self.ranges[name]
            if not isinstance(value, CategoricalRange):
                raise ValueError(f"{name}: Grid search takes categorical ranges only")
            choices.append(value.values)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]

    def describe(self) -> dict[str, Any]:
        """The ranges as plain JSON (for tuning.json and the manifest)."""
        return {name: value.model_dump(mode="json") for name, value in self.ranges.items()}
