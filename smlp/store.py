"""The artifact store: a local folder or an S3 prefix, picked by URI scheme.

Stages address artifacts by *key* (``data/train.csv``); the manifest records full URIs so a
reader knows where a thing lives without knowing the config that wrote it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from smlp.errors import StoreError
from smlp.fileio import atomic_copy, atomic_write_bytes, sha256_file

S3_CONNECT_TIMEOUT = 10  # seconds
S3_READ_TIMEOUT = 30
S3_ATTEMPTS = 3  # first try plus retries, botocore's standard mode
LOCK_TIMEOUT = 120  # seconds a writer waits for another's manifest update on a local store
COPY_LIMIT = 5 * (1 << 30)  # bytes one CopyObject copies at most (S3 API reference, CopyObject)
# What S3 answers a conditional write that lost a race: 412 when the ETag no longer matches
# (or If-None-Match finds the object), 409 when another conditional write to the key is in
# flight, 404 for If-Match on a key deleted meanwhile ("Conditional writes", S3 User Guide;
# PutObject IfMatch/IfNoneMatch in the S3 API Reference).
CONFLICT_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409",
                  "NoSuchKey", "404"}


class WriteConflict(StoreError):
    """A conditional write found the object changed since it was read: read again, retry."""


class Store(Protocol):
    """Where artifacts and the manifest live."""

    root: str

    def uri(self, key: str) -> str: ...
    def key(self, uri: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def upload(self, local: Path, key: str, sha256: str | None = None) -> None: ...
    def download(self, key: str, local: Path) -> None: ...
    def local_path(self, key: str) -> Path | None: ...
    def list(self, prefix: str) -> list[str]: ...


class LocalStore:
    """A folder; keys are relative paths inside it."""

    def __init__(self, root: Path) -> None:
        self.path = root.expanduser().resolve()
        self.root = str(self.path)

    def uri(self, key: str) -> str:
        return str(self.path / key)

    def key(self, uri: str) -> str:
        try:
            return Path(uri).resolve().relative_to(self.path).as_posix()
        except ValueError:
            raise StoreError(f"{uri} is outside the store {self.root}") from None

    def exists(self, key: str) -> bool:
        try:
            return (self.path / key).exists()
        except OSError as exc:  # e.g. a name too long for the file system
            raise _write_error(exc, self.uri(key)) from None

    def read_bytes(self, key: str) -> bytes:
        try:
            return (self.path / key).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{self.uri(key)}: not found in the store") from None
        except OSError as exc:
            raise StoreError(f"{self.uri(key)}: cannot read ({exc.strerror})") from None

    def write_bytes(self, key: str, data: bytes) -> None:
        try:
            atomic_write_bytes(self.path / key, data)
        except OSError as exc:
            raise _write_error(exc, self.uri(key)) from None

    def upload(self, local: Path, key: str, sha256: str | None = None) -> None:
        target = self.path / key
        try:
            if target.resolve() == local.resolve():
                return
            atomic_copy(local, target)
        except OSError as exc:
            raise _write_error(exc, self.uri(key)) from None

    def download(self, key: str, local: Path) -> None:
        source = self.path / key
        if not source.is_file():
            raise StoreError(f"{self.uri(key)}: not found in the store")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.unlink(missing_ok=True)
        try:
            local.hardlink_to(source)  # cheap and safe: artifacts are replaced, never edited
        except OSError:
            shutil.copyfile(source, local)

    def local_path(self, key: str) -> Path | None:
        return self.path / key

    def list(self, prefix: str) -> list[str]:
        base = self.path / prefix
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.path).as_posix() for p in base.rglob("*") if p.is_file())

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold an exclusive lock for ``key`` (a ``.<name>.lock`` file beside it) across
        processes, so a read-change-write of the manifest is never interleaved.

        ``flock`` on the lock file, as the ``filelock`` package takes it (so either waits for
        the other); where there is no ``flock`` (Windows, some network file systems) the
        package itself, with its fallbacks. Importing it costs ~20 modules, so not by default.
        """
        target = self.path / key
        path = target.parent / f".{target.name}.lock"
        release = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            release = _flock(path, LOCK_TIMEOUT)
            if release is None:
                release = _filelock(path, LOCK_TIMEOUT)
        except TimeoutError:
            raise StoreError(f"{self.uri(key)}: another smlp process has held its lock for "
                             f"{LOCK_TIMEOUT} s; wait for it, or remove the .lock file if "
                             "no smlp is running") from None
        except OSError as exc:
            raise _write_error(exc, self.uri(key)) from None
        try:
            yield
        finally:
            release()


def _flock(path: Path, timeout: float) -> Any:
    """Take ``flock`` on ``path`` (waiting up to ``timeout`` s, else TimeoutError); a function
    that releases it, or None where this system or file system has no ``flock``."""
    import errno
    import os
    import time

    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK):
                    os.close(fd)
                    return None
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if time.monotonic() >= deadline:
                raise TimeoutError(path)
            time.sleep(0.05)
    except BaseException:
        os.close(fd)
        raise

    def release() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    return release


