"""Publishing prepared shards: shards this process uploaded are not looked up again (on S3 one
request each); shards someone else wrote (a Processing job) still are."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlp.config import load_config
from smlp.data import stream
from smlp.errors import StoreError
from smlp.fileio import sha256_file
from smlp.manifest import StageRecord, load_manifest
from smlp.stages import data as stage
from smlp.store import LocalStore
from tests.unit.test_data_stream import write_raw


class CountingStore(LocalStore):
    """A local store that notes every key asked about with ``exists``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.asked: list[str] = []

    def exists(self, key: str) -> bool:
        self.asked.append(key)
        return super().exists(key)


@pytest.mark.parametrize("streamed", [False, True], ids=["in memory", "streamed"])
def test_shards_just_uploaded_are_not_looked_up_again(project: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      streamed: bool) -> None:
    if streamed:
        monkeypatch.setattr(stream, "STREAM_BYTES", 0)
        monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    raw = write_raw(project / "raw.csv", 2000)
    store = CountingStore(project / "store")
    stage.prepare(load_config(None, {"data.shard_mb": 0.01}), store, raw, "y", "id")
    data = load_manifest(store).require_data()
    shards = [shard for split in data.splits.values() for shard in split.shards]
    assert len(shards) > 3  # several per split
    for shard in shards:
        assert sha256_file(Path(shard.uri)) == shard.sha256
    assert not [key for key in store.asked if key.endswith(".csv")]


def test_shards_written_by_someone_else_must_be_in_the_store(project: Path) -> None:
    store = CountingStore(project / "store")
    schema, shards = _shards_of_a_prepare(project, store)
    missing = shards["test"][0]
    (store.path / missing.key).unlink()
    with pytest.raises(StoreError, match=r"test shard not found in the store"):
        stage.publish_shards(store, schema, shards, StageRecord(command="x"))
    assert missing.key in store.asked  # type: ignore[attr-defined]
    keys = [shard.key for listed in shards.values() for shard in listed]
    with pytest.raises(StoreError, match=r"test shard not found in the store"):
        stage.publish_shards(store, schema, shards, StageRecord(command="x"),
                             present=set(keys) - {missing.key})


def _shards_of_a_prepare(project: Path,
                         store: LocalStore) -> tuple[object, dict[str, list[stage.ShardInfo]]]:
    """A prepared data set's schema and shards, as a Processing job would report them."""
    from smlp.data.schema import Schema

    raw = write_raw(project / "raw.csv", 2000)
    stage.prepare(load_config(None, {"data.shard_mb": 0.01}), store, raw, "y", "id")
    data = load_manifest(store).require_data()
    schema = Schema.model_validate_json(Path(data.schema_.uri).read_text())
    shards = {name: [stage.ShardInfo(store.key(s.uri), s.sha256, s.size, s.rows)
                     for s in split.shards] for name, split in data.splits.items()}
    store.asked.clear()  # type: ignore[attr-defined]
    return schema, shards
