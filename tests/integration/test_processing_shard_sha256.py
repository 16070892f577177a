"""Shards a SageMaker Processing job wrote carry the sha256 smlp's own uploads carry (attached
server-side after the job, from the job's listing, where the object is still the size
listed), so verifying them before training is one HEAD each, not a download."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from smlp.manifest import load_manifest
from smlp.stages.train import verify_data
from tests.integration.cli_helpers import smlp
from tests.integration.sagemaker_fixtures import STORE
from tests.integration.test_processing_prepare import (  # noqa: F401  (the fixture)
    INPUT,
    platform,
    upload_houses,
    write_config,
)


@pytest.mark.usefixtures("platform")
def test_processing_shards_verify_on_their_metadata(project: Path) -> None:
    from smlp.store import open_store

    upload_houses()
    config = write_config(project)
    smlp("data", "prepare", "-i", INPUT, "-t", "price", "--id-column", "house",
         "-c", str(config))
    store = open_store(STORE)
    data = load_manifest(store).require_data()
    for split in data.splits.values():
        for shard in split.shards:
            key = shard.uri.removeprefix(f"s3://{store.bucket}/")
            head = store.client.head_object(Bucket=store.bucket, Key=key)
            body = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
            assert head["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest() \
                == shard.sha256
    reads: list[str] = []
    original = store.client.get_object
    store.client.get_object = lambda **k: reads.append(k["Key"]) or original(**k)
    verify_data(store, data)
    assert not [key for key in reads if "/data/" in key]


def test_attaching_keeps_the_objects_encryption_and_type(make_store: Any) -> None:
    import boto3

    store = make_store("s3")
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    body = b"1,2,3\n4,5,6\n"
    digest = hashlib.sha256(body).hexdigest()
    name = "projects/demo/data/v1/train/part-00000.csv"
    store.client.put_object(Bucket=store.bucket, Key=name, Body=body, ContentType="text/csv",
                            ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    assert store.attach_sha256("data/v1/train/part-00000.csv", digest, len(body))
    head = store.client.head_object(Bucket=store.bucket, Key=name)
    assert head["Metadata"] == {"sha256": digest}
    assert (head["ServerSideEncryption"], head["ContentType"]) == ("aws:kms", "text/csv")
    assert head["SSEKMSKeyId"].endswith(key_id)
    assert store.client.get_object(Bucket=store.bucket, Key=name)["Body"].read() == body
    assert store.sha256("data/v1/train/part-00000.csv", len(body), digest) == digest

    # Not the size the job listed: left alone, and verifying it reads its bytes.
    store.client.put_object(Bucket=store.bucket, Key=name, Body=body + b"7,8,9\n")
    assert not store.attach_sha256("data/v1/train/part-00000.csv", digest, len(body))
    assert "sha256" not in store.client.head_object(Bucket=store.bucket, Key=name)["Metadata"]
    assert not store.attach_sha256("data/v1/train/part-00001.csv", digest, len(body))
