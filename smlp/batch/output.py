"""What columns a transform writes: the one place that decides the output's shape.

Two shapes, chosen per file from its first line:

- SageMaker's (headerless input, or ``named_output`` off): the prediction alone, or with
  ``join_source: Input`` the input row followed by the prediction, of which
  ``output_filter`` keeps the fields it selects. No header. This is what a Batch Transform
  job writes (CreateTransformJob ``DataProcessing``; AWS docs "Associate Prediction Results
  with Input Records").
- smlp's named output (input with a header, ``named_output`` on): a header line, then the ID
  column (when one was recorded at prepare and the file has it) and the prediction.

To add model outputs (a label, class probabilities): return more ``OutputField(value=...)``
from ``output_plan`` and have the engine's prediction step (``smlp.batch.engine._predict``)
return arrays under the same names; ``_format`` fills each field from that dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smlp.batch.jsonpath import ColumnPath
from smlp.batch.options import BatchOptions
from smlp.errors import SchemaMismatchError

PREDICTION = "prediction"


@dataclass(frozen=True)
class OutputField:
    """One field of every output line, and its name in the header (when there is one)."""

    name: str
    column: str | None = None  # an input column, copied as written; None: a model output
    value: str = PREDICTION  # which model output, when ``column`` is None


@dataclass(frozen=True)
class OutputPlan:
    fields: list[OutputField]
    header: bool

    @property
    def input_columns(self) -> set[str]:
        """Input columns the output copies (parsed as text, as written)."""
        return {f.column for f in self.fields if f.column is not None}

    def header_line(self) -> bytes:
        return (",".join(_quote(f.name) for f in self.fields) + "\n").encode()


def output_plan(path: Path, names: list[str], has_header: bool, options: BatchOptions,
                output_filter: ColumnPath) -> OutputPlan:
    """The fields of ``path``'s output lines; ``names`` are its columns (header or c0..cN)."""
    if has_header and options.named_output:
        fields = []
        if options.id_column is not None and options.id_column in names:
            fields.append(OutputField(options.id_column, column=options.id_column))
        fields.append(OutputField(PREDICTION))
        return OutputPlan(fields, header=True)
    width = len(names)
    try:
        picked = output_filter.resolve(width + 1 if options.joins_input else 1)
    except IndexError as exc:
        raise SchemaMismatchError(f"{path}: output_filter {exc}") from None
    prediction_at = width if options.joins_input else 0
    fields = [OutputField(PREDICTION) if i == prediction_at
              else OutputField(names[i], column=names[i]) for i in picked]
    return OutputPlan(fields, header=False)


def _quote(name: str) -> str:
    if any(char in name for char in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name
