"""``data prepare`` for CSV files larger than memory should hold: three passes in blocks.

1. Types and targets: the file cut into blocks at line ends, parsed a block per thread with
   the types pyarrow infers from the first block (``_CsvBlocks``), hashed as it is read (the
   manifest's record of the input). Keeps the target column, counts missing cells, finds the
   first infinite value, and keeps the parsed blocks for the next passes (``_Spill``: in
   memory up to ``SPILL_MEMORY``, else an Arrow IPC file). When a later block does not fit
   the first one's types, the file is read again with every column as text; a column is
   numeric when every value parses as a number (what ``pyarrow.csv.read_csv`` infers over
   the whole file).
2. Statistics over the training rows only: count, mean and variance merged block by block
   (Chan et al.'s parallel update), category counts, and for the fill value the median of a
   sample (see ``MEDIAN_SAMPLE``; the schema's ``fill_method`` records it).
3. Encoding and writing, block by block, each row to its split's shards (smlp.data.shards).

Passes 2 and 3 work on a block per thread and merge or write the results in input order, so
the numbers and bytes do not depend on the thread count. Rows go to the same split as the
in-memory path puts them (the same seeded permutation, or the same stratified split, over the
rows that have a target); within a split they keep the input's order. Memory is a few blocks
per thread, the target column, 9 bytes per row (split and label), the samples and at most
``SPILL_MEMORY`` of parsed blocks.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from smlp.arrays import from_numpy, keep_pandas_out, strings, text, to_numpy
from smlp.config.data import SplitFractions
from smlp.data.prepare import (
    MIN_ROWS,
    SPLITS,
    _check_unique_names,
    _not_utf8,
    _require_columns,
)
from smlp.data.schema import (
    MAX_CATEGORIES,
    MISSING,
    CategoricalFeature,
    NumericFeature,
    Schema,
)
from smlp.data.shards import ShardWriter, WrittenShard
from smlp.errors import DataError, SchemaMismatchError

MIB = 1 << 20
STREAM_BYTES = 64 * MIB  # CSV inputs above this size are prepared by streaming
BLOCK_BYTES = 16 * MIB
SPILL_MEMORY = 128 * MIB  # parsed blocks held in memory between passes, at most
# Fill values are medians of a uniform sample of at most this many training values per column
# (reservoir sampling, Vitter's algorithm R, seeded by data.seed): exact when the training
# split has no more values than this; otherwise the sample's median is within ~0.1 % of the
# rank of the true median, which a fill value does not need to be closer than.
MEDIAN_SAMPLE = 1_000_000


def sampled_median() -> str:
    """What a schema's ``fill_method`` says when a column's median came from its sample."""
    return (f"median of a seeded uniform sample of at most {MEDIAN_SAMPLE:,} training values "
            "per column (exact below that)")


@dataclass
class StreamedData:
    """What the streaming prepare wrote: each split's shards (label first, no header), each
    hashed while it was written."""

    schema: Schema
    shards: dict[str, list[WrittenShard]]
    rows: dict[str, int]
    dropped_rows: int
    source_sha256: str | None = None  # the input's, when a pass read it whole (else None)


@dataclass
class _Column:
    name: str
    numeric: bool = True
    nulls: int = 0
    first_inf: int | None = None  # 0-based data row
    integer: bool = True  # for the target: every value an integer


@dataclass
class _Moments:
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    seen: int = 0  # values offered to the sample
    sample: list[np.ndarray] = field(default_factory=list)
    reservoir: np.ndarray | None = None

    @staticmethod
    def sums(values: np.ndarray) -> tuple[int, float, float]:
        """A block's count, mean and sum of squared deviations from it."""
        if not values.size:
            return 0, 0.0, 0.0
        mean = float(values.mean())
        return values.size, mean, float(((values - mean) ** 2).sum())

    def merge(self, values: np.ndarray, n: int, mean: float, m2: float,
              rng: np.random.Generator) -> None:
        """Add a block (``values`` and their ``sums``), blocks in input order."""
        if not n:
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        self._sample(values, rng)

    def _sample(self, values: np.ndarray, rng: np.random.Generator) -> None:
        if self.reservoir is None:
            room = MEDIAN_SAMPLE - self.seen
            head, values = values[:room], values[room:]
            if head.size:
                self.sample.append(head.copy())
                self.seen += head.size
            if not values.size:
                return
            self.reservoir = np.concatenate(self.sample)
            self.sample = []
        # Algorithm R: item t (0-based) replaces slot j ~ U[0, t] when j < the sample size;
        # numpy keeps the last of repeated slots, as the sequential algorithm would.
        index = np.arange(self.seen, self.seen + values.size)
        slots = rng.integers(0, index + 1)
        chosen = slots < MEDIAN_SAMPLE
        self.reservoir[slots[chosen]] = values[chosen]
        self.seen += values.size

    def median(self) -> float:
        """``np.median``'s value (the middle one, or the mean of the middle two), without
        its masked-array check: that imports numpy.ma (~85 ms)."""
        values = self.reservoir if self.reservoir is not None else np.concatenate(
            self.sample or [np.empty(0)])
        half = values.size // 2
        if values.size % 2:
            return float(np.partition(values, half)[half])
        middle = np.partition(values, [half - 1, half])[half - 1:half + 1]
        return float(middle.sum() / 2)

    @property
    def exact(self) -> bool:
        return self.reservoir is None


