"""New data is written beside the recorded data; the manifest update is the switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smlp.config import load_config
from smlp.errors import IntegrityError, StoreError
from smlp.fileio import sha256_file
from smlp.manifest import MANIFEST_KEY, load_manifest
from smlp.stages.data import generate
from smlp.store import LocalStore


@pytest.fixture
def store(project: Path) -> LocalStore:
    store = LocalStore(project / "store")
    generate(load_config(None, {"data.rows": 300, "data.seed": 1}), store)
    return store


def _recorded(store: LocalStore) -> dict[str, tuple[Path, str]]:
    data = load_manifest(store).require_data()
    assert all(len(split.shards) == 1 for split in data.splits.values())  # small data
    artifacts = {**{name: split.shards[0] for name, split in data.splits.items()},
                 "schema": data.schema_}
    return {name: (Path(a.uri), a.sha256) for name, a in artifacts.items()}


def _files(store: LocalStore) -> dict[str, str]:
    return {key: sha256_file(store.path / key) for key in store.list("data")}


def test_an_unreadable_manifest_stops_before_anything_is_written(store: LocalStore) -> None:
    before = _files(store)
    (store.path / MANIFEST_KEY).write_text('{"schema_version": 1, "data": ')
    with pytest.raises(IntegrityError, match="manifest is not valid JSON"):
        generate(load_config(None, {"data.rows": 300, "data.seed": 2}), store)
    assert _files(store) == before  # the recorded splits and schema are untouched


def test_new_data_is_a_new_version_and_the_old_one_stays(store: LocalStore) -> None:
    old = _recorded(store)
    generate(load_config(None, {"data.rows": 300, "data.seed": 2}), store)
    new = _recorded(store)
    for name, (path, digest) in old.items():
        assert new[name][0] != path and new[name][1] != digest, name
        assert sha256_file(path) == digest, name  # the old version is intact
    train, schema = new["train"][0], new["schema"][0]
    assert train.parent.parent == schema.parent  # data/<version>/train/part-00000.csv
    assert train.relative_to(store.path).as_posix().startswith("data/")
    # Same contents, same version: nothing new.
    generate(load_config(None, {"data.rows": 300, "data.seed": 2}), store)
    assert _recorded(store) == new


def test_a_failed_publish_leaves_the_recorded_data(store: LocalStore, monkeypatch: Any) -> None:
    old = _recorded(store)
    upload = store.upload

    def flaky(local: Path, key: str, sha256: str | None = None) -> None:
        if "/test/" in key:
            raise StoreError(f"{store.uri(key)}: cannot write to the store (disk full)")
        upload(local, key, sha256)

    monkeypatch.setattr(store, "upload", flaky)
    with pytest.raises(StoreError, match="disk full"):
        generate(load_config(None, {"data.rows": 300, "data.seed": 3}), store)
    assert _recorded(store) == old
    assert all(sha256_file(path) == digest for path, digest in old.values())
    assert load_manifest(store).stages["data"].status == "failed"
