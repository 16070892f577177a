"""The local store's manifest lock is a plain flock on the ``.lock`` file, taken as the
filelock package takes it: an smlp without this change (filelock) and one with it exclude
each other, and a lock held too long is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from filelock import FileLock, Timeout

import smlp.store
from smlp.errors import StoreError
from smlp.store import LocalStore


def test_a_held_store_lock_keeps_filelock_out(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with store.lock("manifest.json"):
        with pytest.raises(Timeout):
            FileLock(tmp_path / ".manifest.json.lock", timeout=0.2).acquire()
    other = FileLock(tmp_path / ".manifest.json.lock", timeout=0.2)
    other.acquire()  # released with the block
    other.release()


def test_a_held_filelock_times_the_store_lock_out(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smlp.store, "LOCK_TIMEOUT", 0.3)
    held = FileLock(tmp_path / "sub" / ".manifest.json.lock")
    (tmp_path / "sub").mkdir()
    held.acquire()
    try:
        with pytest.raises(StoreError, match=r"held its lock for 0.3 s"):
            with LocalStore(tmp_path).lock("sub/manifest.json"):
                pass
    finally:
        held.release()
    with LocalStore(tmp_path).lock("sub/manifest.json"):
        pass


def test_two_store_locks_in_one_process_exclude_each_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smlp.store, "LOCK_TIMEOUT", 0.2)
    store = LocalStore(tmp_path)
    with store.lock("manifest.json"):
        with pytest.raises(StoreError, match="held its lock"):
            with store.lock("manifest.json"):
                pass
