"""Splits as folders of shards (issue 14): how shards are cut, recorded, published, verified,
and a store written before shards existed (manifest schema 1) still read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from smlp.config import load_config
from smlp.data.prepare import write_split, write_split_shards
from smlp.data.shards import ShardWriter, cut_file, line_ends
from smlp.errors import ConfigError, IntegrityError, StoreError
from smlp.fileio import sha256_file
from smlp.manifest import (
    SCHEMA_VERSION,
    load_manifest,
    record_stage,
    split_sha256,
    verify_split,
)
from smlp.stages.data import ShardInfo, generate, publish_shards, shard_key
from smlp.stages.train import verify_data
from smlp.store import LocalStore

SCHEMA1_STORE = Path(__file__).parent.parent / "fixtures" / "schema1_store"


def rows_text(count: int, width: int = 3) -> bytes:
    return b"".join(",".join(str(i * 10 + j) for j in range(width)).encode() + b"\n"
                    for i in range(count))


def test_the_writer_cuts_at_whole_rows_by_size(tmp_path: Path) -> None:
    text = rows_text(100)  # lines of 6 to 9 bytes, written in two blocks
    head = int(line_ends(text)[40])
    writer = ShardWriter(tmp_path, 100, 1, shard_bytes=64)
    writer.write(text[:head], line_ends(text[:head]))
    writer.write(text[head:], line_ends(text[head:]))
    shards = writer.close()
    assert [s.path.name for s in shards] == [f"part-{i:05d}.csv" for i in range(len(shards))]
    assert b"".join(s.path.read_bytes() for s in shards) == text
    assert len(shards) >= len(text) / 64
    for shard in shards[:-1]:  # full: the next row would not have fitted
        following = shards[shards.index(shard) + 1].path.read_bytes().split(b"\n", 1)[0]
        assert shard.size + len(following) + 1 > 64
    for shard in shards:
        body = shard.path.read_bytes()
        assert 0 < len(body) <= 64 and body.endswith(b"\n")
        assert (shard.size, shard.rows, shard.sha256) == (len(body), body.count(b"\n"),
                                                          sha256_file(shard.path))


@pytest.mark.parametrize(("rows", "floor", "expected"), [
    (10, 2, [5, 5]), (7, 3, [2, 2, 3]), (2, 4, [1, 1]), (0, 2, [0]), (9, 1, [9])])
def test_the_floor_gives_near_equal_shards(tmp_path: Path, rows: int, floor: int,
                                           expected: list[int]) -> None:
    """At least ``floor`` shards (one per instance), never an empty one (but for no rows)."""
    text = rows_text(rows)
    writer = ShardWriter(tmp_path, rows, floor, shard_bytes=1 << 20)
    writer.write(text, line_ends(text))
    assert [s.rows for s in writer.close()] == expected


def test_a_row_larger_than_the_shard_size_is_a_shard_of_its_own(tmp_path: Path) -> None:
    text = b"1," + b"9" * 100 + b"\n" + b"2,3\n"
    shards = cut_file(_file(tmp_path / "in.csv", text), tmp_path / "out", 2, 1, 16)
    assert [s.path.read_bytes() for s in shards] == [text[:-4], b"2,3\n"]


def test_shards_hold_write_splits_bytes_in_order(tmp_path: Path) -> None:
    """The in-memory prepare's shards, read in name order, are its one-file split."""
    rng = np.random.default_rng(0)
    array = np.column_stack([rng.normal(size=5000), rng.normal(size=(5000, 4))])
    write_split(array, tmp_path / "whole.csv")
    shards = write_split_shards(array, tmp_path / "shards", 3, 20_000)
    assert len(shards) > 3
    assert b"".join(s.path.read_bytes() for s in shards) == (tmp_path / "whole.csv").read_bytes()
    one = write_split_shards(array, tmp_path / "one", 1, 64 << 20)
    assert len(one) == 1 and one[0].sha256 == sha256_file(tmp_path / "whole.csv")


def test_shard_mb_is_validated() -> None:
    assert load_config(None, {}).data.shard_mb == 64
    with pytest.raises(ConfigError, match="data.shard_mb"):
        load_config(None, {"data.shard_mb": 0})


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sharded_store(tmp_path: Path) -> LocalStore:
    """Generated data whose splits are several shards each (small shard size)."""
    store = LocalStore(tmp_path / "store")
    generate(load_config(None, {"data.rows": 2000, "data.shard_mb": 0.02,
                                "algorithms.xgboost.instance_count": 3}), store)
    return store


def test_generate_writes_shards_and_records_each(tmp_path: Path) -> None:
    store = _sharded_store(tmp_path)
    manifest = load_manifest(store)
    assert manifest.schema_version == SCHEMA_VERSION == 2
    data = manifest.require_data()
    for name, split in data.splits.items():
        assert len(split.shards) >= (3 if name == "train" else 2), name
        assert split.uri == store.uri(f"{store.key(split.uri)}")
        assert store.key(split.uri).endswith(f"/{name}")
        version = store.key(split.uri).split("/")[1]
        assert [store.key(s.uri) for s in split.shards] == [
            shard_key(version, name, i) for i in range(len(split.shards))]
        assert split.sha256 == split_sha256([s.sha256 for s in split.shards])
        assert split.size == sum(s.size for s in split.shards)
        assert split.rows == data.rows[name] == sum(
            (store.path / store.key(s.uri)).read_bytes().count(b"\n") for s in split.shards)
    verify_data(store, data)


