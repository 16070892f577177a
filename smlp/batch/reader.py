"""Turning one CSV file into parsed blocks: features for the model, text for the joined output.

The file is cut into byte blocks at newlines (SageMaker's ``SplitType=Line`` splits there too,
quotes or not) and each block is parsed by ``pyarrow.csv.read_csv``: feature columns straight
to float32, columns the output keeps as strings (their text as written), other columns not at
all. Cutting the blocks ourselves keeps memory bounded by the block size and lets errors name
a line number.

A block of a few plain rows (smlp.batch.few_rows) is parsed in Python to the same values
instead, so a small transform never imports pyarrow (~55 ms); anything else goes to Arrow.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from smlp.batch.few_rows import split_rows
from smlp.batch.jsonpath import ColumnPath
from smlp.batch.options import (
    BatchOptions,
    RowEncoder,
    UnseenCounts,
    describe_unseen,
)
from smlp.batch.output import OutputPlan, output_plan
from smlp.errors import SchemaMismatchError
from smlp.number_text import ARROW_NULLS, arrow_float32, arrow_float64

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.csv as pcsv

_BAD_VALUE = re.compile(r"In CSV column #(\d+): .*invalid value '(.*)'$", re.DOTALL)
_BAD_CAST = re.compile(r"Failed to parse string: '(.*)' as a scalar", re.DOTALL)
_BAD_WIDTH = re.compile(r"Expected (\d+) columns, got (\d+)")
_EMPTY_LINES = (b"\n", b"\r\n", b"\r")


_ARROW: list[tuple[Any, Any]] = []


def load_arrow() -> tuple[Any, Any]:
    """pyarrow and its CSV reader, imported when a block first needs them, with pandas kept
    out of pyarrow's first array (smlp.arrays.keep_pandas_out)."""
    if not _ARROW:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        from smlp.arrays import keep_pandas_out

        keep_pandas_out()
        _ARROW.append((pa, pcsv))
    return _ARROW[0]


# Internal records: no repr or == (each method a dataclass generates is compiled at import,
# ~0.5 ms of a small transform's start-up; only __init__ is used).
@dataclass(repr=False, eq=False)
class Block:
    """One parsed block; ``text`` holds the columns the output needs, by name (Arrow arrays,
    or lists of str for a block parsed in Python)."""

    offset: int
    nbytes: int
    rows: int
    features: np.ndarray
    text: dict[str, Any]
    unseen: UnseenCounts = field(default_factory=dict)  # the engine adds them up, in order


@dataclass(repr=False, eq=False)
class FilePlan:
    """How to parse every block of one file, decided from its first line.

    ``types`` says how Arrow reads each column it reads (``float32``, ``float64``,
    ``string``); the Arrow options are built from it only when a block needs Arrow.
    """

    path: Path
    names: list[str]
    n_features: int
    features: list[str] = field(default_factory=list)  # headerless: feature columns, in order
    cast: frozenset[str] = frozenset()  # feature columns read as text (the output keeps them)
    types: dict[str, Any] = field(default_factory=dict)
    include: list[str] | None = None  # the columns Arrow reads (None: every one)
    nullable_text: bool = False  # text cells in ARROW_NULLS read as null
    text_columns: list[str] | None = None  # encoder + join: second, all-text parse
    output: OutputPlan = field(default_factory=lambda: OutputPlan([], header=False))
    encoder: RowEncoder | None = None
    unseen: UnseenCounts | None = None  # the run's counts, when the encoder is asked to count
    refuse_unseen: bool = False

    @property
    def read_options(self) -> pcsv.ReadOptions:
        _, pcsv = load_arrow()
        return pcsv.ReadOptions(column_names=self.names)

    @cached_property
    def convert(self) -> pcsv.ConvertOptions:
        pa, pcsv = load_arrow()
        types = {name: pa.type_for_alias(kind) if isinstance(kind, str) else kind
                 for name, kind in self.types.items()}
        if self.include is None:
            return pcsv.ConvertOptions(column_types=types, strings_can_be_null=self.nullable_text)
        return pcsv.ConvertOptions(column_types=types, include_columns=self.include,
                                   strings_can_be_null=self.nullable_text)

    @cached_property
    def text_convert(self) -> pcsv.ConvertOptions | None:
        if self.text_columns is None:
            return None
        pa, pcsv = load_arrow()
        return pcsv.ConvertOptions(
            column_types={name: pa.string() for name in self.text_columns},
            include_columns=self.text_columns, strings_can_be_null=False)


