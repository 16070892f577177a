from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smlp.errors import StoreError
from smlp.store import LocalStore, S3Store, open_store


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_store_round_trip(make_store: Any, kind: str, tmp_path: Path) -> None:
    store = make_store(kind)
    assert not store.exists("a/b.txt")
    store.write_bytes("a/b.txt", b"hello")
    assert store.exists("a/b.txt")
    assert store.read_bytes("a/b.txt") == b"hello"
    local = tmp_path / "up.bin"
    local.write_bytes(b"x" * 1000)
    store.upload(local, "a/c/up.bin")
    assert store.list("a") == ["a/b.txt", "a/c/up.bin"]
    target = tmp_path / "down" / "file.bin"
    store.download("a/c/up.bin", target)
    assert target.read_bytes() == b"x" * 1000
    assert store.key(store.uri("a/b.txt")) == "a/b.txt"


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_missing_key_is_a_store_error(make_store: Any, kind: str) -> None:
    store = make_store(kind)
    with pytest.raises(StoreError, match="not found"):
        store.read_bytes("nope.json")


def test_s3_does_not_upload_unchanged_content(make_store: Any, tmp_path: Path) -> None:
    store = make_store("s3")
    local = tmp_path / "data.csv"
    local.write_bytes(b"1,2,3\n")
    store.upload(local, "data/data.csv")
    calls = []
    original = store.client.upload_file
    store.client.upload_file = lambda *a, **k: calls.append(a) or original(*a, **k)
    store.upload(local, "data/data.csv")
    assert calls == []
    local.write_bytes(b"1,2,4\n")
    store.upload(local, "data/data.csv")
    assert len(calls) == 1
    assert store.read_bytes("data/data.csv") == b"1,2,4\n"


def test_s3_uri_layout(make_store: Any) -> None:
    store = make_store("s3")
    assert store.uri("data/train/train.csv") == "s3://smlp-test/projects/demo/data/train/train.csv"
    with pytest.raises(StoreError, match="outside the store"):
        store.key("s3://other/x")


def test_open_store_by_scheme(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    assert isinstance(open_store("s3://bucket/prefix"), S3Store)
    with pytest.raises(StoreError, match="expected a local folder or an s3:// URI"):
        open_store("gs://bucket")


def test_local_write_is_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("m.json", b"{}")
    store.write_bytes("m.json", b"{\"a\": 1}")
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_artifacts_are_readable_like_any_new_file(tmp_path: Path) -> None:

    from smlp.fileio import FILE_MODE

    store = LocalStore(tmp_path)
    store.write_bytes("m.json", b"{}")
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == FILE_MODE


def test_content_sha256_trusts_smlp_metadata_only_at_the_recorded_size(make_store: Any) -> None:
    from smlp.fileio import sha256_bytes
    from smlp.store import content_sha256

    store = make_store("s3")
    store.write_bytes("a.csv", b"1,2\n")
    assert content_sha256(store, "a.csv", size=4) == sha256_bytes(b"1,2\n")
    # New bytes under the old metadata (a forged or copied header): the length gives it away.
    store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}/a.csv", Body=b"9,2,3\n",
                            Metadata={"sha256": sha256_bytes(b"1,2\n")})
    assert content_sha256(store, "a.csv", size=4) == sha256_bytes(b"9,2,3\n")
    local = make_store("local")
    local.write_bytes("a.csv", b"1,2\n")
    assert content_sha256(local, "a.csv") == sha256_bytes(b"1,2\n")
