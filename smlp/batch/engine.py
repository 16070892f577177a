"""Local Batch Transform: stream CSV files through a model with SageMaker's semantics.

Every input file is cut into byte blocks at newlines; each block is parsed, predicted and
formatted on its own, and its lines are written in input order. An input larger than one
block runs its blocks (of one file or of several) on a small thread pool, one worker per
usable core: pyarrow releases the GIL while it parses and formats, xgboost and faiss while
they predict. The calling thread reads the next block and writes finished ones in order, so
at most two blocks per worker are in memory whatever the input size. An input smaller than one
block is done on the calling thread: a thread would only add its start-up and hand-over.
Output goes to a temp file in the output folder, renamed to ``<name>.out`` only once complete.

Several blocks are only predicted at once when ``predict`` says it may be: a function with a
``set_threads(n)`` attribute is called from several threads at once (n: the threads each call
may use, so that workers x n fits the cores); any other is called one block at a time, in
order, as a stateful "model" (a replay of recorded predictions) needs.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from smlp.batch.few_rows import QUICK_ROWS
from smlp.batch.jsonpath import ColumnPath, parse_path
from smlp.batch.options import BatchOptions, BatchResult, RowEncoder, UnseenCounts, merge_unseen
from smlp.batch.output import PREDICTION
from smlp.batch.reader import Block, FilePlan, load_arrow, parse_block, plan_file, read_blocks
from smlp.errors import DataError
from smlp.fileio import temp_path_for
from smlp.number_text import arrow_texts

if TYPE_CHECKING:
    import pyarrow as pa

MIB = 1 << 20
DEFAULT_BLOCK_SIZE = 16 * MIB  # ~190k rows of 8 floats: amortises per-call costs; see benchmark

Predict = Callable[[np.ndarray], np.ndarray]


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
    workers: int | None = None,
) -> BatchResult:
    """Write ``<file>.out`` in ``output_dir`` for every input file; one line per record.

    What each line holds is decided per file by ``smlp.batch.output.output_plan``.
    ``block_size`` (bytes) overrides the mini-batch size, for tests; otherwise it is
    ``max_payload_mb`` capped at an efficient default. ``workers``: blocks processed at once
    (default: the usable cores, see ``usable_cores``). Neither changes the output.
    """
    started = time.perf_counter()
    input_filter = parse_path(options.input_filter, "transform.input_filter")
    output_filter = parse_path(options.output_filter, "transform.output_filter")
    files = input_files(Path(input_path))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    sizes = [path.stat().st_size for path in files]
    progress = _Progress(sum(sizes), on_progress)
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
    cores = usable_cores()
    count = cores if workers is None else max(1, workers)
    set_threads = getattr(predict, "set_threads", None)
    if count > 1 and sum(sizes) > job.block_size:
        if set_threads is not None:
            set_threads(max(1, cores // count))
        done = _run_pool(job, files, output_dir, count, serial_predict=set_threads is None)
    else:
        if set_threads is not None:
            set_threads(cores)
        done = _run_pool(job, files, output_dir, 0)
    return BatchResult(done, sum(rows for _, _, rows in done), time.perf_counter() - started,
                       unseen=job.unseen)


def usable_cores() -> int:
    """Cores this process may run on, or fewer when ``OMP_NUM_THREADS`` says so.

    The local backend gives each of several side-by-side jobs its share of the cores through
    ``OMP_NUM_THREADS``; a transform run inside such a share keeps to it.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return max(1, cores)


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


def _run_pool(job: _Job, files: list[Path], output_dir: Path, workers: int,
              serial_predict: bool = False) -> list[tuple[Path, Path, int]]:
    """Every file's blocks, ``workers`` at a time (0: each on this thread), written in order.

    This thread plans each file and reads its blocks; a block's parse, prediction and
    formatting run on the pool; its lines are written once every block before it, of its
    file and of the files before, is written. An error surfaces at its place in that order,
    so the run fails with the same message whatever the number of workers.
    """
    pool = ThreadPoolExecutor(workers, thread_name_prefix="smlp-batch") if workers else None
    depth = 2 * workers if workers else 1  # blocks in flight: one queued per busy worker
    turns = _Turns() if pool is not None and serial_predict else None
    pending: deque[_Pending] = deque()
    opened: list[_Output] = []
    done: list[tuple[Path, Path, int]] = []
    stream = _stream(job, files, output_dir, opened)
    in_flight = number = 0
    try:
        while True:
            try:
                out, block = next(stream)
            except StopIteration:
                break
            except Exception as exc:  # reading or planning: raised after the blocks before it
                failed: Future[_Done] = Future()
                failed.set_exception(exc)
                pending.append(_Pending(None, failed))
                break
            if block is None:
                pending.append(_Pending(out, None))
            else:
                pending.append(_Pending(out, _submit(pool, _Task(job, *block, turns, number))))
                number += 1
                in_flight += 1
            # Bounded blocks (memory) and bounded file ends (open files: many empty shards).
            while in_flight >= depth or len(pending) > 2 * depth:
                in_flight -= _finish(job, pending.popleft(), opened, done)
        while pending:
            _finish(job, pending.popleft(), opened, done)
    except BaseException:
        for entry in pending:
            if entry.future is not None:
                entry.future.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # no worker still reads a file
        stream.close()
        for out in opened:
            out.abandon()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return done


