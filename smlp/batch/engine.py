"""Local Batch Transform: stream CSV files through a model with SageMaker's semantics.

Per file, a background thread reads and parses blocks (pyarrow releases the GIL) while the
calling thread predicts (xgboost releases it too) and writes; a queue of two blocks bounds
memory to a few blocks whatever the file size. A file that fits in one block is parsed in the
calling thread: there is nothing to overlap, only a thread to wait for. Output goes to a temp
file in the output folder, renamed to ``<name>.out`` only once complete.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Generic, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smlp.arrays import keep_pandas_out, strings, text
from smlp.batch.jsonpath import ColumnPath, parse_path
from smlp.batch.options import BatchOptions, BatchResult, RowEncoder, UnseenCounts
from smlp.batch.output import PREDICTION
from smlp.batch.reader import Block, FilePlan, parse_block, plan_file, read_blocks
from smlp.errors import DataError
from smlp.fileio import temp_path_for

MIB = 1 << 20
DEFAULT_BLOCK_SIZE = 16 * MIB  # ~190k rows of 8 floats: amortises per-call costs; see benchmark
QUEUE_DEPTH = 2

Predict = Callable[[np.ndarray], np.ndarray]
T = TypeVar("T")


def run_batch(
    input_path: Path,
    output_dir: Path,
    predict: Predict,
    n_features: int,
    options: BatchOptions,
    encoder: RowEncoder | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    block_size: int | None = None,
) -> BatchResult:
    """Write ``<file>.out`` in ``output_dir`` for every input file; one line per record.

    What each line holds is decided per file by ``smlp.batch.output.output_plan``.
    ``block_size`` (bytes) overrides the mini-batch size, for tests; otherwise it is
    ``max_payload_mb`` capped at an efficient default (the output does not depend on it).
    """
    started = time.perf_counter()
    keep_pandas_out()
    input_filter = parse_path(options.input_filter, "transform.input_filter")
    output_filter = parse_path(options.output_filter, "transform.output_filter")
    files = input_files(Path(input_path))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    progress = _Progress(sum(path.stat().st_size for path in files), on_progress)
    job = _Job(
        predict=predict,
        n_features=n_features,
        input_filter=input_filter,
        output_filter=output_filter,
        options=options,
        encoder=encoder,
        block_size=block_size or _block_size(options),
        progress=progress,
    )
    done: list[tuple[Path, Path, int]] = []
    for path in files:
        target = output_dir / f"{path.name}.out"
        tmp = temp_path_for(target)
        try:
            with open(path, "rb") as src, open(tmp, "wb") as dst:
                rows = _run_file(job, path, src, dst)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        progress.finish_file(path.stat().st_size)
        done.append((path, target, rows))
    return BatchResult(done, sum(rows for _, _, rows in done), time.perf_counter() - started,
                       unseen=job.unseen)


def input_files(path: Path) -> list[Path]:
    """The file itself, or the folder's visible regular files sorted by name."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise DataError(f"{path}: input not found")
    if not path.is_dir():
        raise DataError(f"{path}: not a regular file or folder")
    files = sorted(
        (p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    if not files:
        raise DataError(f"{path}: no input files")
    return files


def _block_size(options: BatchOptions) -> int:
    if options.max_payload_mb == 0:
        return DEFAULT_BLOCK_SIZE
    return min(options.max_payload_mb * MIB, DEFAULT_BLOCK_SIZE)


def _run_file(job: _Job, path: Path, src: BinaryIO, dst: BinaryIO) -> int:
    planned = plan_file(path, src, job.n_features, job.input_filter, job.output_filter,
                        job.options, job.encoder, job.unseen)
    if planned is None:
        return 0
    plan, carry, offset = planned
    if plan.output.header:
        dst.write(plan.output.header_line())
    rest = max(path.stat().st_size - offset, 0)  # bytes from the first record on
    # A small file is one block, read with a buffer its size (not block_size's) and parsed
    # here: a thread would only add its start-up and hand-over to the first row's wait.
    block_size = min(job.block_size, rest + 1)
    blocks = (
        parse_block(plan, at, data) for at, data in read_blocks(src, block_size, carry, offset)
    )
    if rest < job.block_size:
        return _write_blocks(job, plan, blocks, dst)
    with _Background(blocks, QUEUE_DEPTH) as parsed:
        return _write_blocks(job, plan, parsed, dst)


def _write_blocks(job: _Job, plan: FilePlan, blocks: Iterator[Block], dst: BinaryIO) -> int:
    rows = 0
    for block in blocks:
        if block.rows:
            predictions = _predict(plan, job.predict, block)
            for buffer in _format(plan, block, predictions):
                dst.write(buffer)
            rows += block.rows
        job.progress.advance(block.offset + block.nbytes)
    return rows


def _predict(plan: FilePlan, predict: Predict, block: Block) -> dict[str, pa.Array]:
    """The model's outputs for one block, as text, by the names output fields refer to."""
    predictions = np.asarray(predict(block.features))
    if predictions.ndim == 2 and predictions.shape[1] == 1:
        predictions = predictions[:, 0]
    if predictions.shape != (block.rows,):
        raise DataError(
            f"{plan.path}: the model returned predictions of shape {predictions.shape} "
            f"for {block.rows} rows; expected one value per row"
        )
    return {PREDICTION: pa.array(predictions).cast(pa.string())}


def _format(plan: FilePlan, block: Block, values: dict[str, pa.Array]) -> Iterator[pa.Buffer]:
    """The block's output lines as text buffers: the plan's fields joined by commas."""
    fields: list[pa.Array | pa.ChunkedArray] = [
        values[f.value] if f.column is None else block.text[f.column]
        for f in plan.output.fields
    ]
    if not fields:
        fields = [strings([""] * block.rows)]
    fields[-1] = pc.binary_join_element_wise(fields[-1], text(""), text("\n"))
    lines = fields[0] if len(fields) == 1 else pc.binary_join_element_wise(*fields, text(","))
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    for chunk in chunks:
        yield _text_bytes(chunk)


def _text_bytes(array: pa.Array) -> pa.Buffer:
    """The concatenated bytes of a string array's values, without copying."""
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return data[int(bounds[0]) : int(bounds[-1])]


@dataclass
class _Job:
    """What every file of one run shares."""

    predict: Predict
    n_features: int
    input_filter: ColumnPath
    output_filter: ColumnPath
    options: BatchOptions
    encoder: RowEncoder | None
    block_size: int
    progress: _Progress
    unseen: UnseenCounts = field(default_factory=dict)


class _Progress:
    """Bytes done over all input files, reported through the caller's callback."""

    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.total = total
        self.before = 0  # bytes of files already finished
        self.callback = callback
        if callback is not None:
            callback(0, total)

    def advance(self, file_done: int) -> None:
        if self.callback is not None:
            self.callback(self.before + file_done, self.total)

    def finish_file(self, size: int) -> None:
        self.before += size
        if self.callback is not None:
            self.callback(self.before, self.total)


class _Background(Generic[T]):
    """Runs an iterator in a thread, ``depth`` items ahead; errors surface in the consumer.

    Used as a context manager so leaving early (an error while predicting) stops the thread
    before the file it reads is closed.
    """

    _DONE = object()

    def __init__(self, items: Iterator[T], depth: int) -> None:
        self._items = items
        self._queue: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="smlp-batch-reader", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._consume()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _consume(self) -> Iterator[T]:
        while True:
            item, error = self._queue.get()
            if error is not None:
                raise error
            if item is self._DONE:
                return
            yield item  # type: ignore[misc]

    def _work(self) -> None:
        try:
            for item in self._items:
                if not self._put((item, None)):
                    return
            self._put((self._DONE, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put((None, exc))
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def _put(self, entry: tuple[object, BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
