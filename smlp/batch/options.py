"""What a batch run is asked to do and what it did; light to import (no pyarrow, no numpy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from smlp.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

SPLIT_TYPES = ("Line", "None")
BATCH_STRATEGIES = ("MultiRecord", "SingleRecord")
JOIN_SOURCES = (None, "None", "Input")


@dataclass(frozen=True)
class BatchOptions:
    """CreateTransformJob's CSV options, named as there, so a config maps onto them 1:1.

    Locally ``split_type``, ``batch_strategy`` and ``max_payload_mb`` change how rows are
    grouped into mini-batches, never the output, exactly as on SageMaker.
    """

    split_type: str = "Line"
    batch_strategy: str = "MultiRecord"
    max_payload_mb: int = 6
    input_filter: str | None = None
    join_source: str | None = None
    output_filter: str | None = None

    def __post_init__(self) -> None:
        _check("split_type", self.split_type, SPLIT_TYPES)
        _check("batch_strategy", self.batch_strategy, BATCH_STRATEGIES)
        _check("join_source", self.join_source, JOIN_SOURCES)
        if self.max_payload_mb < 0:
            raise ConfigError(
                f"transform.max_payload_mb: must be >= 0 (0 = no limit), got {self.max_payload_mb}"
            )

    @property
    def joins_input(self) -> bool:
        return self.join_source == "Input"


@dataclass
class BatchResult:
    """One ``(input, output, rows)`` per file, in the order they were processed."""

    files: list[tuple[Path, Path, int]]
    rows: int
    seconds: float


class RowEncoder(Protocol):
    """Turns a batch of raw, named columns into the model's numeric feature matrix.

    Used for input with a header (the user's original columns); keeps the engine ignorant
    of schemas and categorical encodings.
    """

    def column_types(self) -> dict[str, pa.DataType]:
        """Arrow types to parse the named columns as; other columns arrive as strings."""
        ...

    def encode(self, batch: pa.RecordBatch) -> np.ndarray:
        """An ``(n_rows, n_features)`` float32 matrix for ``batch``."""
        ...


def _check(name: str, value: str | None, allowed: tuple[str | None, ...]) -> None:
    if value not in allowed:
        expected = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"transform.{name}: got {value!r}; expected one of {expected}")