def _filelock(path: Path, timeout: float) -> Any:
    from filelock import FileLock, Timeout

    lock = FileLock(path, timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise TimeoutError(path) from None
    return lock.release


class S3Store:
    """An S3 prefix; keys are appended to it. Uploads carry their sha256 as object metadata,
    so unchanged content is never uploaded twice."""

    def __init__(self, uri: str, client: Any | None = None) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise StoreError(f"{uri}: expected s3://bucket[/prefix]")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client
        self._bucket_seen = False

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # A frozen endpoint must fail in about a minute, not hang for the default
            # retries of 60 s reads: bounded timeouts and attempts.
            self._client = boto3.client("s3", config=Config(
                connect_timeout=S3_CONNECT_TIMEOUT, read_timeout=S3_READ_TIMEOUT,
                retries={"total_max_attempts": S3_ATTEMPTS, "mode": "standard"},
            ))
        return self._client

    def _object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def key(self, uri: str) -> str:
        head = self.root + "/"
        if not uri.startswith(head):
            raise StoreError(f"{uri} is outside the store {self.root}")
        return uri[len(head):]

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))[
                "Body"
            ].read()
        except Exception as exc:  # botocore errors are mapped once, here
            raise _store_error(exc, self.uri(key)) from None

    def write_bytes(self, key: str, data: bytes) -> None:
        from smlp.fileio import sha256_bytes

        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._object_key(key), Body=data,
                Metadata={"sha256": sha256_bytes(data)},
            )
        except Exception as exc:
            raise _store_error(exc, self.uri(key)) from None

    def read_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        """The object's bytes and ETag, or (None, None) if there is none yet."""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
            return reply["Body"].read(), reply["ETag"]
        except Exception as exc:
            if _error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                self._check_bucket()
                return None, None
            raise _store_error(exc, self.uri(key)) from None

    def write_if(self, key: str, data: bytes, etag: str | None) -> None:
        """Write only if the object is still the one read (``etag``), or still absent
        (``None``); WriteConflict otherwise."""
        from smlp.fileio import sha256_bytes

        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._object_key(key), Body=data,
                Metadata={"sha256": sha256_bytes(data)}, **condition,
            )
        except Exception as exc:
            code = _error_code(exc)
            if code in CONFLICT_CODES:
                raise WriteConflict(f"{self.uri(key)}: changed by another writer "
                                    f"({code})") from None
            raise _store_error(exc, self.uri(key)) from None

    def upload(self, local: Path, key: str, sha256: str | None = None) -> None:
        sha256 = sha256 or sha256_file(local)
        head = self._head(key)
        if head is not None and head.get("Metadata", {}).get("sha256") == sha256:
            return
        try:
            # upload_file switches to multipart above 8 MiB by itself.
            self.client.upload_file(
                str(local), self.bucket, self._object_key(key),
                ExtraArgs={"Metadata": {"sha256": sha256}},
            )
        except Exception as exc:
            raise _store_error(exc, self.uri(key)) from None

    def download(self, key: str, local: Path) -> None:
        from smlp.fileio import temp_path_for

        tmp = temp_path_for(local)
        try:
            self.client.download_file(self.bucket, self._object_key(key), str(tmp))
            tmp.replace(local)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            raise _store_error(exc, self.uri(key)) from None

    def local_path(self, key: str) -> Path | None:
        return None

    def attach_sha256(self, key: str, sha256: str, size: int) -> bool:
        """Give an object another writer put here (a SageMaker Processing job's output, which
        SageMaker uploads without smlp's metadata) the sha256 smlp's own writes carry, so
        that verifying it later is a HEAD, not a download. Server-side: CopyObject onto
        itself, MetadataDirective REPLACE (required to copy an object onto itself), its
        encryption, key, content type and storage class kept (a copy that names none gets
        the bucket's default encryption), only while it is still the object HEAD saw
        (CopySourceIfMatch) and of ``size`` bytes (S3 API reference, CopyObject). False when
        it was not done (a changed or larger-than-5-GB object, no permission): verifying it
        then reads it, as before."""
        head = self._head(key)
        if head is None or head.get("ContentLength") != size or size > COPY_LIMIT:
            return False
        if (head.get("Metadata") or {}).get("sha256") == sha256:
            return True
        kept = {name: head[name] for name in ("ServerSideEncryption", "SSEKMSKeyId",
                                              "BucketKeyEnabled", "ContentType", "StorageClass")
                if head.get(name)}
        source = {"Bucket": self.bucket, "Key": self._object_key(key)}
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=self._object_key(key), CopySource=source,
                CopySourceIfMatch=head["ETag"], MetadataDirective="REPLACE",
                Metadata={"sha256": sha256}, **kept)
        except Exception as exc:
            if _error_code(exc) in {"PreconditionFailed", "AccessDenied", "KMS.AccessDenied",
                                    "AccessDeniedException"}:
                return False
            raise _store_error(exc, self.uri(key)) from None
        return True

    def sha256(self, key: str, size: int | None = None, expected: str | None = None) -> str:
        """The sha256 smlp stored with the object, unless another tool wrote it (which drops
        smlp's metadata), its length is not ``size`` or the metadata is not ``expected`` (a
        copy may carry stale metadata: the bytes decide): then the hash of its bytes."""
        import hashlib

        head = self._head(key)
        if head is None:
            raise StoreError(f"{self.uri(key)}: not found in the store")
        recorded = (head.get("Metadata") or {}).get("sha256")
        if recorded and (size is None or head.get("ContentLength") in (None, size)) and (
                expected is None or recorded == expected):
            return str(recorded)
        digest = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
        except Exception as exc:
            raise _store_error(exc, self.uri(key)) from None
        return digest.hexdigest()

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._object_key(prefix)):
                for item in page.get("Contents", []):
                    full = item["Key"]
                    keys.append(full[len(self.prefix) + 1:] if self.prefix else full)
        except Exception as exc:
            raise _store_error(exc, self.uri(prefix)) from None
        return sorted(keys)

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except Exception as exc:
            if _error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                self._check_bucket()  # HEAD says 404 for a missing bucket too
                return None
            raise _store_error(exc, self.uri(key)) from None

    def _check_bucket(self) -> None:
        if self._bucket_seen:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if _error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
                raise StoreError(f"store {self.root}: bucket {self.bucket} does not exist; "
                                 "create it (`smlp infra deploy`) or fix `store:`") from None
            raise _store_error(exc, f"s3://{self.bucket}") from None
        self._bucket_seen = True


