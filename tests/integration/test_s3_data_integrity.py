"""On an S3 store the recorded splits are verified before training, as on a local store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smlp.config import load_config
from smlp.errors import IntegrityError
from smlp.manifest import load_manifest
from smlp.stages.data import generate
from smlp.stages.train import train, verify_data
from tests.fakes import FakeBackend


@pytest.fixture
def s3_store(project: Path, make_store: Any) -> Any:
    store = make_store("s3")
    generate(load_config(None, {"data.rows": 400}), store)
    return store


def _object_key(store: Any, split: str) -> str:
    uri = load_manifest(store).data.splits[split].shards[0].uri
    return uri.removeprefix(f"s3://{store.bucket}/")


def test_unchanged_s3_splits_pass_on_their_metadata(s3_store: Any) -> None:
    reads = []
    original = s3_store.client.get_object
    s3_store.client.get_object = lambda **k: reads.append(k["Key"]) or original(**k)
    verify_data(s3_store, load_manifest(s3_store).data)
    assert not any("/data/" in key for key in reads)  # HeadObject metadata was enough


def test_a_split_replaced_by_another_tool_is_refused(s3_store: Any) -> None:
    key = _object_key(s3_store, "train")
    body = s3_store.client.get_object(Bucket=s3_store.bucket, Key=key)["Body"].read()
    # Another tool's upload: no smlp metadata, one value changed.
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=key,
                               Body=body.replace(b",", b",9", 1))
    with pytest.raises(IntegrityError, match=r"train split was changed after it was recorded"):
        train(load_config(None, {}), s3_store, FakeBackend(), ["xgboost"])
    assert "xgboost" not in load_manifest(s3_store).candidates


def test_metadata_that_disagrees_is_checked_by_reading(s3_store: Any) -> None:
    key = _object_key(s3_store, "validation")
    body = s3_store.client.get_object(Bucket=s3_store.bucket, Key=key)["Body"].read()
    # Same bytes, stale metadata (e.g. copied with other metadata): the content decides.
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=key, Body=body,
                               Metadata={"sha256": "0" * 64})
    verify_data(s3_store, load_manifest(s3_store).data)
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=key, Body=body + b"1,2\n",
                               Metadata={"sha256": "0" * 64})
    with pytest.raises(IntegrityError, match="validation split"):
        verify_data(s3_store, load_manifest(s3_store).data)


def test_a_missing_s3_split_is_named(s3_store: Any) -> None:
    s3_store.client.delete_object(Bucket=s3_store.bucket, Key=_object_key(s3_store, "test"))
    with pytest.raises(IntegrityError, match="test split is missing"):
        verify_data(s3_store, load_manifest(s3_store).data)


def test_a_replaced_sourcedir_is_rewritten_before_a_job_uses_it(project: Path,
                                                                  make_store: Any) -> None:
    from smlp.backends.sagemaker.sourcedir import ensure_uploaded, training_scripts
    from smlp.fileio import sha256_bytes

    store = make_store("s3")
    source = training_scripts()
    uri = ensure_uploaded(store, source)
    key = uri.removeprefix(f"s3://{store.bucket}/")
    # Replaced under its content-addressed name, even with smlp's metadata copied over.
    store.client.put_object(Bucket=store.bucket, Key=key, Body=b"not the training scripts",
                            Metadata={"sha256": source.sha256})
    assert ensure_uploaded(store, source) == uri
    stored = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    assert sha256_bytes(stored) == source.sha256
