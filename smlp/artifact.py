"""An artifact: a file in (or outside) the store by URI and sha256, and the checks that the
store still holds what the manifest recorded. A prepared split is a folder of shards
(``SplitArtifact``), checked shard by shard."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    BaseModel,
    SerializationInfo,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from smlp.errors import IntegrityError, StoreError
from smlp.fileio import sha256_bytes, sha256_file
from smlp.manifest_io import from_key, to_key
from smlp.store import Store, content_sha256

STORE_ROOT = "store_root"  # the validation/serialization context key naming the store's root


class Artifact(BaseModel):
    """A file by URI and content hash. In manifest.json a URI inside the store is a
    store-relative key (see manifest_io), so a moved or copied project still finds it; in
    memory ``uri`` is always the full URI under the store's current root."""

    uri: str
    sha256: str
    size: int = 0

    @field_serializer("uri")
    def _as_key(self, uri: str, info: SerializationInfo) -> str:
        root = (info.context or {}).get(STORE_ROOT)
        return to_key(root, uri) if root else uri

    @field_validator("uri")
    @classmethod
    def _as_uri(cls, uri: str, info: ValidationInfo) -> str:
        root = (info.context or {}).get(STORE_ROOT)
        return from_key(root, uri) if root else uri


class Shard(Artifact):
    """One file of a split: a complete SageMaker CSV (target first, no header, whole rows)."""

    rows: int = 0


class SplitArtifact(Artifact):
    """A prepared split: ``uri`` is its folder (a SageMaker channel's prefix), ``sha256`` the
    aggregate of its shards' (``split_sha256``), ``size`` their bytes; ``shards`` in row order
    (read in this order, they are the split's rows in order)."""

    shards: list[Shard]

    @property
    def rows(self) -> int:
        return sum(shard.rows for shard in self.shards)


def split_sha256(shard_hashes: list[str]) -> str:
    """A split's content hash from its shards' hashes, in order. One shard: that file's own
    sha256, so a one-file split hashes as the single-file splits of manifest schema 1 did
    (candidates and tuning jobs recorded against them still match); several: the sha256 of
    their ``<index> <sha256>`` lines."""
    if len(shard_hashes) == 1:
        return shard_hashes[0]
    return sha256_bytes("".join(f"{i} {h}\n" for i, h in enumerate(shard_hashes)).encode())


def verify_split(store: Store, split: SplitArtifact, what: str, rerun: str) -> None:
    """Raise IntegrityError unless every shard of ``split`` is in the store as recorded (and
    the shards are the ones the split's hash names)."""
    if split_sha256([shard.sha256 for shard in split.shards]) != split.sha256:
        raise IntegrityError(f"{split.uri}: the {what}'s shards do not add up to its recorded "
                             f"sha256; the manifest was edited (re-run `{rerun}`)")
    for shard in split.shards:
        verify_stored(store, shard, what, rerun)


def artifact_for_file(store: Store, key: str, local: Path) -> Artifact:
    return Artifact(uri=store.uri(key), sha256=sha256_file(local), size=local.stat().st_size)


def artifact_for_bytes(store: Store, key: str, data: bytes) -> Artifact:
    return Artifact(uri=store.uri(key), sha256=sha256_bytes(data), size=len(data))


def verify(local: Path, artifact: Artifact) -> None:
    """Raise IntegrityError if the file on disk is not the artifact the manifest recorded."""
    try:
        actual = sha256_file(local)
    except OSError as exc:
        raise IntegrityError(f"{artifact.uri}: unreadable ({exc.strerror})") from None
    if actual != artifact.sha256:
        raise IntegrityError(
            f"{artifact.uri}: sha256 {actual[:12]}… does not match the manifest's "
            f"{artifact.sha256[:12]}…; the artifact was changed after it was recorded "
            "(re-run the stage that wrote it)"
        )


def verify_stored(store: Store, artifact: Artifact, what: str, rerun: str) -> None:
    """Raise IntegrityError unless the store still holds ``artifact`` as recorded (S3 objects
    by the sha256 in their metadata, see ``content_sha256``); ``rerun`` is the command that
    writes it again."""
    try:
        actual = content_sha256(store, store.key(artifact.uri), artifact.size or None,
                                artifact.sha256)
    except StoreError as exc:
        if "not found" not in str(exc):
            raise
        raise IntegrityError(f"{artifact.uri}: the {what} is missing; re-run `{rerun}`") from None
    if actual != artifact.sha256:
        raise IntegrityError(
            f"{artifact.uri}: sha256 {actual[:12]}… does not match the manifest's "
            f"{artifact.sha256[:12]}…; the {what} was changed after it was recorded "
            f"(re-run `{rerun}`)"
        )
