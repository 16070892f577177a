"""``smlp clean``: remove what nothing needs any more, never what the manifest references.

Three kinds of leftovers pile up:

- local scratch under ``.smlp/`` (beside the store): job folders laid out like ``/opt/ml``,
  downloaded model archives and unpacked models. The manifest records none of it (models are
  re-unpacked from the store and re-verified on use), so all of it may go;
- partial files (``.<name>.<random>.tmp``) an interrupted write left in a local store;
- store artifacts the manifest no longer references: old data versions (``data/<hash>/``),
  models of replaced training runs, trials of tuning jobs the manifest does not know, old
  comparison and transform outputs, unused code archives.

What the manifest references is decided from its raw JSON, all of it (stages, failed and
interrupted attempts under ``extra``, tuning records and their trials): every string that
names a key or folder in the store keeps that key or folder, and every key keeps its group
(``training/<job>/``, ``data/<version>/``, ``tuning/<job>/``...) whole when the group is
referenced or its name appears in the manifest. Trials of a tuning job the manifest records
(``<job>-NNN-...``) are kept, so ``smlp tune --resume`` and warm starts still find them.
Only the prefixes smlp writes are considered; anything else in the store is left alone.

Cleaning refuses while a stage of this project runs (a live crash marker, ``smlp.recovery``)
or may run on another host, and first lets recovery record stages that were killed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smlp.errors import ManifestError, StoreError
from smlp.manifest_io import is_absolute, to_key
from smlp.store import LocalStore, S3Store, Store

# Top-level store prefixes smlp writes artifacts under (stages/*.py, sagemaker/sourcedir.py,
# the spot checkpoint default in sagemaker/backend.py, sagemaker/processing.py's job
# folders). ``running/`` (crash markers) and ``manifest.json`` are never touched.
CLEANABLE_PREFIXES = ("data", "training", "tuning", "compare", "transform", "code",
                      "checkpoints", "processing")
PARTIAL_MIN_AGE_SECONDS = 60.0  # a partial younger than this may belong to a write in flight
PLAN_ATTEMPTS = 3  # lists made before giving up on a project that keeps changing
S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys per request


@dataclass
class Item:
    """One thing clean removes (or would): a store key, a local file or a local folder."""

    kind: str  # artifact | job folder | model cache | download | partial
    location: str  # store URI or local path
    bytes: int
    key: str | None = None  # store key, for artifacts
    path: Path | None = None  # local path, for scratch and partials


@dataclass
class CleanReport:
    store: str
    scratch: list[str]
    dry_run: bool
    items: list[Item] = field(default_factory=list)
    kept_keys: int = 0  # store keys kept because the manifest references them
    recovered: list[str] = field(default_factory=list)  # stages found killed and recorded
    no_manifest: bool = False  # the store has no manifest: its artifacts were left alone

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """kind -> (count, bytes)."""
        out: dict[str, tuple[int, int]] = {}
        for item in self.items:
            count, size = out.get(item.kind, (0, 0))
            out[item.kind] = (count + 1, size + item.bytes)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store, "scratch": self.scratch, "dry_run": self.dry_run,
            "removed" if not self.dry_run else "would_remove": [
                {"kind": i.kind, "location": i.location, "bytes": i.bytes} for i in self.items],
            "bytes": self.total_bytes, "kept_store_keys": self.kept_keys,
            "recovered": self.recovered, "no_manifest": self.no_manifest,
        }


def clean(store: Store, scratch: Path, dry_run: bool = False) -> CleanReport:
    """Find (and unless ``dry_run`` remove) what nothing needs; see the module docstring.

    ``scratch`` is the local job folder root (``backend.work_dir``, ``.smlp/jobs`` by default);
    its sibling ``models/`` holds the unpacked models. Right before removing anything the
    markers are checked again and the manifest read again: a stage that started, or recorded
    new outputs, while the list was made means the list is made again.
    """
    recovered: list[str] = []
    for _ in range(PLAN_ATTEMPTS):
        recovered += _refuse_if_running(store)
        manifest = _manifest_bytes(store)
        report = _plan(store, scratch, dry_run, manifest)
        report.recovered = recovered
        if dry_run:
            return report
        _refuse_if_running(store)
        if _manifest_bytes(store) == manifest:
            _remove(store, report.items)
            return report
    raise ManifestError(f"{store.uri('manifest.json')}: changed each time `smlp clean` listed "
                        "what to remove; nothing was removed, run it again when the project "
                        "is idle")


def _plan(store: Store, scratch: Path, dry_run: bool, manifest: bytes | None) -> CleanReport:
    report = CleanReport(store=store.root, scratch=[], dry_run=dry_run)
    if manifest is not None:
        store_items, report.kept_keys = unreferenced(store, json.loads(manifest))
        report.items += store_items
    else:  # no manifest at all: nothing in the store can be judged
        report.no_manifest = True
    report.items += _partials(store)
    scratch = scratch.expanduser().resolve()
    models = scratch.parent / "models"
    report.scratch = [str(scratch), str(models)]
    report.items += _scratch(scratch, models)
    return report


# -- what runs ---------------------------------------------------------------------------------
def _refuse_if_running(store: Store) -> list[str]:
    from smlp import recovery
    from smlp.manifest import update_manifest

    if not recovery.supported(store):
        return []
    found = recovery.recover(store, update_manifest)
    busy = found.live + found.elsewhere
    if busy:
        marker = busy[0]
        where = "" if marker in found.live else " (on another host: cannot tell if it still runs)"
        raise ManifestError(
            f"{store.uri(marker.key)}: `{marker.command}` is running (pid {marker.pid} on "
            f"{marker.host}, since {marker.started_at}){where}; run `smlp clean` when it has "
            "ended" + ("" if marker in found.live else ", or remove the marker if it has"))
    return [f"{m.stage} (pid {m.pid} on {m.host})" for m in found.interrupted]


def _manifest_bytes(store: Store) -> bytes | None:
    """The manifest, validated first: a manifest smlp cannot read cleans nothing, and a store
    without one (deleted? another tool's folder?) keeps every artifact (None)."""
    from smlp.manifest import MANIFEST_KEY, load_manifest

    if not store.exists(MANIFEST_KEY):
        return None
    load_manifest(store)  # IntegrityError for a broken or foreign manifest
    return store.read_bytes(MANIFEST_KEY)


# -- what the manifest references -------------------------------------------------------------
def _strings(value: Any) -> set[str]:
    """Every string in ``value`` (dict keys too), JSON-quoted strings also unquoted."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.update(k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            found.add(item)
            if len(item) > 1 and item[0] == '"' and item[-1] == '"':
                try:
                    unquoted = json.loads(item)
                except ValueError:
                    continue
                if isinstance(unquoted, str):
                    found.add(unquoted)
    return found


def referenced_keys(root: str, raw: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(store keys or folders the manifest names, every string in it)."""
    strings = _strings(raw)
    keys = set()
    for text in strings:
        if not text or "\n" in text:
            continue
        if is_absolute(text):
            key = to_key(root, text)
            if key == text:
                continue  # outside the store
        else:
            key = text
        keys.add(key.strip("/"))
    return keys, strings


def _group(key: str) -> tuple[str, str]:
    """(group folder, group name): ``training/<job>`` and ``<job>`` for
    ``training/<job>/output/model.tar.gz``; a top-level file is its own group."""
    parts = key.split("/")
    if len(parts) >= 3:
        return "/".join(parts[:2]), parts[1]
    return key, parts[-1]


def unreferenced(store: Store, raw: dict[str, Any]) -> tuple[list[Item], int]:
    """The store artifacts under smlp's prefixes the manifest does not reference, and how
    many keys it does."""
    keys, strings = referenced_keys(store.root, raw)
    tuning_jobs = set((raw.get("tuning") or {}).keys())
    # A one-segment string ("data", a stage's name) names no folder of its own: only keys and
    # folders with a "/" keep what lies under them.
    folders = {k for k in keys if "/" in k}
    items: list[Item] = []
    kept = 0
    for key, size in _listing(store):
        group, name = _group(key)
        needed = (
            key in keys
            or group in keys
            or any(key.startswith(folder + "/") for folder in folders)
            or any(ref.startswith(group + "/") for ref in folders)
            or name in strings
            or any(name.startswith(job + "-") for job in tuning_jobs)
        )
        if needed:
            kept += 1
        else:
            items.append(Item("artifact", store.uri(key), size, key=key))
    return items, kept


def _listing(store: Store) -> list[tuple[str, int]]:
    """(key, bytes) of every object under smlp's prefixes, hidden partials and lock files
    excepted."""
    found: list[tuple[str, int]] = []
    if isinstance(store, S3Store):
        try:
            paginator = store.client.get_paginator("list_objects_v2")
            for prefix in CLEANABLE_PREFIXES:
                full = store._object_key(prefix + "/")
                for page in paginator.paginate(Bucket=store.bucket, Prefix=full):
                    for item in page.get("Contents", []):
                        key = item["Key"][len(store.prefix) + 1:] if store.prefix else item["Key"]
                        found.append((key, int(item.get("Size", 0))))
        except Exception as exc:  # botocore errors: mapped once, in smlp.store
            from smlp.store import _store_error

            raise _store_error(exc, store.uri("")) from None
        return sorted(found)
    for prefix in CLEANABLE_PREFIXES:
        for key in store.list(prefix):
            if _is_partial(key.rsplit("/", 1)[-1]) or key.endswith(".lock"):
                continue
            local = store.local_path(key)
            try:
                found.append((key, local.lstat().st_size if local is not None else 0))
            except OSError:
                continue  # removed meanwhile
    return sorted(found)


# -- local leftovers --------------------------------------------------------------------------
def _is_partial(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _partials(store: Store) -> list[Item]:
    """Hidden temp files of interrupted writes in a local store (no stage runs: checked)."""
    if not isinstance(store, LocalStore) or not store.path.is_dir():
        return []
    cutoff = time.time() - PARTIAL_MIN_AGE_SECONDS
    items = []
    for path in sorted(store.path.rglob(".*.tmp")):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                items.append(Item("partial", str(path), path.stat().st_size, path=path))
        except OSError:
            continue
    return items


def _scratch(jobs: Path, models: Path) -> list[Item]:
    """Every job folder and unpacked model, sized by the bytes their removal frees: a file
    hard-linked from the store (a job's input channel) frees nothing, and a file linked twice
    counts once."""
    entries: list[tuple[str, Path]] = []
    if jobs.is_dir():
        entries += [("download" if e.name == "_downloads" else "job folder", e)
                    for e in sorted(jobs.iterdir())]
    if models.is_dir():
        entries += [("model cache", e) for e in sorted(models.iterdir())]
    files = {path: _files(path) for _, path in entries}
    links: dict[tuple[int, int], int] = {}
    for found in files.values():
        for inode, _, _ in found:
            links[inode] = links.get(inode, 0) + 1
    counted: set[tuple[int, int]] = set()
    items = []
    for kind, path in entries:
        freed = 0
        for inode, size, nlink in files[path]:
            if inode not in counted and links[inode] >= nlink:
                freed += size
            counted.add(inode)
        items.append(Item(kind, str(path), freed, path=path))
    return items


def _files(path: Path) -> list[tuple[tuple[int, int], int, int]]:
    """((device, inode), size, link count) of each file at or under ``path``."""
    try:
        paths = [path] if not path.is_dir() or path.is_symlink() else [
            p for p in path.rglob("*") if not p.is_dir() or p.is_symlink()]
        stats = [p.lstat() for p in paths]
    except OSError:
        return []
    return [((st.st_dev, st.st_ino), st.st_size, st.st_nlink) for st in stats]


# -- removal ----------------------------------------------------------------------------------
def _remove(store: Store, items: list[Item]) -> None:
    keys = [item.key for item in items if item.key is not None]
    if isinstance(store, S3Store):
        _delete_s3(store, keys)
    elif isinstance(store, LocalStore):
        for key in keys:
            path = store.path / key
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise StoreError(f"{store.uri(key)}: cannot remove ({exc.strerror})") from None
            _prune_empty(path.parent, store.path)
    for item in items:
        if item.path is None:
            continue
        try:
            if item.path.is_dir() and not item.path.is_symlink():
                shutil.rmtree(item.path)
            else:
                item.path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"{item.path}: cannot remove ({exc.strerror})") from None


def _prune_empty(folder: Path, root: Path) -> None:
    """Remove folders emptied by the removal, up to (not including) the store's root."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _delete_s3(store: S3Store, keys: list[str]) -> None:
    from smlp.store import _store_error

    for start in range(0, len(keys), S3_DELETE_BATCH):
        batch = keys[start:start + S3_DELETE_BATCH]
        try:
            reply = store.client.delete_objects(Bucket=store.bucket, Delete={
                "Objects": [{"Key": store._object_key(key)} for key in batch],
                "Quiet": True})
        except Exception as exc:
            raise _store_error(exc, store.uri(batch[0])) from None
        errors = reply.get("Errors") or []
        if errors:
            first = errors[0]
            raise StoreError(f"s3://{store.bucket}/{first.get('Key')}: cannot delete "
                             f"({first.get('Code')}: {first.get('Message', '')}); "
                             f"{len(errors)} of {len(batch)} deletions failed")
