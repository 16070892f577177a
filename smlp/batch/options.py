"""What a batch run is asked to do and what it did; light to import (no pyarrow, no numpy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from smlp.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

SPLIT_TYPES = ("Line", "None")
BATCH_STRATEGIES = ("MultiRecord", "SingleRecord")
JOIN_SOURCES = (None, "None", "Input")
UNSEEN_POLICIES = (None, "warn", "error")

# column -> category value (None: a missing cell) -> rows; what RowEncoder.encode adds to.
UnseenCounts = dict[str, dict[str | None, int]]


@dataclass(frozen=True)
class BatchOptions:
    """CreateTransformJob's CSV options, named as there, so a config maps onto them 1:1.

    Locally ``split_type``, ``batch_strategy`` and ``max_payload_mb`` change how rows are
    grouped into mini-batches, never the output, exactly as on SageMaker.

    The last three are smlp's own, for input with a header (an encoder): ``named_output``
    writes a header line and the ``id_column`` beside the prediction instead of SageMaker's
    bare output (see ``smlp.batch.output``); ``unseen_categories`` asks the encoder to count
    categories it does not know (``warn``: count them, ``error``: refuse the file; ``None``:
    do not ask).
    """

    split_type: str = "Line"
    batch_strategy: str = "MultiRecord"
    max_payload_mb: int = 6
    input_filter: str | None = None
    join_source: str | None = None
    output_filter: str | None = None
    named_output: bool = False
    id_column: str | None = None
    unseen_categories: str | None = None

    def __post_init__(self) -> None:
        _check("split_type", self.split_type, SPLIT_TYPES)
        _check("batch_strategy", self.batch_strategy, BATCH_STRATEGIES)
        _check("join_source", self.join_source, JOIN_SOURCES)
        _check("unseen_categories", self.unseen_categories, UNSEEN_POLICIES)
        if self.max_payload_mb < 0:
            raise ConfigError(
                f"transform.max_payload_mb: must be >= 0 (0 = no limit), got {self.max_payload_mb}"
            )

    @property
    def joins_input(self) -> bool:
        return self.join_source == "Input"

    @property
    def has_filters(self) -> bool:
        """Any of SageMaker's DataProcessing fields set: the user asked for its output shape."""
        return any(value is not None for value in
                   (self.input_filter, self.join_source, self.output_filter))


def batch_options(config: Any, schema: Any = None, *, filters: bool = True) -> BatchOptions:
    """The one translation of a ``TransformConfig`` (and the job's schema) into BatchOptions.

    Both backends build their local run from it, so the same input gives the same file on
    either. Named output applies to input with a header (a ``schema``) unless the config asks
    for SageMaker's shape: ``raw``, or any of the filters.
    """
    options = BatchOptions(
        split_type=config.split_type,
        batch_strategy=config.batch_strategy,
        max_payload_mb=config.max_payload_mb,
        input_filter=config.input_filter if filters else None,
        join_source=config.join_source if filters else None,
        output_filter=config.output_filter if filters else None,
        unseen_categories=config.unseen_categories if schema is not None else None,
    )
    if schema is None or not filters or config.raw or options.has_filters:
        return options
    from dataclasses import replace

    return replace(options, named_output=True, id_column=schema.id_column)


@dataclass
class BatchResult:
    """One ``(input, output, rows)`` per file, in the order they were processed.

    ``seconds`` is the run's own time (read, parse, predict, write), without loading the
    model; ``unseen`` the categories the encoder did not know, when it was asked to count.
    """

    files: list[tuple[Path, Path, int]]
    rows: int
    seconds: float
    unseen: UnseenCounts = field(default_factory=dict)


class RowEncoder(Protocol):
    """Turns a batch of raw, named columns into the model's numeric feature matrix.

    Used for input with a header (the user's original columns); keeps the engine ignorant
    of schemas and categorical encodings. The engine passes ``unseen`` only when
    ``BatchOptions.unseen_categories`` is set, so a simple encoder may leave it out.

    An encoder that also has ``column_kinds()`` (``float64``/``string`` by name) and
    ``encode_rows(columns, rows, unseen=...)`` (Python lists) lets a few plain rows skip
    pyarrow altogether (smlp.batch.few_rows); smlp's Schema has both.
    """

    def column_types(self) -> dict[str, pa.DataType]:
        """Arrow types to parse the named columns as; other columns arrive as strings."""
        ...

    def encode(self, batch: pa.RecordBatch) -> np.ndarray:
        """An ``(n_rows, n_features)`` float32 matrix for ``batch``."""
        ...


def merge_unseen(into: UnseenCounts, counts: UnseenCounts) -> None:
    for column, values in counts.items():
        total = into.setdefault(column, {})
        for value, rows in values.items():
            total[value] = total.get(value, 0) + rows


def describe_unseen(counts: dict[str | None, int], limit: int = 5) -> str:
    """``'Paris' (2 rows), missing (1 row)``: the most frequent first, at most ``limit``."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, str(item[0])))
    shown = [f"{'missing' if value is None else repr(value)} ({rows:,} row"
             f"{'' if rows == 1 else 's'})" for value, rows in ranked[:limit]]
    if len(ranked) > limit:
        shown.append(f"and {len(ranked) - limit:,} more")
    return ", ".join(shown)


def _check(name: str, value: str | None, allowed: tuple[str | None, ...]) -> None:
    if value not in allowed:
        expected = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"transform.{name}: got {value!r}; expected one of {expected}")