def test_a_changed_shard_is_refused_by_name(tmp_path: Path) -> None:
    store = _sharded_store(tmp_path)
    data = load_manifest(store).require_data()
    second = data.splits["validation"].shards[1]
    path = store.path / store.key(second.uri)
    path.write_bytes(path.read_bytes().replace(b",", b",1", 1))
    with pytest.raises(IntegrityError, match=rf"{second.uri}: sha256 .* validation split was "
                                             "changed"):
        verify_data(store, data)
    path.unlink()
    with pytest.raises(IntegrityError, match=rf"{second.uri}: the validation split is missing"):
        verify_split(store, data.splits["validation"], "validation split", "smlp data generate")


def test_a_manifest_whose_shards_do_not_add_up_is_refused(tmp_path: Path) -> None:
    store = _sharded_store(tmp_path)
    raw = json.loads((store.path / "manifest.json").read_text())
    raw["data"]["splits"]["train"]["shards"].pop()  # a shard dropped by hand
    (store.path / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(IntegrityError, match="train split's shards do not add up"):
        verify_data(store, load_manifest(store).require_data())


def test_publish_shards_records_shards_already_in_the_store(tmp_path: Path) -> None:
    """What a SageMaker Processing job does: shards written under a version first, then
    published as the manifest's data."""
    from smlp.data.schema import load_schema

    source = _sharded_store(tmp_path)
    data = load_manifest(source).require_data()
    schema = load_schema(source, data)
    store = LocalStore(tmp_path / "other")
    shards = {}
    for name, split in data.splits.items():
        shards[name] = []
        for index, shard in enumerate(split.shards):
            key = shard_key("job-1", name, index)
            store.write_bytes(key, (source.path / source.key(shard.uri)).read_bytes())
            shards[name].append(ShardInfo(key, shard.sha256, shard.size, shard.rows))
    with record_stage(store, "data", "smlp data prepare --backend sagemaker") as record:
        published = publish_shards(store, schema, shards, record)
    recorded = load_manifest(store)
    assert recorded.data == published
    assert published.rows == data.rows and published.features == data.features
    assert {n: s.sha256 for n, s in published.splits.items()} == {
        n: s.sha256 for n, s in data.splits.items()}
    assert store.exists("data/job-1/schema.json")
    assert recorded.stages["data"].outputs["train"].uri == store.uri("data/job-1/train")
    verify_data(store, published)


def test_publish_shards_refuses_keys_it_did_not_name_and_missing_shards(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    good = {split: [ShardInfo(shard_key("v", split, 0), "a" * 64, 1, 1)]
            for split in ("train", "validation", "test")}
    wrong = {**good, "test": [ShardInfo("data/v/test/test.csv", "a" * 64, 1, 1)]}
    with pytest.raises(ValueError, match="data/v/test/test.csv is not"):
        publish_shards(store, None, wrong, None)
    mixed = {**good, "test": [ShardInfo(shard_key("w", "test", 0), "a" * 64, 1, 1)]}
    with pytest.raises(ValueError, match="several versions"):
        publish_shards(store, None, mixed, None)
    with pytest.raises(StoreError, match="train shard not found"):
        publish_shards(store, None, good, None)


# -- a store written before shards existed ----------------------------------------------------
@pytest.fixture
def schema1_store(tmp_path: Path) -> LocalStore:
    shutil.copytree(SCHEMA1_STORE, tmp_path / "store")
    return LocalStore(tmp_path / "store")


def test_a_schema1_manifest_loads_with_one_shard_splits(schema1_store: LocalStore) -> None:
    raw = json.loads((schema1_store.path / "manifest.json").read_text())
    assert raw["schema_version"] == 1
    manifest = load_manifest(schema1_store)
    data = manifest.require_data()
    for name, split in data.splits.items():
        old = raw["data"]["splits"][name]
        assert split.uri == schema1_store.uri(old["uri"].rsplit("/", 1)[0])
        assert [(s.uri, s.sha256, s.size, s.rows) for s in split.shards] == [
            (schema1_store.uri(old["uri"]), old["sha256"], old["size"], data.rows[name])]
        assert split.sha256 == old["sha256"]  # what the candidates recorded still matches
    assert manifest.candidates["xgboost"].data_sha256 == data.splits["train"].sha256
    verify_data(schema1_store, data)


def test_the_same_data_generated_now_is_the_same_version(schema1_store: LocalStore,
                                                         tmp_path: Path) -> None:
    """One shard hashes as the old single file did: same split hashes, same version."""
    old = load_manifest(schema1_store).require_data()
    store = LocalStore(tmp_path / "new")
    new = generate(load_config(None, {"data.rows": 100}), store)
    assert {n: s.sha256 for n, s in new.splits.items()} == {
        n: s.sha256 for n, s in old.splits.items()}
    assert store.key(new.splits["train"].uri) == "data/94f93ef2deed/train"


def test_a_schema1_manifest_is_written_back_as_schema2(schema1_store: LocalStore) -> None:
    from smlp.manifest import update_manifest

    update_manifest(schema1_store, lambda manifest: manifest.extra.update(note=1))
    raw = json.loads((schema1_store.path / "manifest.json").read_text())
    assert raw["schema_version"] == 2
    assert raw["data"]["splits"]["test"]["uri"] == "data/94f93ef2deed/test"
    assert raw["data"]["splits"]["test"]["shards"][0]["uri"] == "data/94f93ef2deed/test/test.csv"
