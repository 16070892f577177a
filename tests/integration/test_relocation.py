"""A copied or moved project (or a store under another prefix) works as the original did."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import smlp, write_small_config


def _pipeline(*store: str) -> None:
    smlp("data", "generate", *store)
    smlp("train", "--algo", "xgboost", *store)
    smlp("compare", *store)


def test_a_copied_project_folder_works_after_the_original_is_gone(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = project / "original"
    original.mkdir()
    monkeypatch.chdir(original)
    write_small_config(original)
    _pipeline()
    raw = (original / "smlp-artifacts/manifest.json").read_text()
    assert '"uri": "data/' in raw and '"uri": "training/' in raw  # store-relative keys
    copy = project / "copy"
    # Job folders and extracted models (.smlp) stay behind: the store alone must do.
    shutil.copytree(original, copy, ignore=shutil.ignore_patterns(".smlp"))
    shutil.rmtree(original)
    monkeypatch.chdir(copy)
    result = smlp("compare", "--json")
    assert json.loads(result.stdout)["best"] == "xgboost"
    smlp("transform")
    outputs = list((copy / "smlp-artifacts/transform").rglob("part-00000.csv.out"))
    assert len(outputs) == 1 and outputs[0].stat().st_size > 0
    smlp("train", "--algo", "knn")  # the copy keeps working as a project of its own
    recorded = json.loads((copy / "smlp-artifacts/manifest.json").read_text())
    uris = _uris(recorded)
    assert uris and not [uri for uri in uris if uri.startswith("/")]
    transform = recorded["stages"]["transform"]["parameters"]
    assert not transform["input"].startswith("/") and transform["output"].startswith(
        "transform/")


def _uris(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["uri"]] if isinstance(node.get("uri"), str) else []
        return own + [uri for value in node.values() for uri in _uris(value)]
    if isinstance(node, list):
        return [uri for value in node for uri in _uris(value)]
    return []


def test_a_store_moved_to_another_s3_prefix_works(project: Path, make_store: Any) -> None:
    store = make_store("s3")
    write_small_config(project)
    old, new = "s3://smlp-test/projects/demo", "s3://smlp-test/projects/moved"
    _pipeline("--store", old)
    client = store.client
    for key in [item["Key"] for item in client.list_objects_v2(
            Bucket="smlp-test", Prefix="projects/demo/")["Contents"]]:
        client.copy_object(Bucket="smlp-test", Key=key.replace("/demo/", "/moved/"),
                           CopySource={"Bucket": "smlp-test", "Key": key})
        client.delete_object(Bucket="smlp-test", Key=key)
    result = smlp("compare", "--json", "--store", new)
    assert json.loads(result.stdout)["best"] == "xgboost"
    smlp("transform", "--store", new)
