"""How the manifest is read and written safely: one writer at a time, keys relative to the store.

Several smlp processes may update one manifest at once (``smlp train`` in two shells, tuning
workers). A read-change-write without a guard keeps only the last writer's changes, so:

- a local store serializes updates with a lock file beside the manifest (``filelock``);
- an S3 store writes conditionally (``If-Match`` on the ETag read, ``If-None-Match: *`` for a
  new manifest) and, when another writer got there first, reads again and re-applies the
  change, a bounded number of times with jittered backoff.

URIs inside the store are written as store-relative keys and resolved against the store's
current root when read, so a copied or moved project (or a store mounted elsewhere) works.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import PurePosixPath

from smlp.errors import StoreError
from smlp.store import LocalStore, S3Store, Store, WriteConflict

CONDITIONAL_ATTEMPTS = 10
BACKOFF_BASE = 0.05  # seconds; doubled per attempt, full jitter, capped
BACKOFF_CAP = 2.0


def read_change_write(store: Store, key: str, change: Callable[[bytes | None], bytes],
                      sleep: Callable[[float], None] = time.sleep) -> None:
    """Replace ``key``'s bytes with ``change(current)`` (None if absent) so that no concurrent
    writer's change is lost. ``change`` may run more than once on S3: it must depend only on
    what it is given."""
    if isinstance(store, S3Store):
        _conditional(store, key, change, sleep)
    elif isinstance(store, LocalStore):
        with store.lock(key):
            store.write_bytes(key, change(_read(store, key)))
    else:  # a store that never writes for real (a dry run's)
        store.write_bytes(key, change(_read(store, key)))


def _read(store: Store, key: str) -> bytes | None:
    return store.read_bytes(key) if store.exists(key) else None


def _conditional(store: S3Store, key: str, change: Callable[[bytes | None], bytes],
                 sleep: Callable[[float], None]) -> None:
    for attempt in range(CONDITIONAL_ATTEMPTS):
        current, etag = store.read_versioned(key)
        try:
            store.write_if(key, change(current), etag)
            return
        except WriteConflict:
            sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
    raise StoreError(f"{store.uri(key)}: other writers changed it on each of "
                     f"{CONDITIONAL_ATTEMPTS} attempts; nothing was written, run the command "
                     "again")


# -- store-relative keys ---------------------------------------------------------------------
def to_key(root: str, uri: str) -> str:
    """``uri`` as a key relative to ``root`` if it lies inside it, else unchanged."""
    head = root.rstrip("/") + "/"
    if uri.startswith(head) and ".." not in PurePosixPath(uri[len(head):]).parts:
        return uri[len(head):]
    return uri


def from_key(root: str, value: str) -> str:
    """A recorded key back as a URI under ``root``; an absolute path or URI stays as it is."""
    if not value or is_absolute(value):
        return value
    return f"{root.rstrip('/')}/{value}"


def is_absolute(value: str) -> bool:
    return value.startswith("/") or "://" in value or (len(value) > 1 and value[1] == ":")