def is_large(path: Path) -> bool:
    """Stream CSV inputs above ``STREAM_BYTES``; Parquet is read whole (columnar, compact)."""
    return path.suffix.lower() not in {".parquet", ".pq"} and path.stat().st_size > STREAM_BYTES


def _text_batches(path: Path, names: list[str] | None = None,
                  types: dict[str, Any] | None = None) -> Iterator[pa.RecordBatch]:
    """The file's record batches; every column as text unless ``types`` says otherwise."""
    try:
        reader = pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(
                strings_can_be_null=True,
                column_types=types if types is not None else dict.fromkeys(names or [],
                                                                           pa.string()),
                include_columns=list(types) if types is not None else None))
        yield from reader
    except (pa.ArrowInvalid, OSError) as exc:
        message = str(exc).splitlines()[0]
        if "UTF8" in message or "utf-8" in message.lower():
            raise _not_utf8(path) from None
        raise DataError(f"{path}: not a readable CSV file ({message})") from None


def _header(path: Path) -> list[str]:
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16))
    except (pa.ArrowInvalid, OSError) as exc:
        message = str(exc).splitlines()[0]
        if "UTF8" in message or "utf-8" in message.lower():
            raise _not_utf8(path) from None
        raise DataError(f"{path}: not a readable CSV file ({message})") from None
    return list(reader.schema.names)


