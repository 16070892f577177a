from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smlp.errors import DataError, IntegrityError, MissingStageError
from smlp.manifest import (
    MANIFEST_KEY,
    SCHEMA_VERSION,
    Artifact,
    load_manifest,
    record_stage,
    save_manifest,
    update_manifest,
    verify,
)
from smlp.store import LocalStore


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_stage_records_completed_then_failed_without_losing_earlier(make_store: Any,
                                                                    kind: str) -> None:
    store = make_store(kind)
    with record_stage(store, "data", "smlp data generate", {"rows": 10}) as record:
        record.outputs["train"] = Artifact(uri=store.uri("data/train.csv"), sha256="s")
    with pytest.raises(DataError):
        with record_stage(store, "train", "smlp train"):
            raise DataError("boom")
    manifest = load_manifest(store)
    assert manifest.stages["data"].status == "completed"
    assert manifest.stages["data"].outputs["train"].uri == store.uri("data/train.csv")
    assert manifest.stages["train"].status == "failed"
    assert manifest.stages["train"].error == "boom"
    assert manifest.stages["train"].duration_s is not None


def test_interrupted_stage_is_recorded(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with record_stage(store, "train", "smlp train"):
            raise KeyboardInterrupt
    assert load_manifest(store).stages["train"].error == "interrupted"


def test_missing_inputs_name_the_command(tmp_path: Path) -> None:
    manifest = load_manifest(LocalStore(tmp_path))
    with pytest.raises(MissingStageError, match="generate` .* or `smlp data prepare"):
        manifest.require_data()
    with pytest.raises(MissingStageError, match="run `smlp train` first"):
        manifest.require_candidates()


def test_corrupt_or_foreign_manifest(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    (tmp_path / MANIFEST_KEY).write_text("{not json")
    with pytest.raises(IntegrityError, match="not valid JSON"):
        load_manifest(store)
    (tmp_path / MANIFEST_KEY).write_text('{"schema_version": 99}')
    with pytest.raises(IntegrityError, match="schema_version 99"):
        load_manifest(store)


def test_update_only_touches_its_entry(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    manifest = load_manifest(store)
    manifest.best = "xgboost"
    save_manifest(store, manifest)
    update_manifest(store, lambda m: m.extra.update(note=1))
    reloaded = load_manifest(store)
    assert reloaded.best == "xgboost" and reloaded.extra == {"note": 1}
    assert reloaded.schema_version == SCHEMA_VERSION == 2


def test_verify_detects_tampering(tmp_path: Path) -> None:
    from smlp.fileio import sha256_file

    path = tmp_path / "f.csv"
    path.write_text("1,2\n")
    artifact = Artifact(uri=str(path), sha256=sha256_file(path))
    verify(path, artifact)
    path.write_text("1,3\n")
    with pytest.raises(IntegrityError, match="does not match the manifest"):
        verify(path, artifact)


def _candidate(sha: str, created_at: str = "2026-01-01T00:00:00+00:00") -> Any:
    from smlp.manifest import Candidate

    return Candidate(name="xgboost", algo="xgboost", job_name="j", hyperparameters={},
                     model=Artifact(uri="/m", sha256=sha), created_at=created_at)


def test_best_is_bound_to_the_compared_model() -> None:
    from smlp.manifest import Manifest

    manifest = Manifest(candidates={"xgboost": _candidate("a")}, best="xgboost",
                        best_sha256="a")
    assert manifest.stale_best() is None
    manifest.candidates["xgboost"] = _candidate("b")
    assert "xgboost was retrained" in (manifest.stale_best() or "")
    manifest.candidates.clear()
    assert "no longer a candidate" in (manifest.stale_best() or "")
    assert Manifest().stale_best() is None


def test_a_manifest_without_best_sha256_judges_by_time() -> None:
    from smlp.manifest import Manifest, StageRecord

    compare = StageRecord(command="smlp compare", finished_at="2026-01-01T00:00:05+00:00")
    manifest = Manifest(candidates={"xgboost": _candidate("a")}, best="xgboost",
                        stages={"compare": compare})
    assert manifest.stale_best() is None
    manifest.candidates["xgboost"] = _candidate("b", "2026-01-01T00:01:00+00:00")
    assert "retrained" in (manifest.stale_best() or "")


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_uris_inside_the_store_are_written_as_keys(make_store: Any, kind: str) -> None:
    import json

    store = make_store(kind)
    inside = Artifact(uri=store.uri("data/train/train.csv"), sha256="a")
    outside = Artifact(uri="/elsewhere/new.csv" if kind == "local" else "s3://other/x.csv",
                       sha256="b")
    sibling = Artifact(uri=store.root + "-old/x.csv", sha256="c")  # a prefix, not a folder
    with record_stage(store, "data", "smlp data generate") as record:
        record.outputs.update(train=inside, source=outside, sibling=sibling)
    raw = json.loads(store.read_bytes(MANIFEST_KEY))["stages"]["data"]["outputs"]
    assert raw["train"]["uri"] == "data/train/train.csv"
    assert raw["source"]["uri"] == outside.uri and raw["sibling"]["uri"] == sibling.uri
    loaded = load_manifest(store).stages["data"].outputs
    assert loaded == {"train": inside, "source": outside, "sibling": sibling}


def test_an_old_manifest_with_absolute_uris_still_loads(tmp_path: Path) -> None:
    import json

    store = LocalStore(tmp_path)
    uri = store.uri("data/train/train.csv")
    manifest = {"schema_version": 1, "comparison": {"uri": uri, "sha256": "a"}}
    (tmp_path / MANIFEST_KEY).write_text(json.dumps(manifest))
    assert load_manifest(store).comparison == Artifact(uri=uri, sha256="a")
    update_manifest(store, lambda m: None)  # rewritten with a key, still the same artifact
    assert json.loads((tmp_path / MANIFEST_KEY).read_text())["comparison"]["uri"] == (
        "data/train/train.csv")
    assert load_manifest(store).comparison == Artifact(uri=uri, sha256="a")
