"""Streaming ``data prepare`` (smlp.data.stream): in blocks, the same rows in each split and
the same bytes per row as the in-memory path; sampled medians recorded in the schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smlp.config.data import SplitFractions
from smlp.data import stream
from smlp.data.prepare import SPLITS, prepare_table, read_table, write_split
from smlp.errors import DataError
from smlp.fileio import sha256_file


def write_raw(path: Path, rows: int, empty_first: int = 0, target: str = "number") -> Path:
    """Mixed columns: ints, floats with gaps, text with gaps, an ID; ``empty_first`` rows of
    column ``late`` empty before numbers appear (a first block would type it null)."""
    rng = np.random.default_rng(3)
    lines = ["id,count,x,late,city,y"]
    for i in range(rows):
        x = "" if i % 11 == 0 else f"{rng.normal():.4f}"
        late = "" if i < empty_first or i % 7 == 0 else f"{rng.normal() * 3:.3f}"
        city = ["north", "south", "", "east"][int(rng.integers(0, 4))]
        if target == "number":
            y = f"{rng.normal() + (city == 'north'):.4f}" if i % 53 else ""
        else:
            y = ["cat", "dog", "fish"][int(rng.integers(0, 3))]
        lines.append(f"{i},{int(rng.integers(0, 9))},{x},{late},{city},{y}")
    path.write_text("\n".join(lines) + "\n")
    return path


def sorted_lines(path: Path | list) -> list[str]:
    """The lines of a file, or of a split's shards (``WrittenShard``s), sorted."""
    paths = [path] if isinstance(path, Path) else [shard.path for shard in path]
    return sorted(line for p in paths for line in p.read_text().splitlines())


def in_memory(path: Path, tmp: Path, problem_type: str = "auto") -> tuple[object, dict]:
    prepared = prepare_table(read_table(path), "y", "id", SplitFractions(), 7, True, str(path),
                             problem_type)
    files = {}
    for split in SPLITS:
        files[split] = tmp / f"memory-{split}.csv"
        write_split(prepared.splits[split], files[split])
    return prepared, files


@pytest.mark.parametrize("empty_first", [0, 2500], ids=["typed", "types change later"])
def test_streamed_splits_hold_the_in_memory_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 empty_first: int) -> None:
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)  # many blocks
    raw = write_raw(tmp_path / "raw.csv", 3000, empty_first)
    out = tmp_path / "out"
    out.mkdir()
    streamed = stream.prepare_csv(raw, "y", "id", SplitFractions(), 7, True, "auto", out)
    prepared, files = in_memory(raw, tmp_path)
    assert streamed.dropped_rows == prepared.dropped_rows > 0
    assert streamed.schema.fill_method == "median"
    for ours, theirs in zip(streamed.schema.features, prepared.schema.features, strict=True):
        assert ours.name == theirs.name and ours.kind == theirs.kind
        if ours.kind == "numeric":
            assert (ours.fill, ours.mean, ours.scale) == pytest.approx(
                (theirs.fill, theirs.mean, theirs.scale), rel=1e-9, abs=1e-12)
        else:
            assert ours.categories == theirs.categories
    for split in SPLITS:
        assert streamed.rows[split] == prepared.splits[split].shape[0]
        assert len(streamed.shards[split]) == 1  # 64 MiB shards: one for this little data
        assert sorted_lines(streamed.shards[split]) == sorted_lines(files[split])
        assert streamed.shards[split][0].sha256 == sha256_file(streamed.shards[split][0].path)
    assert not (out / "input.arrows").exists() or empty_first == 0


def test_classification_streams_the_same_stratified_splits(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(tmp_path / "raw.csv", 2000, target="class")
    out = tmp_path / "out"
    out.mkdir()
    streamed = stream.prepare_csv(raw, "y", "id", SplitFractions(), 7, True, "auto", out)
    prepared, files = in_memory(raw, tmp_path)
    assert streamed.schema.problem_type == prepared.schema.problem_type == "multiclass"
    assert streamed.schema.classes == prepared.schema.classes == ["cat", "dog", "fish"]
    for split in SPLITS:
        assert sorted_lines(streamed.shards[split]) == sorted_lines(files[split])


def test_medians_beyond_the_sample_size_are_sampled_and_say_so(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(stream, "MEDIAN_SAMPLE", 300)
    raw = write_raw(tmp_path / "raw.csv", 3000)
    schemas = []
    for run in ("a", "b"):
        out = tmp_path / run
        out.mkdir()
        schemas.append(stream.prepare_csv(raw, "y", "id", SplitFractions(), 7, True, "auto",
                                          out).schema)
    assert schemas[0] == schemas[1]  # seeded: the same sample every time
    recorded = json.loads(schemas[0].to_json())
    assert recorded["fill_method"].startswith("median of a seeded uniform sample")
    prepared, _ = in_memory(raw, tmp_path)
    exact = {f.name: f.fill for f in prepared.schema.features if f.kind == "numeric"}
    for feature in schemas[0].features:
        if feature.kind == "numeric" and feature.name == "x":
            assert feature.fill == pytest.approx(exact["x"], abs=0.15)  # N(0, 1): close
    assert "fill_method" not in json.loads(prepared.schema.to_json())  # exact: as before


def test_bad_input_is_refused_in_one_line(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw.csv", 200)
    text = raw.read_text().splitlines()
    fields = text[41].split(",")  # data row 41 (line 1 is the header)
    text[41] = ",".join(fields[:2] + ["inf"] + fields[3:])
    (tmp_path / "inf.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"column 'x' has an infinite value in data row 41"):
        stream.prepare_csv(tmp_path / "inf.csv", "y", "id", SplitFractions(), 7, True, "auto",
                           tmp_path)
    blank = ["id,gone,y"] + [f"{i},,{i % 5}" for i in range(30)]
    (tmp_path / "blank.csv").write_text("\n".join(blank) + "\n")
    with pytest.raises(DataError, match=r"column 'gone' is all missing"):
        stream.prepare_csv(tmp_path / "blank.csv", "y", "id", SplitFractions(), 7, True, "auto",
                           tmp_path)
    with pytest.raises(DataError, match=r"target column 'nope' not found"):
        stream.prepare_csv(raw, "nope", None, SplitFractions(), 7, True, "auto", tmp_path)


def test_streamed_shards_cut_the_one_file_split_at_whole_rows(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """Small shards and a train floor of 3: in name order the shards are the one-shard
    split's bytes; each a whole-row CSV within the size, hashed and counted as written."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(tmp_path / "raw.csv", 3000)
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    whole = stream.prepare_csv(raw, "y", "id", SplitFractions(), 7, True, "auto",
                               tmp_path / "one")
    sharded = stream.prepare_csv(raw, "y", "id", SplitFractions(), 7, True, "auto",
                                 tmp_path / "many", {"train": 3}, shard_bytes=8192)
    for split in SPLITS:
        shards = sharded.shards[split]
        assert [s.path.name for s in shards] == [f"part-{i:05d}.csv" for i in range(len(shards))]
        assert len(shards) > 1
        joined = b"".join(s.path.read_bytes() for s in shards)
        assert joined == whole.shards[split][0].path.read_bytes()
        for shard in shards:
            body = shard.path.read_bytes()
            assert body.endswith(b"\n") and 0 < len(body) <= 8192
            assert (shard.size, shard.rows) == (len(body), body.count(b"\n"))
            assert shard.sha256 == sha256_file(shard.path)
        assert sum(s.rows for s in shards) == sharded.rows[split]