def plan_file(
    path: Path,
    handle: BinaryIO,
    n_features: int,
    input_filter: ColumnPath,
    output_filter: ColumnPath,
    options: BatchOptions,
    encoder: RowEncoder | None,
    unseen: UnseenCounts | None = None,
) -> tuple[FilePlan, bytes, int] | None:
    """Read the first line and plan the parse; ``None`` for a file with no rows.

    Returns the plan, the bytes already read that belong to the first block, and the byte
    offset where that block starts (after a header, if any).
    """
    skipped = 0
    first = handle.readline()
    while first in _EMPTY_LINES:
        skipped += len(first)
        first = handle.readline()
    if not first:
        return None
    names = _first_row(path, first, encoder is None)
    width = len(names)
    if encoder is None:
        names = [f"c{i}" for i in range(width)]
        carry, start = first, skipped
    else:
        carry, start = b"", skipped + len(first)
    output = output_plan(path, names, encoder is not None, options, output_filter)
    plan = FilePlan(path, names, n_features, output=output)
    if encoder is None:
        _plan_features(plan, width, input_filter, output.input_columns)
    else:
        _plan_encoder(plan, encoder, output.input_columns)
        if options.unseen_categories is not None:
            plan.unseen = {} if unseen is None else unseen
            plan.refuse_unseen = options.unseen_categories == "error"
    return plan, carry, start