def _is_integer(column: pa.Array) -> bool:
    """Whether ``read_csv`` would read the column as int64 (no decimal point anywhere)."""
    import pyarrow.compute as pc

    try:
        pc.cast(column, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _as_float(column: pa.Array) -> np.ndarray | None:
    """The column as float64 (nulls NaN), or None when some value is not a number."""
    import pyarrow.compute as pc

    try:
        values = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return to_numpy(values)


def _scan(path: Path, target: str, id_column: str | None, source: str, spill: Path
          ) -> tuple[list[str], dict[str, _Column], pa.ChunkedArray, int, _Spill | None]:
    """Pass 1: names, per-column type and counts, the typed target column, the row count, and
    the parsed blocks (None when the file had to be read as text).

    First with the types pyarrow infers from the first block, keeping the parsed blocks
    (``_Spill``, in memory or in the file ``spill``: the later passes read them back instead
    of parsing the CSV again); when a later block does not fit those types (a column empty
    at first, integers then decimals), again with every column as text, each numeric if all
    its values parse as numbers, and no spill.
    """
    names = _header(path)
    _check_unique_names(names, source)
    _require_columns(names, target, id_column, source)
    try:
        return (names, *_scan_typed(path, names, target, spill))
    except _TypesChanged:
        spill.unlink(missing_ok=True)
    columns = {name: _Column(name) for name in names}
    targets: list[pa.Array] = []
    rows = 0
    for batch in _text_batches(path, names):
        for name, info in columns.items():
            array = batch.column(name)
            info.nulls += array.null_count
            if not info.numeric:
                continue
            values = _as_float(array)
            if values is None:
                info.numeric = info.integer = False
                continue
            if name == target and info.integer:
                info.integer = _is_integer(array)
            if info.first_inf is None:
                infinite = np.flatnonzero(np.isinf(values))
                if infinite.size:
                    info.first_inf = rows + int(infinite[0])
        targets.append(batch.column(target))
        rows += batch.num_rows
    if rows == 0:
        raise DataError(f"{path}: input file has a header but no rows")
    raw = pa.chunked_array(targets, pa.string())
    info = columns[target]
    if info.numeric and raw.null_count < len(raw):  # as read_csv types it
        import pyarrow.compute as pc

        raw = pc.cast(raw, pa.int64() if info.integer else pa.float64())
    return names, columns, raw, rows, None


class _TypesChanged(Exception):
    """A block did not fit the types inferred from the first one."""


def _scan_typed(path: Path, names: list[str], target: str,
                spill: Path) -> tuple[dict[str, _Column], pa.ChunkedArray, int, _Spill]:
    with _CsvBlocks(path) as blocks:
        import pyarrow.compute  # noqa: F401  (~0.2 s to import: while the first block parses)

        schema = blocks.schema()
        for field in schema:
            if pa.types.is_binary(field.type):
                raise _not_utf8(path)  # pyarrow reads a column of bad UTF-8 as binary
        kept = _Spill(spill, schema)
        try:
            columns, targets, rows = _scan_batches(path, blocks, names, target, kept)
        finally:
            kept.close()
        kept.sha256 = blocks.sha256()
        return columns, targets, rows, kept


def _scan_batches(path: Path, blocks: Iterator[pa.RecordBatch], names: list[str], target: str,
                  out: Any) -> tuple[dict[str, _Column], pa.ChunkedArray, int]:
    import pyarrow.compute as pc

    columns = {name: _Column(name) for name in names}
    targets: list[pa.Array] = []
    rows = 0
    for batch in blocks:
        for name, info in columns.items():
            array = batch.column(name)
            info.nulls += array.null_count
            kind = array.type
            info.numeric = info.numeric and (pa.types.is_integer(kind)
                                             or pa.types.is_floating(kind)
                                             or pa.types.is_null(kind))
            info.integer = info.integer and pa.types.is_integer(kind)
            if pa.types.is_floating(kind) and info.first_inf is None:
                infinite = pc.is_inf(array)
                if pc.any(infinite).as_py():
                    info.first_inf = rows + int(pc.index(infinite, True).as_py())
        targets.append(batch.column(target))
        rows += batch.num_rows
        out.write(batch)
    if rows == 0:
        raise DataError(f"{path}: input file has a header but no rows")
    return columns, pa.chunked_array(targets), rows


class _Spill:
    """Pass 1's parsed blocks, read again by passes 2 and 3: held in memory while they take
    at most ``SPILL_MEMORY`` bytes (a CSV of ~100 MB), else all written to an Arrow IPC file
    as they come (``path``), and read back from it (read, not memory-mapped: mapped pages
    would count towards, and stay in, the process's resident memory)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.sha256: str | None = None  # the CSV's, hashed as pass 1 read it
        self._held: list[pa.RecordBatch] = []
        self._bytes = 0
        self._sink: Any = None
        self._out: Any = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._out is None:
            self._bytes += batch.nbytes
            if self._bytes <= SPILL_MEMORY:
                self._held.append(batch)
                return
            self._sink = pa.OSFile(str(self.path), "wb")
            self._out = pa.ipc.new_stream(self._sink, self.schema)
            for held in self._held:
                self._out.write_batch(held)
            self._held = []
        self._out.write_batch(batch)

    def close(self) -> None:
        if self._out is not None and not self._sink.closed:
            self._out.close()
            self._sink.close()

    def discard(self) -> None:
        self.close()
        self._held = []
        self.path.unlink(missing_ok=True)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._out is None:
            yield from self._held
            return
        with pa.OSFile(str(self.path), "rb") as source:
            yield from pa.ipc.open_stream(source)


def _threads() -> int:
    """Threads for parsing and formatting: the cores, up to 4 (each holds a block or two)."""
    return max(1, min(4, os.cpu_count() or 1))


class _CsvBlocks:
    """The typed blocks of a CSV file, parsed on every core, in file order.

    The file is cut where pyarrow's own reader cuts it, at a line end (values hold no
    newlines: ``ParseOptions.newlines_in_values`` is off). The first block is parsed with
    the types pyarrow infers, each later one with those types: what ``pyarrow.csv.open_csv``
    does, but several blocks at a time (its reader parses one after the other). The file's
    bytes are hashed as they are read.
    """

    def __init__(self, path: Path) -> None:
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        self.path = path
        self._digest = hashlib.sha256()
        self._handle = open(path, "rb")
        self._carry = b""
        self._ended = False
        self._types: dict[str, Any] = {}
        self._rows = 0  # data rows in the blocks handed out so far
        self._workers = _threads()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="smlp-parse")
        self._pending: deque[Future[pa.Table]] = deque()
        self._first = self._pool.submit(self._parse, self._next_bytes() or b"", True)
        self._head: pa.Table | None = None

    def __enter__(self) -> _CsvBlocks:
        return self

    def __exit__(self, *exc: object) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)
        self._handle.close()

    def schema(self) -> pa.Schema:
        """The types inferred from the first block (with the header): every block's."""
        self._head = self._result(self._first)
        self._types = {field.name: field.type for field in self._head.schema}
        self._fill()
        return self._head.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        table = self._head if self._head is not None else self._result(self._first)
        self._head = None
        while True:
            yield from table.combine_chunks().to_batches()  # one chunk already: no copy
            self._rows += table.num_rows
            if not self._pending:
                return
            table = self._result(self._pending.popleft())
            self._fill()

    def sha256(self) -> str:
        """The file's sha256 (once every block has been read)."""
        while self._next_bytes() is not None:
            pass
        return self._digest.hexdigest()

    def _fill(self) -> None:
        while len(self._pending) <= self._workers:
            data = self._next_bytes()
            if data is None:
                return
            self._pending.append(self._pool.submit(self._parse, data, False))

    def _next_bytes(self) -> Any:
        """The next block of whole lines (a memoryview), or None past the end of the file."""
        while not self._ended:
            block = self._handle.read(BLOCK_BYTES)
            if not block:
                self._ended = True
                rest, self._carry = self._carry, b""
                return rest or None
            self._digest.update(block)
            if self._carry:
                block = self._carry + block
            cut = block.rfind(b"\n") + 1 or block.rfind(b"\r") + 1
            if cut:
                self._carry = block[cut:]
                return memoryview(block)[:cut]
            self._carry = block  # a line longer than a block: read on
        return None

    def _parse(self, data: Any, first: bool) -> pa.Table:
        read = pacsv.ReadOptions(use_threads=False, block_size=len(data) + 1,
                                 column_names=None if first else list(self._types))
        convert = pacsv.ConvertOptions(strings_can_be_null=True,
                                       column_types=None if first else self._types)
        return pacsv.read_csv(pa.py_buffer(data), read_options=read, convert_options=convert)

    def _result(self, future: Any) -> pa.Table:
        try:
            return future.result()
        except pa.ArrowInvalid as exc:
            message = str(exc).splitlines()[0]
            if "conversion error" in message:
                raise _TypesChanged from None
            if "UTF8" in message or "utf-8" in message.lower():
                raise _not_utf8(self.path) from None
            if future is not self._first:  # pyarrow counts rows from the block's start
                message = _ROW.sub(lambda m: f"Row #{int(m[1]) + 1 + self._rows}", message)
            raise DataError(f"{self.path}: not a readable CSV file ({message})") from None


