"""``training_scripts/`` as the ``sourcedir.tar.gz`` script mode downloads into its container.

The archive is byte-for-byte reproducible (sorted names, zeroed times and owners, gzip
without a timestamp), so its sha256 names it in the store: unchanged code is uploaded once.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from smlp.fileio import sha256_bytes
from smlp.store import Store

SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class SourceDir:
    data: bytes
    sha256: str
    files: tuple[str, ...]

    @property
    def key(self) -> str:
        """Content-addressed store key: a new upload only when the code changes."""
        return f"code/{self.sha256[:16]}/sourcedir.tar.gz"


def pack(folder: Path) -> SourceDir:
    """The folder's source files at the archive root, as the SageMaker SDK lays them out."""
    files = sorted(
        path for path in folder.rglob("*")
        if path.is_file()
        and not (set(path.relative_to(folder).parts[:-1]) & SKIPPED_DIRS)
        and path.suffix not in SKIPPED_SUFFIXES
        and not path.name.startswith(".")
    )
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for path in files:
                data = path.read_bytes()
                info = tarfile.TarInfo(path.relative_to(folder).as_posix())
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                archive.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    return SourceDir(data, sha256_bytes(data),
                     tuple(path.relative_to(folder).as_posix() for path in files))


def training_scripts() -> SourceDir:
    from smlp.algorithms.entry_points import scripts_dir

    return pack(scripts_dir())


def ensure_uploaded(store: Store, source: SourceDir) -> str:
    """Upload the archive unless the store holds these exact bytes; return its S3 URI.

    A stored copy is read and hashed before a job uses it (the archive is small): its key names
    a content hash, but anyone who can write the bucket can replace the object behind it, and
    its sha256 metadata would say nothing about bytes written by another tool. A copy that
    differs is replaced by the right one.
    """
    if not store.exists(source.key) or sha256_bytes(store.read_bytes(source.key)) != source.sha256:
        store.write_bytes(source.key, source.data)
    return store.uri(source.key)
