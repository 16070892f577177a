"""``smlp clean`` through the CLI, on a local store and on S3 (moto): what the manifest no
longer references goes (old data versions, replaced models, orphan trials, old outputs,
partials, job folders, unpacked models), what it references stays and still serves."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import assert_one_line_error, smlp, write_small_config

S3_STORE = "s3://smlp-test/projects/demo"


def _two_generations(project: Path, *store: str) -> None:
    """Data v1 and a model trained on it, then data v2 and a retrain: v1 and the first model
    are no longer referenced by anything in the manifest."""
    write_small_config(project)
    smlp("data", "generate", *store)
    smlp("train", "--algo", "xgboost", *store)
    smlp("data", "generate", "--seed", "7", *store)
    smlp("train", "--algo", "xgboost", *store)


def _manifest(store: Any) -> dict[str, Any]:
    return json.loads(store.read_bytes("manifest.json"))


def _versions(keys: list[str]) -> set[str]:
    return {key.split("/")[1] for key in keys if key.startswith("data/")}


def test_clean_local_removes_only_what_the_manifest_no_longer_references(project: Path) -> None:
    from smlp.store import LocalStore

    _two_generations(project)
    store = LocalStore(project / "smlp-artifacts")
    manifest = _manifest(store)
    current = manifest["data"]["schema"]["uri"].split("/")[1]
    model_key = manifest["candidates"]["xgboost"]["model"]["uri"]
    all_keys = store.list("")
    assert len(_versions(all_keys)) == 2  # the old data version sits beside the current one
    old_models = [k for k in store.list("training") if k.endswith("model.tar.gz")
                  and k != model_key]
    assert len(old_models) == 1
    # Leftovers of a killed run: an orphan trial of an unknown tuning job, an old transform
    # output, and a partial file an interrupted write left (old enough to be nobody's).
    store.write_bytes("training/gone-tune-1-001-abcd/output/model.tar.gz", b"x" * 1000)
    store.write_bytes("transform/old-transform-1/test.csv.out", b"1.0\n" * 50)
    partial = project / "smlp-artifacts" / "data" / ".train.csv.1a2b3c.tmp"
    partial.write_bytes(b"half")
    os.utime(partial, (time.time() - 3600, time.time() - 3600))
    jobs = project / ".smlp" / "jobs"
    assert any(jobs.iterdir())

    dry = smlp("clean", "--dry-run", "--json")
    plan = json.loads(dry.stdout)
    listed = {item["location"] for item in plan["would_remove"]}
    assert plan["bytes"] == sum(item["bytes"] for item in plan["would_remove"]) > 0
    old_version = (_versions(all_keys) - {current}).pop()
    assert {store.uri(k) for k in all_keys if k.startswith(f"data/{old_version}/")} <= listed
    assert store.uri(old_models[0]) in listed
    assert store.uri("training/gone-tune-1-001-abcd/output/model.tar.gz") in listed
    assert store.uri("transform/old-transform-1/test.csv.out") in listed
    assert str(partial) in listed
    assert {str(p) for p in jobs.iterdir()} <= listed
    # Nothing the manifest references is listed: current data, the candidate's model.
    assert not any(f"/data/{current}/" in loc for loc in listed)
    assert store.uri(model_key) not in listed
    assert partial.exists() and store.exists(old_models[0])  # a dry run removes nothing

    human = smlp("clean", "--dry-run")
    assert "would remove" in human.stdout and "job folder" in human.stdout

    result = smlp("clean")
    assert "removed" in result.stdout
    remaining = store.list("")
    assert _versions(remaining) == {current}
    assert model_key in remaining and old_models[0] not in remaining
    assert not store.exists("transform/old-transform-1/test.csv.out")
    assert not partial.exists()
    assert not any(jobs.iterdir())
    assert _manifest(store) == manifest  # the manifest itself is untouched
    # What the manifest references still works: compare unpacks and scores the model.
    compared = json.loads(smlp("compare", "--json").stdout)
    assert compared["best"] == "xgboost"
    again = json.loads(smlp("clean", "--dry-run", "--json").stdout)
    assert not [i for i in again["would_remove"] if i["kind"] == "artifact"]


def test_clean_keeps_tuning_records_and_their_trials(project: Path) -> None:
    from smlp.store import LocalStore

    write_small_config(project)
    smlp("data", "generate")
    smlp("tune", "--algo", "xgboost", "--max-jobs", "2")
    store = LocalStore(project / "smlp-artifacts")
    before = store.list("")
    job = next(iter(_manifest(store)["tuning"]))
    assert any(k.startswith(f"tuning/{job}/") for k in before)
    smlp("clean")
    assert store.list("") == before  # every trial model and the study journal stay
    assert not list((project / ".smlp" / "jobs").iterdir())
    smlp("tune", "--algo", "xgboost", "--warm-start", job, "--max-jobs", "1")


def test_clean_s3_store(project: Path, make_store: Any) -> None:
    store = make_store("s3")
    _two_generations(project, "--store", S3_STORE)
    manifest = _manifest(store)
    current = manifest["data"]["schema"]["uri"].split("/")[1]
    model_key = manifest["candidates"]["xgboost"]["model"]["uri"]
    assert len(_versions(store.list("data"))) == 2
    store.write_bytes("compare/removed-candidate/test.csv.out", b"2.0\n" * 10)

    plan = json.loads(smlp("clean", "--dry-run", "--json", "--store", S3_STORE).stdout)
    artifacts = {i["location"]: i["bytes"] for i in plan["would_remove"]
                 if i["kind"] == "artifact"}
    assert store.uri("compare/removed-candidate/test.csv.out") in artifacts
    assert artifacts[store.uri("compare/removed-candidate/test.csv.out")] == 40
    assert all(loc.startswith(S3_STORE + "/") for loc in artifacts)
    assert len(_versions(store.list("data"))) == 2  # dry run: nothing deleted

    smlp("clean", "--store", S3_STORE)
    assert _versions(store.list("data")) == {current}
    assert store.exists(model_key)  # the manifest keeps store-relative keys
    assert not store.exists("compare/removed-candidate/test.csv.out")
    assert store.exists("manifest.json")
    assert [k for k in store.list("training") if k.endswith("model.tar.gz")] == [model_key]
    smlp("compare", "--store", S3_STORE)  # the referenced model still serves


def test_clean_refuses_while_a_stage_runs(project: Path) -> None:
    from smlp import recovery
    from smlp.manifest import update_manifest
    from smlp.store import LocalStore

    write_small_config(project)
    smlp("data", "generate")
    store = LocalStore(project / "smlp-artifacts")
    marker = recovery.begin(store, "train", "smlp train", update_manifest)  # this process: alive
    try:
        result = smlp("clean", ok=False)
        assert_one_line_error(result, "`smlp train` is running", 4)
    finally:
        recovery.end(store, marker)
    smlp("clean")


@pytest.mark.parametrize("broken", [b"{not json", b'{"schema_version": 99}'])
def test_clean_with_an_unreadable_manifest_removes_nothing(project: Path, broken: bytes) -> None:
    write_small_config(project)
    smlp("data", "generate")
    (project / "smlp-artifacts" / "manifest.json").write_bytes(broken)
    before = sorted(p for p in (project / "smlp-artifacts").rglob("*"))
    assert_one_line_error(smlp("clean", ok=False), "manifest", 4)
    assert sorted(p for p in (project / "smlp-artifacts").rglob("*")) == before


def test_clean_without_a_manifest_leaves_the_store_alone(project: Path) -> None:
    write_small_config(project)
    smlp("data", "generate")
    store_dir = project / "smlp-artifacts"
    (store_dir / "manifest.json").unlink()
    before = sorted(store_dir.rglob("*"))
    (project / ".smlp" / "jobs" / "old-job").mkdir(parents=True)
    result = smlp("clean")
    assert "has no manifest.json" in result.stderr
    assert sorted(store_dir.rglob("*")) == before
    assert not (project / ".smlp" / "jobs" / "old-job").exists()
