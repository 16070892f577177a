"""Writing a split as shards: complete SageMaker CSV files of whole rows, in row order.

A shard closes when it reaches the target size (``data.shard_mb``), and at the row bounds that
give at least ``min_shards`` shards of near-equal rows: with ``ShardedByS3Key`` "each instance
gets approximately 1/n of the number of S3 objects", and more instances than objects leaves
some with no data, billed (SageMaker API reference, ``S3DataSource.S3DataDistributionType``).
Read in name order the shards are the split's rows in order, byte for byte what one file would
hold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

MIB = 1 << 20
READ_BYTES = 16 * MIB  # how much of a one-file split ``cut_file`` reads at a time


def shard_name(index: int) -> str:
    """``part-00000.csv``: names that sort in row order (``smlp.stages.data.shard_key``)."""
    return f"part-{index:05d}.csv"


@dataclass(frozen=True)
class WrittenShard:
    path: Path
    sha256: str
    size: int
    rows: int


class ShardWriter:
    """Whole lines in, shards out (``folder/part-NNNNN.csv``), hashed on the way."""

    def __init__(self, folder: Path, total_rows: int, min_shards: int = 1,
                 shard_bytes: int = 64 * MIB) -> None:
        if shard_bytes <= 0:
            raise ValueError("shard_bytes must be > 0")
        self.folder = folder
        self.shard_bytes = shard_bytes
        parts = max(1, min(min_shards, total_rows))
        # Row counts where a shard must end so that there are at least ``parts`` of them.
        self._cuts = sorted({i * total_rows // parts for i in range(1, parts)})
        self._written: list[WrittenShard] = []
        self._handle: BinaryIO | None = None
        self._digest: Any = None
        self._size = self._rows = self._total = 0
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, data: Any, ends: np.ndarray) -> None:
        """Rows of ``data`` (bytes-like) ending (exclusive) at the byte offsets ``ends``."""
        view = memoryview(data).cast("B")
        done = start = 0
        count = len(ends)
        while done < count:
            if self._handle is None:
                self._open()
            take = count - done
            while self._cuts and self._cuts[0] <= self._total:
                self._cuts.pop(0)
            if self._cuts:
                take = min(take, self._cuts[0] - self._total)
            room = self.shard_bytes - self._size
            fits = int(np.searchsorted(ends[done:done + take], start + room, side="right"))
            take = max(1, fits) if self._rows == 0 else min(take, fits)
            if take == 0:
                self._close()
                continue
            end = int(ends[done + take - 1])
            chunk = view[start:end]
            assert self._handle is not None
            self._handle.write(chunk)
            self._digest.update(chunk)
            self._size += end - start
            self._rows += take
            self._total += take
            done += take
            start = end
            if self._size >= self.shard_bytes or (self._cuts and self._cuts[0] <= self._total):
                self._close()

    def close(self) -> list[WrittenShard]:
        """The shards written, in order (one empty shard for a split with no rows)."""
        if self._handle is None and not self._written:
            self._open()
        if self._handle is not None:
            self._close()
        return list(self._written)

    def discard(self) -> None:
        """Close an unfinished shard (a failed prepare leaves its folder to be removed)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> None:
        self._handle = open(self.folder / shard_name(len(self._written)), "wb")
        self._digest = hashlib.sha256()
        self._size = self._rows = 0

    def _close(self) -> None:
        assert self._handle is not None
        self._handle.close()
        self._written.append(WrittenShard(Path(self._handle.name), self._digest.hexdigest(),
                                          self._size, self._rows))
        self._handle = None


def line_ends(chunk: Any) -> np.ndarray:
    """Byte offsets just past each newline of ``chunk`` (any bytes-like object)."""
    return np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + 1


def cut_file(path: Path, folder: Path, rows: int, min_shards: int,
             shard_bytes: int) -> list[WrittenShard]:
    """Cut a one-file split (every row ending in a newline) into shards, in bounded memory."""
    writer = ShardWriter(folder, rows, min_shards, shard_bytes)
    carry = b""
    with open(path, "rb") as handle:
        while block := handle.read(READ_BYTES):
            block = carry + block
            ends = line_ends(block)
            whole = int(ends[-1]) if len(ends) else 0
            if whole:
                writer.write(block[:whole], ends)
            carry = block[whole:]
    if carry:
        writer.write(carry + b"\n", np.array([len(carry) + 1]))
    return writer.close()