def content_sha256(store: Store, key: str, size: int | None = None,
                   expected: str | None = None) -> str:
    """The sha256 of what ``store`` holds at ``key`` now: a local file is hashed; an S3 object
    gives the sha256 in its metadata (set by smlp's writes) or its hashed bytes; any other
    store (a dry run's) is read whole. StoreError if it is missing or unreadable."""
    from smlp.fileio import sha256_bytes

    if isinstance(store, S3Store):
        return store.sha256(key, size, expected)
    local = store.local_path(key)
    if local is None:
        return sha256_bytes(store.read_bytes(key))
    try:
        return sha256_file(local)
    except FileNotFoundError:
        raise StoreError(f"{store.uri(key)}: not found in the store") from None
    except OSError as exc:
        raise StoreError(f"{store.uri(key)}: cannot read ({exc.strerror})") from None


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None) or {}
    return (response.get("Error") or {}).get("Code")


def _store_error(exc: Exception, uri: str) -> StoreError:
    """Every boto3/botocore failure as one line naming the URI (mapped once, here)."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    if error:
        code = error.get("Code", "Unknown")
        if code in {"404", "NoSuchKey", "NotFound"}:
            return StoreError(f"{uri}: not found in the store")
        if code == "NoSuchBucket":
            bucket = uri.removeprefix("s3://").split("/", 1)[0]
            return StoreError(f"{uri}: bucket {bucket} does not exist; create it "
                              "(`smlp infra deploy`) or fix `store:`")
        if code in {"403", "AccessDenied", "Forbidden"}:
            return StoreError(f"{uri}: access denied with these AWS credentials")
        return StoreError(f"{uri}: S3 error {code}: {error.get('Message', '')}".rstrip(": "))
    name = type(exc).__name__
    if name in {"ReadTimeoutError", "ConnectTimeoutError", "EndpointConnectionError",
                "ConnectionClosedError", "ConnectionError"}:
        return StoreError(f"{uri}: S3 did not answer ({name}, after {S3_ATTEMPTS} attempts); "
                          "check the network or the endpoint")
    if name in {"NoCredentialsError", "PartialCredentialsError"}:
        from smlp.aws import NO_CREDENTIALS

        return StoreError(f"{uri}: {NO_CREDENTIALS}")
    return StoreError(f"{uri}: {name}: {str(exc).splitlines()[0] if str(exc) else ''}"
                      .rstrip(": "))


def _write_error(exc: OSError, uri: str) -> StoreError:
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, PermissionError):
        return StoreError(f"{uri}: cannot write to the store ({reason}); check the folder's "
                          "permissions or choose another `store:`")
    return StoreError(f"{uri}: cannot write to the store ({reason})")


def open_store(uri: str, base: Path | None = None) -> Store:
    """``s3://…`` gives an S3 store; anything else is a folder (relative to ``base`` or cwd)."""
    if uri.startswith("s3://"):
        return S3Store(uri)
    if "://" in uri:
        raise StoreError(f"store {uri!r}: expected a local folder or an s3:// URI")
    if not uri.strip():
        raise StoreError("store: empty; give a folder (e.g. smlp-artifacts) or s3://bucket/prefix")
    path = Path(uri)
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        if path.exists() and not path.is_dir():
            raise StoreError(f"store {path}: is a file; expected a folder (or s3://…)")
    except OSError as exc:
        raise StoreError(f"store {uri[:200]!r}: not a usable folder ({exc.strerror})") from None
    return LocalStore(path)
