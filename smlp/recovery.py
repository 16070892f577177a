"""Crash markers: a stage killed outright (kill -9, a lost machine) leaves a trace.

``record_stage`` writes the manifest only when a stage ends, so a killed stage would leave no
record at all. Each stage therefore writes a small marker into the store when it starts
(``running/<stage>-<host>-<pid>-<token>.json``, atomically) and removes it when it ends,
completed or failed. The next stage (or ``smlp status``) finds markers whose process is gone
(same host, and the pid dead or reused by another process: its start time differs) and:

- records the attempt in the manifest under ``extra["interrupted"][<stage>]``, beside the
  stage's last completed record, which stays as it was;
- marks the job folders it left ``InProgress`` as ``Stopped`` (interrupted);
- deletes hidden ``.<name>.<random>.tmp`` partials (``smlp.fileio``) that no live stage can
  own: older than every live marker.

A marker from another host cannot be judged from here and is left alone. Markers are a
diagnosis, never a gate: failing to write or read them never fails a stage. Markers exist for
local folders and S3 stores only (not a dry run's in-memory store).

This module imports no other smlp module that imports it (``smlp.manifest`` passes its
``update_manifest`` in), so there is no import cycle.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from smlp.errors import SmlpError
from smlp.fileio import atomic_write_bytes
from smlp.store import LocalStore, S3Store, Store

PREFIX = "running"
INTERRUPTED = "interrupted"  # the manifest's extra[...] key
STATUS_FILE = "job.json"  # the local backend's job status file (smlp.backends.local.jobs)
TMP_MIN_AGE_SECONDS = 2.0  # a partial younger than this may still be being written
SLACK_SECONDS = 1.0  # file times and marker times come from different clocks' rounding

MANIFEST_KEY = "manifest.json"  # smlp.manifest.MANIFEST_KEY (not imported: no cycle)

_work_dirs: list[str] = []
LAST_COMPLETED = "last_completed"  # extra[...]: a stage's success a later failure replaced
# marker key -> (stage, update, the stage's completed record before it began) in this process
_begun: dict[str, tuple[str, Any, dict[str, Any] | None]] = {}

Update = Callable[[Store, Callable[[Any], None]], Any]


@dataclass
class Marker:
    """What a running stage says about itself."""

    stage: str
    command: str
    pid: int
    host: str
    process_start: int | None  # /proc/<pid>/stat start time (clock ticks since boot)
    started: float  # time.time()
    started_at: str
    work_dirs: list[str] = field(default_factory=list)
    key: str = ""


@dataclass
class Recovery:
    """What one look at the markers found and did."""

    interrupted: list[Marker] = field(default_factory=list)
    live: list[Marker] = field(default_factory=list)
    elsewhere: list[Marker] = field(default_factory=list)  # another host: cannot tell
    stopped_jobs: list[str] = field(default_factory=list)
    removed_partials: list[str] = field(default_factory=list)


def watch_work_dir(path: str | Path) -> None:
    """Name the local backend's job folder root, so a marker says where its jobs run."""
    resolved = str(Path(path).expanduser().resolve())
    if resolved not in _work_dirs:
        _work_dirs.append(resolved)


def supported(store: Store) -> bool:
    return isinstance(store, LocalStore | S3Store)


def begin(store: Store, stage: str, command: str, update: Update) -> str | None:
    """Recover from earlier killed stages, then mark this one running; the marker's key."""
    if not supported(store):
        return None
    try:
        recover(store, update)
    except (SmlpError, OSError, ValueError):
        pass  # a diagnosis only: the stage itself reports what is wrong with the store
    pid = os.getpid()
    host = socket.gethostname()
    key = f"{PREFIX}/{stage}-{host}-{pid}-{secrets.token_hex(3)}.json"
    marker = Marker(stage=stage, command=command, pid=pid, host=host,
                    process_start=_process_start(pid), started=time.time(), started_at=_now(),
                    work_dirs=list(_work_dirs), key=key)
    try:
        store.write_bytes(key, json.dumps(asdict(marker)).encode())
    except (SmlpError, OSError):
        return None
    _begun[key] = (stage, update, _completed(_read_manifest(store), stage))
    return key


def end(store: Store, key: str | None) -> None:
    """Remove this stage's marker: it ended and recorded how by itself. A failure keeps the
    success it replaced in ``stages`` (under ``extra["last_completed"]``); a success makes an
    earlier interrupted attempt or failure no longer the stage's last word."""
    if key is None:
        return
    stage, update, before = _begun.pop(key, (None, None, None))
    try:
        _delete(store, key)
        if stage is not None and update is not None:
            _settle(store, stage, update, before)
    except (SmlpError, OSError, ValueError):
        pass