def _stream(job: _Job, files: list[Path], output_dir: Path, opened: list[_Output]
            ) -> Iterator[tuple[_Output, tuple[FilePlan, int, bytearray] | None]]:
    """Each file's blocks in order, then ``(file, None)`` for its end; opens every output."""
    for path in files:
        out = _Output.open(path, output_dir)
        opened.append(out)
        for block in _blocks(job, out):
            yield out, block
        yield out, None


def _blocks(job: _Job, out: _Output) -> Iterator[tuple[FilePlan, int, bytearray]]:
    """``(plan, offset, data)`` per block of ``out``'s input; writes its header first."""
    planned = plan_file(out.path, out.src, job.n_features, job.input_filter, job.output_filter,
                        job.options, job.encoder, job.unseen)
    if planned is None:
        return
    plan, carry, offset = planned
    if plan.output.header:
        out.dst.write(plan.output.header_line())
    rest = max(out.size - offset, 0)  # bytes from the first record on
    # A small file is one block, read with a buffer its size (not block_size's).
    block_size = min(job.block_size, rest + 1)
    for at, data in read_blocks(out.src, block_size, carry, offset):
        yield plan, at, data


def _submit(pool: ThreadPoolExecutor | None, task: _Task) -> Future[_Done]:
    if pool is not None:
        return pool.submit(task)
    future: Future[_Done] = Future()  # no pool: run it now, hand the outcome over the same way
    try:
        future.set_result(task())
    except Exception as exc:
        future.set_exception(exc)
    return future


def _finish(job: _Job, entry: _Pending, opened: list[_Output],
            done: list[tuple[Path, Path, int]]) -> int:
    """Write the oldest block (or close its file); 1 if it was a block, else 0."""
    out = entry.output
    if entry.future is None:  # the end of ``out``'s file
        assert out is not None
        out.commit()
        opened.remove(out)
        job.progress.finish_file(out.size)
        done.append((out.path, out.target, out.rows))
        return 0
    result = entry.future.result()
    assert out is not None
    for buffer in result.buffers:
        out.dst.write(buffer)
    out.rows += result.rows
    if result.unseen:
        merge_unseen(job.unseen, result.unseen)
    job.progress.advance(result.offset + result.nbytes)
    return 1


# Internal records: no repr or == (each method a dataclass generates is compiled at import,
# ~0.5 ms of a small transform's start-up; only __init__ is used).
@dataclass(repr=False, eq=False)
class _Task:
    """One block's parse, prediction and formatting: what a worker does."""

    job: _Job
    plan: FilePlan
    offset: int
    data: bytearray
    turns: _Turns | None
    number: int  # the block's place in the run, for ``turns``

    def __call__(self) -> _Done:
        if self.turns is None:
            return self._run()
        try:
            return self._run()
        finally:
            self.turns.skip(self.number)  # a failed or empty block passes its turn on too

    def _run(self) -> _Done:
        block = parse_block(self.plan, self.offset, self.data)
        self.data = bytearray()  # the block's text is parsed: let it go
        buffers: list[bytes | pa.Buffer] = []
        if block.rows:
            if self.turns is None:
                predictions = _predict(self.plan, self.job.predict, block)
            else:
                with self.turns.turn(self.number):
                    predictions = _predict(self.plan, self.job.predict, block)
            buffers = list(_format(self.plan, block, predictions))
        return _Done(block.offset, block.nbytes, block.rows, buffers, block.unseen)


@dataclass(repr=False, eq=False)
class _Done:
    """A block's output lines, ready to be written in order."""

    offset: int
    nbytes: int
    rows: int
    buffers: list[bytes | pa.Buffer]
    unseen: UnseenCounts


@dataclass(repr=False, eq=False)
class _Pending:
    output: _Output | None
    future: Future[_Done] | None  # None: the end of ``output``'s file


@dataclass(repr=False, eq=False)
class _Output:
    """One input file and the temp file its output goes to until it is complete."""

    path: Path
    target: Path
    tmp: Path
    size: int
    src: BinaryIO
    dst: BinaryIO
    rows: int = 0

    @classmethod
    def open(cls, path: Path, output_dir: Path) -> _Output:
        target = output_dir / f"{path.name}.out"
        tmp = temp_path_for(target)
        src = open(path, "rb")
        try:
            dst = open(tmp, "wb")
        except BaseException:
            src.close()
            raise
        return cls(path, target, tmp, os.fstat(src.fileno()).st_size, src, dst)

    def commit(self) -> None:
        self.src.close()
        self.dst.close()
        os.replace(self.tmp, self.target)

    def abandon(self) -> None:
        self.src.close()
        self.dst.close()
        self.tmp.unlink(missing_ok=True)