def _first_row(path: Path, first: bytes, headerless: bool) -> list[str]:
    """The first row's cells: the header's names (or, headerless, one cell per column)."""
    rows = split_rows(first)
    if rows and (headerless or all(rows[0]) and len(set(rows[0])) == len(rows[0])):
        return rows[0]
    pa, pcsv = load_arrow()
    try:
        row = pcsv.read_csv(
            pa.py_buffer(first),
            read_options=pcsv.ReadOptions(autogenerate_column_names=headerless),
            convert_options=pcsv.ConvertOptions(strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        reason = str(exc).splitlines()[0]
        raise SchemaMismatchError(f"{path}: cannot parse the first row as CSV: {reason}") from exc
    return row.column_names


def _plan_features(plan: FilePlan, width: int, path_filter: ColumnPath, text: set[str]) -> None:
    try:
        idx = path_filter.resolve(width)
    except IndexError as exc:
        raise SchemaMismatchError(f"{plan.path}: input_filter {exc}") from None
    if len(idx) != plan.n_features:
        raise SchemaMismatchError(
            f"{plan.path}: expected {plan.n_features} feature columns after input_filter "
            f"{path_filter.expr} ({width} in each row), got {len(idx)}"
        )
    plan.features = [plan.names[i] for i in idx]
    plan.cast = frozenset(text.intersection(plan.features))
    plan.types = dict.fromkeys(plan.features, "float32")
    plan.types.update(dict.fromkeys(text, "string"))
    plan.include = [name for name in plan.names if name in plan.types]


def _plan_encoder(plan: FilePlan, encoder: RowEncoder, text: set[str]) -> None:
    kinds = _column_kinds(encoder)
    missing = [name for name in kinds if name not in plan.names]
    if missing:
        raise SchemaMismatchError(
            f"{plan.path}: header lacks column(s) {', '.join(missing)}; "
            f"it has {', '.join(plan.names)}"
        )
    plan.types = {name: kinds.get(name, "string") for name in plan.names}
    plan.encoder = encoder
    # Empty and NA cells arrive as nulls, as when smlp prepared the training data, so the
    # encoder sees missing values the same way; the joined text is parsed separately.
    plan.nullable_text = True
    if text:
        plan.text_columns = [name for name in plan.names if name in text]


def _column_kinds(encoder: RowEncoder) -> dict[str, Any]:
    """The encoder's columns and how Arrow reads them: ``float64`` or ``string`` from an
    encoder that says so without pyarrow (smlp's Schema), else its Arrow types."""
    kinds = getattr(encoder, "column_kinds", None)
    if kinds is not None:
        return dict(kinds())
    load_arrow()
    return dict(encoder.column_types())


def read_blocks(
    handle: BinaryIO, block_size: int, carry: bytes, offset: int
) -> Iterator[tuple[int, bytearray]]:
    """``(offset, data)`` pieces of the file, each ending at a newline (or at EOF).

    Reads straight into a fresh buffer per block (the parse may still hold the last one) and
    trims it in place, so the only copy is the partial line carried to the next block.
    """
    while True:
        data = bytearray(len(carry) + block_size)
        data[: len(carry)] = carry
        read = handle.readinto(memoryview(data)[len(carry) :])
        end = len(carry) + (read or 0)
        if not read:
            if carry:
                del data[end:]
                yield offset, data
            return
        cut = data.rfind(b"\n", 0, end) + 1
        if cut == 0:  # one line longer than a block: keep reading until it ends
            carry = bytes(data[:end])
            continue
        carry = bytes(data[cut:end])
        del data[cut:]
        yield offset, data
        offset += cut


def parse_block(plan: FilePlan, offset: int, data: bytes | bytearray) -> Block:
    """Parse one block into the model's features and the output's text columns."""
    few = _parse_few(plan, offset, data)
    if few is not None:
        return few
    pa, pcsv = load_arrow()
    try:
        table = pcsv.read_csv(
            pa.py_buffer(data), read_options=plan.read_options, convert_options=plan.convert
        )
    except pa.ArrowInvalid as exc:
        raise _parse_error(plan, exc, offset, data) from exc
    text: dict[str, Any] = {}
    unseen: UnseenCounts = {}
    if plan.encoder is None:
        # One pass from columns to a row-major float32 matrix, the layout predict wants.
        vectors = [_as_float(plan, name, table.column(name)) for name in plan.features]
        features = np.column_stack(vectors) if vectors else np.empty((table.num_rows, 0))
        features = features.astype(np.float32, copy=False)
        text = {name: table.column(name) for name in plan.output.input_columns}
    else:
        features = _encode(plan, table, unseen)
        if plan.text_convert is not None:
            text = _as_written(plan, table, data)
    if b'"' in data:
        text = {name: _quote(col) for name, col in text.items()}
    return Block(offset, len(data), table.num_rows, features, text, unseen)


def _parse_few(plan: FilePlan, offset: int, data: bytes | bytearray) -> Block | None:
    """A block of a few plain rows parsed in Python, to the values Arrow would give; None
    (use Arrow) for anything else, including every row Arrow would refuse."""
    rows = split_rows(data, len(plan.names))
    if not rows:
        return None
    cells = dict(zip(plan.names, zip(*rows, strict=True), strict=True))
    unseen: UnseenCounts = {}
    if plan.encoder is None:
        vectors = [_floats(cells[name], arrow_float32) for name in plan.features]
        if any(vector is None for vector in vectors):
            return None
        features = np.ascontiguousarray(
            np.array(vectors, dtype=np.float32).T.reshape(len(rows), len(vectors)))
    else:
        encode_rows = getattr(plan.encoder, "encode_rows", None)
        if encode_rows is None:
            return None
        columns: dict[str, list[Any]] = {}
        for name, kind in plan.types.items():
            if kind == "float64":
                floats = _floats(cells[name], arrow_float64)
                if floats is None:
                    return None
                columns[name] = floats
            elif kind == "string":
                columns[name] = [None if cell in ARROW_NULLS else cell for cell in cells[name]]
            else:
                return None
        counting = plan.unseen is not None
        try:
            encoded = encode_rows(columns, len(rows), unseen=unseen if counting else None)
        except SchemaMismatchError as exc:
            raise SchemaMismatchError(f"{plan.path}: {str(exc).removeprefix('input: ')}") from None
        features = _checked(plan, encoded, len(rows), unseen)
    text = {name: list(cells[name]) for name in plan.output.input_columns}
    return Block(offset, len(data), len(rows), features, text, unseen)


def _floats(cells: tuple[str, ...], convert: Any) -> list[float] | None:
    values = []
    for cell in cells:
        value = convert(cell)
        if value is None:
            return None
        values.append(value)
    return values


def _as_written(plan: FilePlan, table: pa.Table, data: bytes | bytearray
                ) -> dict[str, pa.ChunkedArray]:
    """The columns the output copies, as the text written in the file.

    A text column the first parse read without a null already is that text (an ID, mostly),
    so only numbers and columns with cells read as null (empty, ``NA``, ...) take the second,
    all-text parse of the block.
    """
    pa, pcsv = load_arrow()
    text: dict[str, pa.ChunkedArray] = {}
    rest: list[str] = []
    for name in plan.output.input_columns:
        column = table.column(name)
        if pa.types.is_string(column.type) and column.null_count == 0:
            text[name] = column
        else:
            rest.append(name)
    if rest:
        assert plan.text_columns is not None
        convert = pcsv.ConvertOptions(
            column_types={name: pa.string() for name in rest},
            include_columns=[name for name in plan.text_columns if name in rest],
            strings_can_be_null=False,
        )
        strings = pcsv.read_csv(pa.py_buffer(data), read_options=plan.read_options,
                                convert_options=convert)
        text.update((name, strings.column(name)) for name in strings.column_names)
    return text


def _as_float(plan: FilePlan, name: str, column: pa.ChunkedArray) -> np.ndarray:
    """A feature column as a float32 vector, missing values as NaN."""
    from smlp.arrays import strings, to_numpy

    pa, _ = load_arrow()
    if name in plan.cast:
        try:
            column = column.cast(pa.float32())
        except pa.ArrowInvalid:
            import pyarrow.compute as pc  # off the common path: ~75 ms to import

            nulls = pc.is_in(column, value_set=strings(sorted(ARROW_NULLS)))
            try:
                column = pc.if_else(nulls, None, column).cast(pa.float32())
            except pa.ArrowInvalid as exc:
                match = _BAD_CAST.search(str(exc))
                value = match.group(1) if match else str(exc)
                raise SchemaMismatchError(
                    f"{plan.path}: column {plan.names.index(name)}: "
                    f"expected a number, got {value!r}"
                ) from exc
    if column.null_count:
        column = column.fill_null(pa.array(np.array([np.nan], np.float32))[0])
    return to_numpy(column)


def _encode(plan: FilePlan, table: pa.Table, found: UnseenCounts) -> np.ndarray:
    """The block's feature matrix; adds the categories the encoder did not know to ``found``."""
    assert plan.encoder is not None
    pa, _ = load_arrow()
    batch = pa.RecordBatch.from_arrays(
        [col.combine_chunks() for col in table.columns], names=table.column_names
    )
    try:
        if plan.unseen is None:
            encoded = plan.encoder.encode(batch)
        else:
            encoded = plan.encoder.encode(batch, unseen=found)  # type: ignore[call-arg]
    except SchemaMismatchError as exc:  # the encoder knows columns, the engine knows the file
        raise SchemaMismatchError(f"{plan.path}: {str(exc).removeprefix('input: ')}") from None
    return _checked(plan, encoded, table.num_rows, found)


def _checked(plan: FilePlan, encoded: Any, rows: int, found: UnseenCounts) -> np.ndarray:
    """The encoder's matrix as float32, refused when it has the wrong shape or (by policy)
    when the block had categories the model was not trained on."""
    if found and plan.refuse_unseen:
        _refuse_unseen(plan, found)
    features = np.ascontiguousarray(encoded, dtype=np.float32)
    if features.ndim != 2 or features.shape != (rows, plan.n_features):
        raise SchemaMismatchError(
            f"{plan.path}: the recorded schema encodes {rows} rows into shape "
            f"{features.shape}; the model expects ({rows}, {plan.n_features})"
        )
    return features


def _refuse_unseen(plan: FilePlan, found: UnseenCounts) -> None:
    columns = "; ".join(f"column {name}: categories the model was not trained on: "
                        f"{describe_unseen(values)}" for name, values in found.items())
    raise SchemaMismatchError(
        f"{plan.path}: {columns}; transform.unseen_categories is 'error' (set it to "
        "'warn' to predict them as an unknown category)")


def _quote(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Re-quote fields the CSV parse unquoted, so the joined row is valid CSV again."""
    import pyarrow.compute as pc  # only for input with quotes: ~75 ms to import

    from smlp.arrays import text

    needs = pc.match_substring_regex(column, r'[,"\r\n]')
    if not pc.any(needs).as_py():
        return column
    escaped = pc.replace_substring(column, '"', '""')
    quote, empty = text('"'), text("")
    quoted = pc.binary_join_element_wise(quote, escaped, quote, empty)
    return pc.if_else(needs, quoted, column)


def _parse_error(
    plan: FilePlan, exc: pa.ArrowInvalid, offset: int, data: bytes | bytearray
) -> Exception:
    """Translate pyarrow's message into one line naming the file, and line or column."""
    pa, _ = load_arrow()
    message = str(exc)
    match = _BAD_VALUE.search(message)
    if match:
        index, value = int(match.group(1)), match.group(2)
        expected = plan.convert.column_types.get(plan.names[index], pa.float32())
        numeric = pa.types.is_floating(expected) or pa.types.is_integer(expected)
        what = "a number" if numeric else f"a value of type {expected}"
        where = str(index) if plan.encoder is None else f"{index} ({plan.names[index]})"
        return SchemaMismatchError(f"{plan.path}: column {where}: expected {what}, got {value!r}")
    match = _BAD_WIDTH.search(message)
    if match:
        line, got = _find_bad_line(plan, offset, data)
        at = f"line {line}: " if line else ""
        return SchemaMismatchError(
            f"{plan.path}: {at}expected {len(plan.names)} columns like the first row, "
            f"got {got if got is not None else match.group(2)}"
        )
    return SchemaMismatchError(f"{plan.path}: cannot parse as CSV: {message.splitlines()[0]}")


def _find_bad_line(
    plan: FilePlan, offset: int, data: bytes | bytearray
) -> tuple[int | None, int | None]:
    """The 1-based file line number and width of the block's first row of the wrong width.

    Only runs on the error path, so re-reading the file before the block is fine.
    """
    text = data.decode("utf-8", errors="replace")
    for k, line in enumerate(text.split("\n")):
        stripped = line.rstrip("\r")
        if not stripped:
            continue
        fields = next(csv.reader(io.StringIO(stripped)), [])
        if len(fields) != len(plan.names):
            with open(plan.path, "rb") as handle:
                before = sum(chunk.count(b"\n") for chunk in _chunks(handle, offset))
            return before + k + 1, len(fields)
    return None, None


def _chunks(handle: BinaryIO, limit: int) -> Iterator[bytes]:
    while limit > 0:
        chunk = handle.read(min(limit, 1 << 20))
        if not chunk:
            return
        limit -= len(chunk)
        yield chunk
