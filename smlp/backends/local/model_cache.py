"""The extracted model cache (``.smlp/models/<sha>/``): bounded, safe, re-verified unpacking.

A model.tar.gz is unpacked once per content hash; what it may unpack to is capped, and every
cached file's sha256 is checked again before the model is served.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

from smlp.errors import BackendError, IntegrityError, StoreError
from smlp.fileio import sha256_file

# What a model.tar.gz may unpack to: ratio x its own size (at least the floor), never more than
# the cap, in at most MAX_MODEL_MEMBERS entries. A real model compresses a few times, not 100x.
MAX_UNPACK_RATIO = 100
MIN_UNPACK_BYTES = 16 << 20
MAX_UNPACK_BYTES = 4 << 30
MAX_MODEL_MEMBERS = 10_000
CACHE_LIST = ".smlp-files.json"  # each extracted file's sha256, written at extraction
# Model formats whose loading runs code (joblib pickles): only from the store, only verified.
PICKLED_MODELS = frozenset({"sklearn-gbm"})
SAFE_TAR_PYTHON = (3, 11, 4)  # tarfile's extraction filters (PEP 706)


def _python_version() -> tuple[int, int, int]:
    return sys.version_info[:3]


def require_safe_tar() -> None:
    """tarfile's ``data`` filter (absolute paths, ``..``, links out, devices) needs 3.11.4;
    tarfile itself is imported only to unpack (a cached model needs none)."""
    if _python_version() < SAFE_TAR_PYTHON:
        _unsafe_tar()


def _safe_tarfile() -> ModuleType:
    import tarfile

    require_safe_tar()
    if not hasattr(tarfile, "data_filter"):
        _unsafe_tar()
    return tarfile


def _unsafe_tar() -> None:
    version = ".".join(map(str, _python_version()))
    raise BackendError(f"unpacking a model.tar.gz safely needs Python >= 3.11.4 (tarfile's "
                       f"data filter); this is Python {version}: upgrade Python")


def expected_model_file(algorithm: str | None) -> str | None:
    """The file ``algorithm``'s entry point loads its model from (``MODEL_FILE``)."""
    if algorithm is None:
        return None
    from smlp.algorithms.entry_points import load_script

    return getattr(load_script(algorithm), "MODEL_FILE", None)


def cache_intact(folder: Path) -> bool:
    """Every file the archive unpacked is there, unchanged, and nothing was added."""
    try:
        recorded = json.loads((folder / CACHE_LIST).read_text())
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and p.name != CACHE_LIST}
        return isinstance(recorded, dict) and present == set(recorded) and all(
            sha256_file(folder / name) == digest for name, digest in recorded.items())
    except (OSError, ValueError):
        return False


def extract_model(archive: Path, uri: str, parent: Path) -> Path:
    """Unpack ``archive`` into a new folder under ``parent``, within the size and count caps,
    recording each file's sha256; any refusal is one line naming the archive."""
    tarfile = _safe_tarfile()
    import hashlib
    import tempfile

    limit = min(MAX_UNPACK_BYTES, max(MIN_UNPACK_BYTES, MAX_UNPACK_RATIO * archive.stat().st_size))
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=".extract-"))
    hashes: dict[str, str] = {}
    written = 0

    def refuse(reason: str) -> IntegrityError:
        return IntegrityError(f"{uri}: refusing to unpack the model archive: {reason}")

    try:
        with tarfile.open(archive, "r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MODEL_MEMBERS:
                    raise refuse(f"more than {MAX_MODEL_MEMBERS:,} entries")
                if member.name.startswith(("/", "\\")) or os.path.isabs(member.name):
                    raise refuse(f"{member.name} has an absolute path")
                try:
                    member = tarfile.data_filter(member, str(folder))
                except tarfile.FilterError as exc:
                    raise refuse(str(exc)) from None
                if member.isdir():
                    (folder / member.name).mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile():
                    raise refuse(f"{member.name} is not a regular file")
                if written + member.size > limit:
                    raise refuse(f"it would unpack to more than {limit:,} bytes (from "
                                 f"{archive.stat().st_size:,}); limit "
                                 f"smlp.backends.local.model_cache.MAX_UNPACK_BYTES/MAX_UNPACK_RATIO")
                path = folder / member.name
                path.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                digest = hashlib.sha256()
                with source, open(path, "wb") as out:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        if written > limit:  # the header lied (e.g. a sparse member)
                            raise refuse(f"it unpacks to more than {limit:,} bytes")
                        digest.update(chunk)
                        out.write(chunk)
                hashes[member.name] = digest.hexdigest()
        (folder / CACHE_LIST).write_text(json.dumps(hashes, indent=1, sort_keys=True))
    except IntegrityError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except (tarfile.TarError, OSError, EOFError, zlib_error()) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise StoreError(f"{uri}: not a readable model.tar.gz ({exc})") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error
