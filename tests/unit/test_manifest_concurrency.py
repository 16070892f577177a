"""Concurrent manifest updates: none is lost, on a local store (lock) or S3 (conditional writes)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from smlp.errors import StoreError
from smlp.manifest import Artifact, Candidate, Manifest, load_manifest, update_manifest

PROCESSES = 4
PER_PROCESS = 20


def _candidate(name: str) -> Candidate:
    return Candidate(name=name, algo="xgboost", job_name=f"job-{name}", hyperparameters={},
                     model=Artifact(uri=f"/m/{name}", sha256="0" * 64))


def _register(root: str, worker: int) -> None:
    from smlp.store import LocalStore

    store = LocalStore(Path(root))
    for i in range(PER_PROCESS):
        name = f"w{worker}-{i:02d}"
        update_manifest(store, lambda m, n=name: m.candidates.__setitem__(n, _candidate(n)))


def test_four_processes_registering_twenty_candidates_each_keep_all(tmp_path: Path) -> None:
    from smlp.store import LocalStore

    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_register, args=(str(tmp_path), w))
               for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    kept = load_manifest(LocalStore(tmp_path)).candidates
    assert len(kept) == PROCESSES * PER_PROCESS


class RacingClient:
    """Wraps a moto S3 client: before each of the first ``races`` conditional PutObjects,
    another writer updates the manifest, so S3 itself answers 412 to the stale write."""

    def __init__(self, client: Any, races: int, inject: str | None = None) -> None:
        self._client = client
        self.races = races
        self.inject = inject  # an error code to raise instead of racing (S3's 409)
        self.conditional_puts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_object(self, **kwargs: Any) -> Any:
        if "IfMatch" in kwargs or "IfNoneMatch" in kwargs:
            self.conditional_puts += 1
            if self.conditional_puts <= self.races:
                if self.inject is not None:
                    from botocore.exceptions import ClientError

                    raise ClientError({"Error": {"Code": self.inject, "Message": "conflict"},
                                       "ResponseMetadata": {"HTTPStatusCode": 409}},
                                      "PutObject")
                self._rival_write(kwargs["Bucket"], kwargs["Key"], self.conditional_puts)
        return self._client.put_object(**kwargs)

    def _rival_write(self, bucket: str, key: str, n: int) -> None:
        try:
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
            manifest = Manifest.model_validate_json(body)
        except self._client.exceptions.NoSuchKey:
            manifest = Manifest()
        manifest.candidates[f"rival-{n}"] = _candidate(f"rival-{n}")
        self._client.put_object(Bucket=bucket, Key=key,
                                Body=manifest.model_dump_json(by_alias=True).encode())


@pytest.fixture
def racing_store(make_store: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import smlp.manifest_io

    monkeypatch.setattr(smlp.manifest_io, "BACKOFF_CAP", 0.0)  # no real sleeping in tests
    store = make_store("s3")

    def wrap(races: int, inject: str | None = None) -> Any:
        store._client = RacingClient(store.client, races, inject)
        return store

    return wrap


@pytest.mark.parametrize("existing", [False, True], ids=["new-manifest", "existing-manifest"])
def test_s3_update_that_loses_a_race_reads_again_and_keeps_both(racing_store: Any,
                                                                existing: bool) -> None:
    store = racing_store(races=0)
    if existing:
        update_manifest(store, lambda m: m.candidates.__setitem__("first", _candidate("first")))
    store.client.races = store.client.conditional_puts + 3
    update_manifest(store, lambda m: m.candidates.__setitem__("mine", _candidate("mine")))
    kept = set(load_manifest(store).candidates)
    rivals = {name for name in kept if name.startswith("rival-")}
    assert "mine" in kept and len(rivals) == 3  # each rival's change survived the retry
    assert ("first" in kept) == existing


def test_s3_conditional_request_conflict_is_retried(racing_store: Any) -> None:
    store = racing_store(races=2, inject="ConditionalRequestConflict")
    update_manifest(store, lambda m: m.candidates.__setitem__("mine", _candidate("mine")))
    assert set(load_manifest(store).candidates) == {"mine"}
    assert store.client.conditional_puts == 3


def test_s3_endless_conflicts_give_up_with_one_line(racing_store: Any) -> None:
    from smlp.manifest_io import CONDITIONAL_ATTEMPTS

    store = racing_store(races=1000)
    with pytest.raises(StoreError, match=f"on each of {CONDITIONAL_ATTEMPTS} attempts"):
        update_manifest(store, lambda m: m.candidates.__setitem__("mine", _candidate("mine")))
    assert store.client.conditional_puts == CONDITIONAL_ATTEMPTS
    assert "mine" not in load_manifest(store).candidates


def test_a_local_update_waits_for_the_lock(tmp_path: Path) -> None:
    from filelock import FileLock

    from smlp.store import LocalStore

    store = LocalStore(tmp_path)
    update_manifest(store, lambda m: m.extra.update(a=1))
    lock_file = tmp_path / ".manifest.json.lock"
    assert lock_file.exists()
    held = FileLock(lock_file)
    held.acquire()
    context = multiprocessing.get_context("fork")
    writer = context.Process(target=_register, args=(str(tmp_path), 9))
    writer.start()
    writer.join(timeout=1.0)
    assert writer.is_alive()  # blocked behind the lock, not writing around it
    assert load_manifest(store).candidates == {}
    held.release()
    writer.join()
    assert len(load_manifest(store).candidates) == PER_PROCESS
