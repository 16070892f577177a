"""A prepare on SageMaker Processing says what a local prepare of the same data says (dropped
rows, problem type, how fill values were found), in the same order, and records the same
parameters plus where it ran."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from smlp.config import load_config
from smlp.data import stream
from smlp.events import Event
from smlp.manifest import StageRecord, load_manifest
from smlp.stages import data as stage
from smlp.stages import data_sagemaker
from smlp.store import LocalStore
from tests.unit.test_data_stream import write_raw


def test_processing_and_local_prepares_say_the_same(project: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "STREAM_BYTES", 0)
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(stream, "MEDIAN_SAMPLE", 300)  # sampled fill values: said so
    raw = write_raw(project / "raw.csv", 2000)  # every 53rd row has no target
    store = LocalStore(project / "store")
    config = load_config(None, {})
    local: list[Event] = []
    stage.prepare(config, store, raw, "y", "id", local.append)
    manifest = load_manifest(store)
    data = manifest.require_data()
    said = [event.message for event in local if event.kind == "info"]
    assert said[:3] == ["dropped 38 rows with no y",
                        "problem type: regression (target 'y' is numeric)",
                        "fill values: " + stream.sampled_median()]

    # The same data as a Processing job would leave it: its shards under a version of its
    # own, its schema and plan handed back by the backend.
    version = "0123456789ab"
    listed: dict[str, list[dict[str, object]]] = {}
    for name, split in data.splits.items():
        listed[name] = []
        for index, shard in enumerate(split.shards):
            key = stage.shard_key(version, name, index)
            (store.path / key).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shard.uri, store.path / key)
            listed[name].append({"index": index, "sha256": shard.sha256, "size": shard.size,
                                 "rows": shard.rows})
    result = SimpleNamespace(schema=Path(data.schema_.uri).read_text(), plan={
        "dropped_rows": 38}, shards=listed)
    remote: list[Event] = []
    data_sagemaker._publish(store, result, version, StageRecord(command="x"), remote.append)
    assert [event.message for event in remote if event.kind == "info"][:3] == said[:3]

    parameters = manifest.stages["data"].parameters
    assert stage.prepare_parameters(config, str(raw), "y", "id") == parameters
    assert set(parameters) == {"input", "target", "id_column", "seed", "splits",
                               "standardize", "problem_type"}