def _read_manifest(store: Store) -> dict[str, Any]:
    try:
        raw = json.loads(store.read_bytes(MANIFEST_KEY)) if store.exists(MANIFEST_KEY) else {}
    except (SmlpError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _completed(raw: dict[str, Any], stage: str) -> dict[str, Any] | None:
    record = (raw.get("stages") or {}).get(stage)
    return record if isinstance(record, dict) and record.get("status") == "completed" else None


def _settle(store: Store, stage: str, update: Update, before: dict[str, Any] | None) -> None:
    raw = _read_manifest(store)
    extra = raw.get("extra") or {}
    succeeded = _completed(raw, stage) is not None
    stale = [name for name in (INTERRUPTED, LAST_COMPLETED)
             if stage in (extra.get(name) or {})]
    keep = not succeeded and before is not None
    if not keep and not (succeeded and stale):
        return  # the common case: one read, no write

    def change(manifest: Any) -> None:
        if keep:
            manifest.extra.setdefault(LAST_COMPLETED, {})[stage] = before
        else:
            for name in stale:
                manifest.extra.get(name, {}).pop(stage, None)

    update(store, change)


def last_completed(manifest: Any) -> dict[str, dict[str, Any]]:
    """Successes a later failure of the same stage replaced, by stage."""
    kept = manifest.extra.get(LAST_COMPLETED, {})
    return kept if isinstance(kept, dict) else {}


def markers(store: Store) -> list[Marker]:
    found = []
    for key in store.list(PREFIX):
        if not key.endswith(".json") or key.rsplit("/", 1)[-1].startswith("."):
            continue
        try:
            data = json.loads(store.read_bytes(key))
            data["key"] = key
            found.append(Marker(**data))
        except (SmlpError, ValueError, TypeError):
            continue  # unreadable or half-written by another version: not ours to judge
    return found


def recover(store: Store, update: Update) -> Recovery:
    """Record, clean up after and remove the markers of stages whose process is gone."""
    result = Recovery()
    if not supported(store):
        return result
    for marker in markers(store):
        alive = _alive(marker)
        if alive is None:
            result.elsewhere.append(marker)
        elif alive:
            result.live.append(marker)
        else:
            result.interrupted.append(marker)
    if not result.interrupted:
        return result
    detected = _now()

    def change(manifest: Any) -> None:
        attempts = manifest.extra.setdefault(INTERRUPTED, {})
        for marker in sorted(result.interrupted, key=lambda m: m.started):
            attempts[marker.stage] = {
                "status": "interrupted", "command": marker.command,
                "started_at": marker.started_at, "detected_at": detected,
                "pid": marker.pid, "host": marker.host,
                "error": f"interrupted: process {marker.pid} on {marker.host} ended without "
                         "finishing (killed?)",
            }

    update(store, change)
    # Anything a live stage may be writing is younger than its marker.
    live = min([m.started for m in result.live], default=float("inf"))
    for marker in result.interrupted:
        result.stopped_jobs += _stop_jobs(marker, live)
    cutoff = min(live, time.time() - TMP_MIN_AGE_SECONDS)
    roots = [Path(d) for m in result.interrupted for d in m.work_dirs]
    local = store.local_path("") if isinstance(store, LocalStore) else None
    if local is not None:
        roots.append(local)
    result.removed_partials = _remove_partials(roots, cutoff)
    for marker in result.interrupted:
        end(store, marker.key)
    return result


def interrupted_attempts(manifest: Any) -> dict[str, dict[str, Any]]:
    """The manifest's interrupted attempts, by stage."""
    attempts = manifest.extra.get(INTERRUPTED, {})
    return attempts if isinstance(attempts, dict) else {}


# -- helpers ---------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] == "Z":
        return -1  # a zombie: dead, not yet reaped
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _alive(marker: Marker) -> bool | None:
    """Whether the marker's process still runs; None if it runs on another host."""
    if marker.host != socket.gethostname():
        return None
    try:
        os.kill(marker.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    start = _process_start(marker.pid)
    if start == -1:
        return False
    if start is not None and marker.process_start is not None:
        return start == marker.process_start
    return True


def _stop_jobs(marker: Marker, cutoff: float) -> list[str]:
    """Job folders the killed stage left ``InProgress``: ``Stopped``, interrupted."""
    stopped = []
    for root in marker.work_dirs:
        for status_file in sorted(Path(root).glob(f"*/{STATUS_FILE}")):
            try:
                modified = status_file.stat().st_mtime
                status = json.loads(status_file.read_text()).get("status")
            except (OSError, ValueError, AttributeError):
                continue
            if status != "InProgress" or not (
                    marker.started - SLACK_SECONDS <= modified < cutoff):
                continue
            reason = (f"interrupted: the process running it ({marker.pid} on {marker.host}) "
                      "ended without finishing")
            atomic_write_bytes(status_file, json.dumps(
                {"status": "Stopped", "failure_reason": reason}).encode())
            stopped.append(status_file.parent.name)
    return stopped


def _remove_partials(roots: list[Path], cutoff: float) -> list[str]:
    """Hidden ``.<name>.<random>.tmp`` files older than any live stage: nobody finishes them."""
    removed = []
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob(".*.tmp"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(str(path))
            except OSError:
                continue
    return removed


def _delete(store: Store, key: str) -> None:
    if isinstance(store, LocalStore):
        store.path.joinpath(key).unlink(missing_ok=True)
    elif isinstance(store, S3Store):
        try:
            store.client.delete_object(Bucket=store.bucket, Key=store._object_key(key))
        except Exception:  # botocore errors: a marker left behind is recovered later
            pass
