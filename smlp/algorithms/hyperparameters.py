"""Typed hyperparameter declarations shared by config validation, training, tuning and SageMaker.

SageMaker passes every hyperparameter as a string; the declarations here check a value once,
where it enters (config or ``--hp``), so that a bad value fails before any job starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HyperparameterValue = int | float | str | bool
Kind = Literal["int", "float", "str", "bool"]


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter as the algorithm (container or script) accepts it."""

    name: str
    kind: Kind
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None  # allowed values, as strings (numbers too)
    required: bool = False
    tunable: bool = True
    also: tuple[str, ...] = ()  # extra literal values accepted, e.g. "auto"
    min_open: bool = False  # the minimum itself is excluded: (minimum, maximum]

    def coerce(self, value: object) -> HyperparameterValue:
        """Return ``value`` as this hyperparameter's type, or raise ValueError saying what fits."""
        if isinstance(value, str) and value in self.also:
            return value
        if self.kind == "bool":
            return _to_bool(value)
        if self.kind == "str":
            text = str(value)
            if self.choices is not None and text not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}, got {text!r}")
            return text
        number = _to_number(value, self.kind)
        if self.choices is not None and _fmt(number) not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {_fmt(number)}")
        if self.minimum is not None and (number <= self.minimum if self.min_open
                                         else number < self.minimum):
            sign = ">" if self.min_open else ">="
            raise ValueError(f"expected {sign} {_fmt(self.minimum)}, got {_fmt(number)}")
        if self.maximum is not None and number > self.maximum:
            raise ValueError(f"expected <= {_fmt(self.maximum)}, got {_fmt(number)}")
        return number


def as_string(value: HyperparameterValue) -> str:
    """SageMaker's string form: booleans lower-case, floats without a trailing ``.0`` noise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return str(value)


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _to_number(value: object, kind: Kind) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"expected {'an integer' if kind == 'int' else 'a number'}, "
                         f"got {value!r}") from None
    if kind == "int":
        if not number.is_integer():
            raise ValueError(f"expected an integer, got {value!r}")
        return int(number)
    return number


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
