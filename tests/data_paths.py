"""Where the recorded data version's files are: tests read them through the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _store(store: Any) -> Any:
    from smlp.store import LocalStore

    return LocalStore(Path(store)) if isinstance(store, (str, Path)) else store


def shard_keys(store: Any, split: str) -> list[str]:
    """The store keys of ``split``'s shards, in row order."""
    from smlp.manifest import load_manifest

    store = _store(store)
    split_record = load_manifest(store).require_data().splits[split]
    return [str(store.key(shard.uri)) for shard in split_record.shards]


def split_key(store: Any, split: str) -> str:
    """The store key of ``split``'s one shard (small test data is one shard per split;
    ``store``: a Store or a local store folder)."""
    keys = shard_keys(store, split)
    assert len(keys) == 1, f"{split} has {len(keys)} shards"
    return keys[0]


def split_path(store: Any, split: str) -> Path:
    """``split``'s one shard (its CSV) in a local store folder."""
    return Path(_store(store).path) / split_key(store, split)


def schema_key(store: Any) -> str:
    from smlp.manifest import load_manifest

    store = _store(store)
    return str(store.key(load_manifest(store).require_data().schema_.uri))
