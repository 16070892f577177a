"""The local backend with its artifacts and manifest on S3 (moto)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from smlp.config import load_config
from smlp.manifest import load_manifest
from smlp.store import S3Store
from tests.data_paths import split_key
from tests.integration.cli_helpers import smlp, write_small_config

STORE = "s3://smlp-test/projects/demo"


def test_pipeline_on_an_s3_store(project: Path, make_store: Any) -> None:
    store: S3Store = make_store("s3")
    write_small_config(project)
    smlp("data", "generate", "--store", STORE)
    first_line = store.read_bytes(split_key(store, "train")).split(b"\n", 1)[0]
    assert len(first_line.split(b",")) == 9 and first_line[:1].isdigit()
    head = store.client.head_object(Bucket="smlp-test",
                                    Key="projects/demo/" + split_key(store, "train"))
    manifest = load_manifest(store)
    assert head["Metadata"]["sha256"] == manifest.data.splits["train"].sha256

    smlp("train", "--algo", "xgboost", "--algo", "sklearn-gbm", "--store", STORE)
    manifest = load_manifest(store)
    model_uri = manifest.candidates["xgboost"].model.uri
    assert model_uri.startswith(f"{STORE}/training/smlp-xgboost-")
    assert store.exists(store.key(model_uri))

    result = smlp("compare", "--json", "--store", STORE)
    comparison = json.loads(result.stdout)
    assert {c["name"] for c in comparison["candidates"]} == {"xgboost", "sklearn-gbm"}
    assert json.loads(store.read_bytes("compare/comparison.json")) == comparison

    smlp("transform", "--store", STORE)
    outputs = [k for k in store.list("transform") if k.endswith("part-00000.csv.out")]
    assert len(outputs) == 1
    rows = np.loadtxt(store.read_bytes(outputs[0]).decode().splitlines(), delimiter=",")
    assert rows.shape == (load_manifest(store).data.rows["test"], 2)
    assert not (project / "smlp-artifacts").exists()  # nothing leaked to the default store


def test_regenerating_unchanged_data_uploads_nothing(project: Path, make_store: Any) -> None:
    store: S3Store = make_store("s3")
    config = load_config(None, {"data.rows": 500, "store": STORE})
    from smlp.stages.data import generate

    store_for_stage = S3Store(STORE, client=store.client)
    generate(config, store_for_stage)
    uploads = []
    original = store.client.upload_file
    store.client.upload_file = lambda *a, **k: uploads.append(a) or original(*a, **k)
    generate(config, store_for_stage)
    assert uploads == []
