"""The streamed prepare's first pass: blocks parsed on several threads are the blocks
pyarrow's own reader gives, the file is hashed as it is read, and bad input still fails in
one line naming where."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from smlp.config.data import SplitFractions
from smlp.data import stream
from smlp.errors import DataError
from tests.unit.test_data_stream import write_raw


def _prepare(path: Path, out: Path) -> stream.StreamedData:
    out.mkdir(exist_ok=True)
    return stream.prepare_csv(path, "y", "id", SplitFractions(), 7, True, "auto", out)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "none"])
def test_blocks_hold_what_pyarrows_reader_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 ending: str) -> None:
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(tmp_path / "raw.csv", 2000)
    body = raw.read_text()
    body = body.rstrip("\n") if ending == "none" else body.replace("\n", ending)
    raw.write_bytes(body.encode())
    with stream._CsvBlocks(raw) as blocks:
        schema = blocks.schema()
        ours = pa.Table.from_batches(list(blocks), schema)
        digest = blocks.sha256()
    theirs = pacsv.read_csv(raw, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    assert ours.num_rows == 2000
    assert ours.equals(theirs.cast(schema))
    assert digest == hashlib.sha256(raw.read_bytes()).hexdigest()


def test_the_input_is_hashed_by_the_pass_that_reads_it(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(tmp_path / "raw.csv", 3000)
    assert _prepare(raw, tmp_path / "a").source_sha256 == hashlib.sha256(
        raw.read_bytes()).hexdigest()
    late = write_raw(tmp_path / "late.csv", 3000, empty_first=2500)  # read twice: no hash
    assert _prepare(late, tmp_path / "b").source_sha256 is None


def test_bad_utf8_in_the_first_block_names_the_line(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow types a first block's column of bad UTF-8 as binary: refused like any
    non-UTF-8 file, not a traceback from a later cast."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(tmp_path / "raw.csv", 3000)
    lines = raw.read_bytes().split(b"\n")
    fields = lines[3].split(b",")
    fields[4] = b"M\xfcnchen"
    lines[3] = b",".join(fields)
    raw.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=r"raw.csv:4: not UTF-8 text \(byte 0xfc\)"):
        _prepare(raw, tmp_path / "out")


def test_a_short_row_in_a_later_block_is_named_by_its_row(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """pyarrow numbers the rows of the block it parses; the error counts them from the
    file's first line, as ``read_csv`` over the whole file does."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(tmp_path / "raw.csv", 3000)
    lines = raw.read_text().split("\n")
    lines[2500] = "2499,1"  # line 2501: the header is row 1
    raw.write_text("\n".join(lines))
    with pytest.raises(pa.ArrowInvalid, match=r"Row #2501: Expected 6 columns, got 2"):
        pacsv.read_csv(raw, read_options=pacsv.ReadOptions(use_threads=False))
    with pytest.raises(DataError, match=r"raw.csv: not a readable CSV file \(CSV parse error: "
                                        r"Row #2501: Expected 6 columns, got 2: 2499,1\)"):
        _prepare(raw, tmp_path / "out")


def test_the_parsed_blocks_are_removed_once_written(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pass's spill goes when the shards are written, before the store syncs its
    files to disk: its pages are dropped instead of being written out."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(tmp_path / "raw.csv", 3000)
    written = _prepare(raw, tmp_path / "out")
    assert written.source_sha256 is not None  # the typed pass, which spills, read it
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["test", "train",
                                                                    "validation"]


def test_blocks_held_in_memory_or_spilled_to_a_file_give_the_same_shards(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small input's parsed blocks stay in memory between the passes; past
    ``SPILL_MEMORY`` they all go to a file as they come (written, then read back twice)."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(tmp_path / "raw.csv", 3000)
    spilled: list[int] = []
    write = stream._Spill.write

    def noting(self: stream._Spill, batch: object) -> None:
        write(self, batch)
        if self.path.exists():
            spilled.append(self.path.stat().st_size)

    monkeypatch.setattr(stream._Spill, "write", noting)
    held = _prepare(raw, tmp_path / "held")
    assert not spilled
    monkeypatch.setattr(stream, "SPILL_MEMORY", 20_000)
    filed = _prepare(raw, tmp_path / "filed")
    assert spilled and spilled[0] > 0
    for split in held.shards:
        assert [s.sha256 for s in filed.shards[split]] == [s.sha256 for s in held.shards[split]]
    assert filed.schema == held.schema
    assert not (tmp_path / "filed" / "input.arrows").exists()


def test_a_streamed_prepare_does_not_import_numpy_ma(tmp_path: Path) -> None:
    """``pa.array`` of a numpy array and ``np.median`` import numpy.ma (20-85 ms of a
    prepare's start) to ask whether an array is masked; none of ours is."""
    import subprocess
    import sys

    raw = write_raw(tmp_path / "raw.csv", 3000)
    (tmp_path / "out").mkdir()
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from smlp.config.data import SplitFractions\n"
            "from smlp.data import stream\n"
            "stream.BLOCK_BYTES = 4096\n"
            f"stream.prepare_csv(Path({str(raw)!r}), 'y', 'id', SplitFractions(), 7, True, "
            f"'auto', Path({str(tmp_path / 'out')!r}))\n"
            "print('numpy.ma' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], check=True)
    assert done.stdout.strip() == "False"
