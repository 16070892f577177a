"""Where the recorded data version's files are: tests read them through the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _store(store: Any) -> Any:
    from smlp.store import LocalStore

    return LocalStore(Path(store)) if isinstance(store, (str, Path)) else store


def split_key(store: Any, split: str) -> str:
    """The store key of ``split``'s CSV (``store``: a Store or a local store folder)."""
    from smlp.manifest import load_manifest

    store = _store(store)
    return str(store.key(load_manifest(store).require_data().splits[split].uri))


def split_path(store: Any, split: str) -> Path:
    """``split``'s CSV in a local store folder."""
    return Path(_store(store).path) / split_key(store, split)


def schema_key(store: Any) -> str:
    from smlp.manifest import load_manifest

    store = _store(store)
    return str(store.key(load_manifest(store).require_data().schema_.uri))