class _Turns:
    """Blocks take turns at a predict function that is not safe to call from two threads:
    in their order in the run, one at a time."""

    def __init__(self) -> None:
        self._next = 0
        self._ready = threading.Condition()

    @contextmanager
    def turn(self, number: int) -> Iterator[None]:
        with self._ready:
            self._ready.wait_for(lambda: self._next == number)
        try:
            yield
        finally:
            self.skip(number)  # formatting needs no turn

    def skip(self, number: int) -> None:
        """Block ``number`` is done with predict (or never needed it): the next one's turn."""
        with self._ready:
            self._ready.wait_for(lambda: self._next >= number)
            self._next = max(self._next, number + 1)
            self._ready.notify_all()


def _predict(plan: FilePlan, predict: Predict, block: Block) -> dict[str, np.ndarray]:
    """The model's outputs for one block, as text, by the names output fields refer to."""
    predictions = np.asarray(predict(block.features))
    if predictions.ndim == 2 and predictions.shape[1] == 1:
        predictions = predictions[:, 0]
    if predictions.shape != (block.rows,):
        raise DataError(
            f"{plan.path}: the model returned predictions of shape {predictions.shape} "
            f"for {block.rows} rows; expected one value per row"
        )
    return {PREDICTION: predictions}


def _format(plan: FilePlan, block: Block, outputs: dict[str, np.ndarray]
            ) -> Iterator[bytes | pa.Buffer]:
    """The block's output lines as text buffers: the plan's fields joined by commas."""
    quick = _quick_lines(plan, block, outputs)
    if quick is not None:
        yield quick
        return
    pa, _ = load_arrow()
    import pyarrow.compute as pc  # ~75 ms to import: only for blocks past the quick path

    from smlp.arrays import strings, text

    values = {name: pa.array(value).cast(pa.string()) for name, value in outputs.items()}
    fields: list[pa.Array | pa.ChunkedArray] = [
        values[f.value] if f.column is None else _arrow_text(block.text[f.column])
        for f in plan.output.fields
    ]
    if not fields:
        fields = [strings([""] * block.rows)]
    fields[-1] = pc.binary_join_element_wise(fields[-1], text(""), text("\n"))
    lines = fields[0] if len(fields) == 1 else pc.binary_join_element_wise(*fields, text(","))
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    for chunk in chunks:
        yield _text_bytes(chunk)


def _arrow_text(column: Any) -> Any:
    """An input column as Arrow text: a few rows read in Python hold theirs in a list."""
    if isinstance(column, list):
        from smlp.arrays import strings

        return strings(column)
    return column


def _quick_lines(plan: FilePlan, block: Block, outputs: dict[str, np.ndarray]
                 ) -> bytes | None:
    """A few rows' lines in Python, the same bytes as the Arrow path; None: use Arrow.

    A small transform otherwise imports ``pyarrow.compute`` (a sixth of its start-up) to
    cast and join a few values; ``arrow_texts`` writes floats as Arrow's cast does.
    """
    columns: list[list[str]] = []
    for f in plan.output.fields:
        if f.column is None:
            texts = _value_texts(outputs[f.value])
        else:
            column = block.text[f.column]
            if isinstance(column, list):  # read in Python: the cells as written
                texts = column
            else:
                texts = None if column.null_count else column.to_pylist()
        if texts is None or len(texts) != block.rows:
            return None
        columns.append(texts)
    if not columns:
        return b"\n" * block.rows
    lines = [",".join(row) + "\n" for row in zip(*columns, strict=True)]
    return "".join(lines).encode()


def _value_texts(values: np.ndarray) -> list[str] | None:
    """Up to QUICK_ROWS model outputs as Arrow's cast to string writes them; None: use Arrow.

    Floats through ``arrow_texts``; integers as their digits; text (a classifier's labels, or
    its probabilities already written as one field) as it is.
    """
    texts = arrow_texts(values, QUICK_ROWS)
    if texts is not None or not isinstance(values, np.ndarray) or values.ndim != 1 \
            or values.size > QUICK_ROWS:
        return texts
    if values.dtype.kind in "iu":
        return [str(value) for value in values.tolist()]
    if values.dtype.kind in "OU":
        items = values.tolist()
        if all(type(item) is str for item in items):
            return items
    return None


def _text_bytes(array: pa.Array) -> pa.Buffer:
    """The concatenated bytes of a string array's values, without copying."""
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return data[int(bounds[0]) : int(bounds[-1])]


@dataclass(repr=False, eq=False)
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
