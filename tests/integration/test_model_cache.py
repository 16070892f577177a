"""What the local backend serves is the archive the manifest recorded, and nothing bigger.

The extracted cache is re-verified on every use; an archive may unpack only so far; hostile or
broken archives and pickles from outside the store are refused with one line.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smlp.algorithms.entry_points import load_predictor
from smlp.backends.local import LocalBackend, model_cache
from smlp.config import load_config
from smlp.errors import BackendError, IntegrityError, StoreError
from smlp.fileio import sha256_file
from smlp.store import LocalStore


def _xgboost_model(seed: int) -> bytes:
    import xgboost

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 3))
    y = x[:, 0] * 3 + rng.normal(size=200)
    booster = xgboost.train({"max_depth": 3}, xgboost.DMatrix(x, y), num_boost_round=10 + seed)
    return bytes(booster.save_raw("ubj"))


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def backend(project: Path) -> LocalBackend:
    store = LocalStore(project / "store")
    return LocalBackend(load_config(None, {"store": str(store.path)}), store)


def _in_store(backend: LocalBackend, name: str) -> Path:
    return Path(backend.store.uri(f"training/{name}/output/model.tar.gz"))


def test_an_edited_cache_is_unpacked_again(backend: LocalBackend) -> None:
    archive = _archive(_in_store(backend, "a"), {"xgboost-model": _xgboost_model(0)})
    digest = sha256_file(archive)
    rows = np.random.default_rng(5).normal(size=(20, 3)).astype(np.float32)
    folder = backend.model_dir(str(archive), digest, "xgboost")
    expected = load_predictor("xgboost", folder)(rows)
    # Someone swaps the cached model for another one: it must not be served.
    (folder / "xgboost-model").write_bytes(_xgboost_model(7))
    assert not np.allclose(load_predictor("xgboost", folder)(rows), expected)
    again = backend.model_dir(str(archive), digest, "xgboost")
    assert again == folder
    np.testing.assert_array_equal(load_predictor("xgboost", again)(rows), expected)
    # An added file is a change too.
    (folder / "extra.py").write_text("print('hi')\n")
    assert not (backend.model_dir(str(archive), digest, "xgboost") / "extra.py").exists()


def test_an_archive_that_unpacks_too_far_is_refused(backend: LocalBackend) -> None:
    archive = _in_store(backend, "bomb")
    archive.parent.mkdir(parents=True)
    size = 40 << 20  # 40 MiB of zeros: about 40 KiB of gzip
    with gzip.open(archive, "wb", compresslevel=9) as raw, \
            tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    assert archive.stat().st_size < size // model_cache.MAX_UNPACK_RATIO
    with pytest.raises(IntegrityError, match="refusing to unpack .*more than") as caught:
        backend.model_dir(str(archive), sha256_file(archive), "xgboost")
    assert "\n" not in str(caught.value)
    models = backend.work_dir.parent / "models"
    assert not any(models.iterdir())  # nothing kept


def test_too_many_entries_are_refused(backend: LocalBackend, monkeypatch: Any) -> None:
    monkeypatch.setattr(model_cache, "MAX_MODEL_MEMBERS", 3)
    archive = _archive(_in_store(backend, "many"), {f"f{i}": b"x" for i in range(5)})
    with pytest.raises(IntegrityError, match="more than 3 entries"):
        backend.model_dir(str(archive), sha256_file(archive))


@pytest.mark.parametrize(("members", "error", "message"), [
    ({"/xgboost-model": b"x"}, IntegrityError, "/xgboost-model has an absolute path"),
    ({"../xgboost-model": b"x"}, IntegrityError, "refusing to unpack"),
    ({"model.json": b"{}"}, IntegrityError, "holds no xgboost-model"),
])
def test_hostile_or_incomplete_archives_are_one_line(backend: LocalBackend, members: Any,
                                                     error: type, message: str) -> None:
    archive = _archive(_in_store(backend, "bad"), members)
    with pytest.raises(error, match=message) as caught:
        backend.model_dir(str(archive), sha256_file(archive), "xgboost")
    assert str(archive) in str(caught.value) and "\n" not in str(caught.value)


def test_a_corrupt_archive_is_named(backend: LocalBackend) -> None:
    archive = _archive(_in_store(backend, "cut"), {"xgboost-model": _xgboost_model(0)})
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(StoreError, match="not a readable model.tar.gz"):
        backend.model_dir(str(archive), sha256_file(archive), "xgboost")


def test_pickles_load_only_from_the_store_and_verified(backend: LocalBackend,
                                                       project: Path) -> None:
    outside = _archive(project / "elsewhere" / "model.tar.gz", {"model.joblib": b"pickle"})
    with pytest.raises(StoreError, match="outside the store"):
        backend.model_dir(str(outside), sha256_file(outside), "sklearn-gbm")
    inside = _archive(_in_store(backend, "gbm"), {"model.joblib": b"pickle"})
    with pytest.raises(IntegrityError, match="pickle .* no sha256"):
        backend.model_dir(str(inside), None, "sklearn-gbm")
    with pytest.raises(IntegrityError, match="does not match the manifest"):
        backend.model_dir(str(inside), "0" * 64, "sklearn-gbm")


def test_unsafe_tar_pythons_are_refused(backend: LocalBackend, monkeypatch: Any) -> None:
    monkeypatch.setattr(model_cache, "_python_version", lambda: (3, 11, 3))
    archive = _archive(_in_store(backend, "a"), {"xgboost-model": b"x"})
    with pytest.raises(BackendError, match=r"needs Python >= 3.11.4.*this is Python 3.11.3"):
        backend.model_dir(str(archive), sha256_file(archive), "xgboost")


def test_transform_of_a_broken_archive_exits_with_one_line(trained: Path) -> None:
    from smlp.manifest import update_manifest
    from smlp.store import open_store
    from tests.integration.cli_helpers import smlp

    project = trained  # the small config, generated data, an XGBoost candidate
    store = open_store("smlp-artifacts", project)

    def swap(manifest: Any) -> None:
        model = manifest.candidates["xgboost"].model
        archive = _archive(Path(model.uri), {"notes.txt": b"no model here"})
        model.sha256 = sha256_file(archive)

    update_manifest(store, swap)
    result = smlp("transform", "--model", "xgboost", ok=False)
    assert result.exit_code == IntegrityError.exit_code, result.output
    assert "holds no xgboost-model" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2