_ROW = re.compile(r"Row #(\d+)")


def _split_labels(target: pa.ChunkedArray, target_name: str, problem_type: str,
                  splits: SplitFractions, seed: int,
                  source: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(problem type, keep mask over all rows, split per kept row, label value per kept row,
    classes): the same rows per split as ``prepare.prepare_table``."""
    import pyarrow.compute as pc

    from smlp.data import labels as label_rules

    decided = label_rules.decide(target, target_name, problem_type, source)
    if decided == "regression":
        try:
            values = pc.cast(target, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise label_rules.not_numeric(target, target_name, source) from None
        numbers = to_numpy(values)
        keep = ~np.isnan(numbers)
    else:
        keep = pc.is_valid(target).to_numpy(zero_copy_only=False)
        if pa.types.is_floating(target.type):
            keep &= ~np.isnan(pc.fill_null(target, 0.0).to_numpy(zero_copy_only=False))
    kept = int(keep.sum())
    if kept < MIN_ROWS:
        raise DataError(f"{source}: {kept} rows with a target; need at least {MIN_ROWS}")
    labels = np.empty(kept, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    classes: list[str] = []
    if decided == "regression":
        values_kept = numbers[keep]
        low, high = float(values_kept.min()), float(values_kept.max())
        if low == high:
            raise DataError(f"{source}: target column {target_name!r} has the same value "
                            f"({low:g}) in every row; there is nothing to learn")
        order = rng.permutation(kept)
        n_train = max(1, int(round(splits.train * kept)))
        n_validation = max(1, int(round(splits.validation * kept)))
        if n_train + n_validation >= kept:
            raise DataError(f"{source}: too few rows for a test split")
        labels[order[:n_train]] = 0
        labels[order[n_train:n_train + n_validation]] = 1
        labels[order[n_train + n_validation:]] = 2
        return decided, keep, labels, values_kept, classes
    kept_target = target.filter(pa.array(keep))
    classes, codes = label_rules.encode_labels(kept_target, target_name, decided, source)
    parts = label_rules.stratified_split(codes, classes, splits, rng, target_name, source)
    for position, split in enumerate(SPLITS):
        labels[parts[split]] = position
    return decided, keep, labels, codes.astype(np.float64), classes


def prepare_csv(path: Path, target: str, id_column: str | None, splits: SplitFractions,
                seed: int, standardize: bool, problem_type: str, folder: Path,
                min_shards: dict[str, int] | None = None,
                shard_bytes: int = 64 * MIB) -> StreamedData:
    """Prepare ``path`` into shards ``folder/<split>/part-NNNNN.csv`` in bounded memory (see
    the module doc): at least ``min_shards[split]`` shards each, of ``shard_bytes`` at most
    (but whole rows)."""
    keep_pandas_out()  # nothing here needs it: ~0.4 s of start-up saved
    source = str(path)
    spill = folder / "input.arrows"
    names, columns, target_text, total, parsed = _scan(path, target, id_column, source, spill)
    try:
        blocks = parsed if parsed is not None else path  # what the next two passes read
        _check_columns(names, columns, total, source)
        decided, keep, labels, values, classes = _split_labels(target_text, target,
                                                               problem_type, splits, seed,
                                                               source)
        del target_text
        features = [n for n in names if n not in {target, id_column}]
        if not features:
            raise SchemaMismatchError(f"{source}: no feature columns besides the target and ID")
        types = {n: pa.float64() if columns[n].numeric else pa.string() for n in features}
        schema = _fit(blocks, types, keep, labels, target, id_column, standardize, seed, source)
        if decided != "regression":
            schema = schema.model_copy(update={"problem_type": decided, "classes": classes})
        writers = {split: ShardWriter(folder / split, int((labels == position).sum()),
                                      (min_shards or {}).get(split, 1), shard_bytes)
                   for position, split in enumerate(SPLITS)}
        try:
            rows = _write(blocks, types, keep, labels, values, schema, writers, source)
        except BaseException:
            for writer in writers.values():
                writer.discard()
            raise
        return StreamedData(schema=schema, shards={s: w.close() for s, w in writers.items()},
                            rows=rows, dropped_rows=int(total - keep.sum()),
                            source_sha256=parsed.sha256 if parsed is not None else None)
    finally:
        if parsed is not None:  # gone before the store's fsyncs: its pages are dropped,
            parsed.discard()  # not written to disk first


def _check_columns(names: list[str], columns: dict[str, _Column], total: int,
                   source: str) -> None:
    for name in names:
        info = columns[name]
        if info.nulls == total:
            raise DataError(f"{source}: column {name!r} is all missing; drop it or fill it in")
        if info.numeric and info.first_inf is not None:
            raise DataError(f"{source}: column {name!r} has an infinite value in data row "
                            f"{info.first_inf + 1}; replace it with a number or leave the cell "
                            "empty (missing)")


def _blocks(path: Path | _Spill, types: dict[str, Any], keep: np.ndarray,
            labels: np.ndarray) -> Iterator[tuple[pa.RecordBatch, np.ndarray, np.ndarray, slice]]:
    """(feature batch, the positions in it of its kept rows, their split labels, their slice
    of the kept rows)."""
    start = kept = 0
    for batch in _prefetch(_typed_batches(path, types)):
        rows = np.flatnonzero(keep[start:start + batch.num_rows])
        start += batch.num_rows
        if rows.size:
            yield batch, rows, labels[kept:kept + rows.size], slice(kept, kept + rows.size)
            kept += rows.size


def _in_order(work: Any, items: Iterator[tuple[Any, ...]]) -> Iterator[Any]:
    """``work(*item)`` for each item on ``_threads()`` threads (pyarrow's compute and numpy
    release the GIL), the results in the items' order, a few blocks ahead at most."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    threads = _threads()
    pending: deque[Future[Any]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="smlp-prepare") as pool:
        try:
            for item in items:
                pending.append(pool.submit(work, *item))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _typed_batches(path: Path | _Spill, types: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """The feature columns of each block, typed: from pass 1's spill, else the CSV."""
    if isinstance(path, Path):
        yield from _text_batches(path, types=types)
        return
    for batch in path:
        yield pa.RecordBatch.from_arrays(
            [_as_type(batch.column(name), kind) for name, kind in types.items()],
            names=list(types))


def _as_type(column: pa.Array, kind: Any) -> pa.Array:
    """A spilled column as the pass reads it: numbers as float64, anything else as text (as
    the in-memory path casts a bool or timestamp column to make categories of it)."""
    import pyarrow.compute as pc

    return column if column.type == kind else pc.cast(column, kind)


def _prefetch(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Parse the next blocks in a thread while this one is used: pyarrow's parsing and
    compute release the GIL, so the two passes over a block overlap on two cores."""
    import queue
    import threading

    done = object()
    slots: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as exc:  # handed to the consumer
            put((None, exc))

    thread = threading.Thread(target=work, name="smlp-prepare-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _fit(path: Path | _Spill, types: dict[str, Any], keep: np.ndarray, labels: np.ndarray,
         target: str, id_column: str | None, standardize: bool, seed: int,
         source: str) -> Schema:
    """Pass 2: fill values, scaling and categories from the training rows only (each block's
    sums on a thread, merged in input order: the same numbers as one block at a time)."""
    rng = np.random.default_rng(seed)
    moments = {n: _Moments() for n, t in types.items() if t == pa.float64()}
    counts: dict[str, dict[str, int]] = {n: {} for n, t in types.items() if t != pa.float64()}
    blocks = ((batch, rows[split == 0], list(moments), list(counts))
              for batch, rows, split, _ in _blocks(path, types, keep, labels))
    for numbers, texts in _in_order(_train_sums, blocks):
        for name, (values, n, mean, m2) in numbers.items():
            moments[name].merge(values, n, mean, m2, rng)
        for name, pairs in texts.items():
            seen = counts[name]
            for value, count in pairs:
                seen[value] = seen.get(value, 0) + count
    result: list[NumericFeature | CategoricalFeature] = []
    sampled = False
    for name in types:
        if name in moments:
            moment = moments[name]
            if moment.count == 0:
                raise DataError(f"{source}: column {name!r} is all missing; drop it or fill it "
                                "in")
            sampled |= not moment.exact
            std = (moment.m2 / moment.count) ** 0.5 if standardize else 1.0
            result.append(NumericFeature(
                name=name, fill=moment.median(), mean=moment.mean if standardize else 0.0,
                scale=std if std > 0 else 1.0))
        else:
            ranked = sorted(counts[name].items(), key=lambda item: (-item[1], item[0]))
            result.append(CategoricalFeature(
                name=name, categories=[value for value, _ in ranked[:MAX_CATEGORIES]]))
    return Schema(target=target, id_column=id_column, standardize=standardize, features=result,
                  fill_method=sampled_median() if sampled else "median")


def _train_sums(batch: pa.RecordBatch, rows: np.ndarray, numeric: list[str],
                categorical: list[str]) -> tuple[dict[str, tuple[np.ndarray, int, float, float]],
                                                 dict[str, list[tuple[str, int]]]]:
    """One block's training rows: each numeric column's values (no NaN) with their count,
    mean and sum of squared deviations; each text column's value counts."""
    import pyarrow.compute as pc

    numbers: dict[str, tuple[np.ndarray, int, float, float]] = {}
    texts: dict[str, list[tuple[str, int]]] = {}
    if not rows.size:
        return numbers, texts
    part = batch.take(from_numpy(rows))
    for name in numeric:
        values = to_numpy(part.column(name))
        values = values[~np.isnan(values)]
        numbers[name] = (values, *_Moments.sums(values))
    for name in categorical:
        counted = pc.value_counts(pc.fill_null(part.column(name), MISSING))
        texts[name] = list(zip(counted.field("values").to_pylist(),
                               counted.field("counts").to_pylist(), strict=True))
    return numbers, texts


ONE_HOT_PATTERNS = 4096  # most ready-made texts a run of adjacent text columns is cut into


@dataclass(frozen=True)
class _TextRun:
    """Adjacent categorical features written as one text field: one ready-made text per
    combination of their categories (and "not among them"), the last run ending the line."""

    features: list[CategoricalFeature]
    patterns: pa.Array


def _field_plan(schema: Schema) -> list[NumericFeature | _TextRun]:
    """The output fields after the label: numeric features one by one, runs of categorical
    features as one field each. A one-hot field is the bytes the CSV writer gives float32
    0/1 values; a line ending in one has its newline in it."""
    plan: list[Any] = []
    run: list[CategoricalFeature] = []
    combinations = 1

    def close(last: bool) -> None:
        nonlocal run, combinations
        if run:
            parts: list[list[str]] = [[]]
            for feature in run:
                parts = [head + [one] for head in parts
                         for one in _one_hot(len(feature.categories))]
            end = "\n" if last else ""
            plan.append(_TextRun(run, strings([",".join(part) + end for part in parts])))
        run, combinations = [], 1

    for feature in schema.features:
        if isinstance(feature, NumericFeature):
            close(False)
            plan.append(feature)
            continue
        if combinations * (len(feature.categories) + 1) > ONE_HOT_PATTERNS:
            close(False)
        run.append(feature)
        combinations *= len(feature.categories) + 1
    close(True)
    return plan


def _one_hot(width: int) -> list[str]:
    """Category i's one-hot text for i < width; all zeros (unseen here, or beyond the top
    categories) last."""
    return [",".join("1" if j == i else "0" for j in range(width)) for i in range(width + 1)]


def _run_text(batch: pa.RecordBatch, rows: np.ndarray, run: _TextRun) -> pa.Array:
    """The run's field for the block's ``rows`` (positions in the block)."""
    import pyarrow.compute as pc

    index: np.ndarray | None = None
    for feature in run.features:
        width = len(feature.categories)
        labelled = pc.fill_null(pc.cast(batch.column(feature.name), pa.string()), MISSING)
        found = pc.fill_null(pc.index_in(labelled, value_set=strings(feature.categories)),
                             width)
        position = to_numpy(found)[rows].astype(np.int64)
        index = position if index is None else index * (width + 1) + position
    assert index is not None
    return pc.take(run.patterns, from_numpy(index))


def _lines(plan: list[NumericFeature | _TextRun], batch: pa.RecordBatch, rows: np.ndarray,
           label: np.ndarray, source: str) -> pa.Array:
    """The output lines of the block's ``rows`` (positions in it, in output order), label
    first: each number cast to text as the CSV writer casts it (float64 label, float32
    features), one-hot fields as ready-made text. Columns are encoded whole and then picked
    from as numpy arrays (cheaper than taking the rows out of the Arrow columns first)."""
    import pyarrow.compute as pc

    from smlp.data.schema import _numeric

    fields = [pc.cast(from_numpy(label.astype(np.float64, copy=False)), pa.string())]
    for item in plan:
        if isinstance(item, NumericFeature):
            numbers = _numeric(batch.column(item.name), item, source)[rows]
            fields.append(pc.cast(from_numpy(numbers.astype(np.float32)), pa.string()))
        else:
            fields.append(_run_text(batch, rows, item))
    if not isinstance(plan[-1], _TextRun):
        fields[-1] = pc.binary_join_element_wise(fields[-1], text(""), text("\n"))
    return pc.binary_join_element_wise(*fields, text(","))


def _write(path: Path | _Spill, types: dict[str, Any], keep: np.ndarray, labels: np.ndarray,
           values: np.ndarray, schema: Schema, writers: dict[str, ShardWriter],
           source: str) -> dict[str, int]:
    """Pass 3: encode each block and append its rows to their split's shards (the bytes
    ``prepare.write_split`` writes for the same rows, in input order). Formatting numbers as
    text is the costliest step: a block per thread, written in input order."""
    rows = dict.fromkeys(SPLITS, 0)
    plan = _field_plan(schema)
    blocks = ((plan, batch, kept, split, values[where], source)
              for batch, kept, split, where in _blocks(path, types, keep, labels))
    for lines, sizes in _in_order(_encode, blocks):
        start = 0
        for name, size in zip(SPLITS, sizes, strict=True):
            if size:
                data, ends = _text_bytes(lines.slice(start, size))
                writers[name].write(data, ends)
                rows[name] += size
                start += size
    return rows


def _encode(plan: list[NumericFeature | _TextRun], batch: pa.RecordBatch, kept: np.ndarray,
            split: np.ndarray, label: np.ndarray, source: str) -> tuple[pa.Array, list[int]]:
    """The block's kept rows' lines grouped by split (train, validation, test), each group in
    input order, and the groups' sizes (the text is sliced, never filtered)."""
    order = np.argsort(split, kind="stable")
    sizes = np.bincount(split, minlength=len(SPLITS)).tolist()
    return _lines(plan, batch, kept[order], label[order], source), sizes


def _text_bytes(array: pa.Array) -> tuple[pa.Buffer, np.ndarray]:
    """The concatenated bytes of a string array's values, without a copy, and where each
    value ends in them."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1,
                           offset=array.offset * 4)
    return data[int(bounds[0]):int(bounds[-1])], bounds[1:] - bounds[0]
