"""Store faults: each one a single StoreError line naming the store, never a traceback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smlp.errors import StoreError
from smlp.store import LocalStore, S3Store, open_store


def test_a_file_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "artifacts").write_text("not a folder")
    with pytest.raises(StoreError, match="artifacts: is a file; expected a folder"):
        open_store(str(tmp_path / "artifacts"))


def test_an_empty_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="store: empty"):
        open_store("  ")


def test_an_empty_store_in_config_is_refused(tmp_path: Path) -> None:
    from smlp.config import load_config
    from smlp.errors import ConfigError

    path = tmp_path / "smlp.yaml"
    path.write_text('store: ""\n')
    with pytest.raises(ConfigError, match="store: empty"):
        load_config(path)


def test_a_name_too_long_for_the_file_system(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    with pytest.raises(StoreError, match="cannot write to the store"):
        store.write_bytes("x" * 400 + "/manifest.json", b"{}")


def test_a_read_only_store_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root ignores file modes, so the refusal the kernel would give is raised where it arises.
    import smlp.fileio

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(smlp.fileio.os, "replace", refuse)
    store = LocalStore(tmp_path / "s")
    with pytest.raises(StoreError) as raised:
        store.write_bytes("manifest.json", b"{}")
    message = str(raised.value)
    assert "manifest.json: cannot write to the store (Permission denied)" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert not list((tmp_path / "s").glob(".manifest.json.*.tmp"))  # no partial left


@pytest.fixture
def frozen_endpoint() -> Iterator[str]:
    """A TCP server on loopback that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_frozen_s3_endpoint_fails_in_one_line(frozen_endpoint: str, aws_env: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import smlp.store

    monkeypatch.setattr(smlp.store, "S3_READ_TIMEOUT", 0.3)
    monkeypatch.setattr(smlp.store, "S3_CONNECT_TIMEOUT", 0.3)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", frozen_endpoint)
    store = S3Store("s3://smlp-test/demo")
    with pytest.raises(StoreError, match=r"s3://smlp-test/demo/manifest.json: S3 did not "
                                         r"answer \(ReadTimeoutError, after 3 attempts\)"):
        store.read_bytes("manifest.json")
    with pytest.raises(StoreError, match="S3 did not answer"):
        store.exists("manifest.json")


def test_a_missing_bucket_is_said_to_be_missing(aws_env: None) -> None:
    from moto import mock_aws

    from smlp.manifest import load_manifest

    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        store = S3Store("s3://no-such-bucket/demo", client=client)
        with pytest.raises(StoreError, match="bucket no-such-bucket does not exist"):
            load_manifest(store)
        client.create_bucket(Bucket="no-such-bucket")
        assert load_manifest(store).data is None  # an empty bucket: no stages yet


def test_every_botocore_failure_maps_to_a_store_error() -> None:
    from botocore import exceptions as bx

    from smlp.store import _store_error

    failures = [
        bx.ReadTimeoutError(endpoint_url="http://x"),
        bx.ConnectTimeoutError(endpoint_url="http://x"),
        bx.EndpointConnectionError(endpoint_url="http://x"),
        bx.NoCredentialsError(),
        bx.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject"),
        bx.ClientError({"Error": {"Code": "SlowDown", "Message": "busy"}}, "PutObject"),
        bx.ClientError({}, "GetObject"),
    ]
    for failure in failures:
        error = _store_error(failure, "s3://b/k")
        assert isinstance(error, StoreError)
        assert str(error).startswith("s3://b/k: ")
        assert "\n" not in str(error)
