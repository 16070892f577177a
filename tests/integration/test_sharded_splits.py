"""Every stage on splits of several shards (issue 14), through the real local backend: the
same numbers as on one-shard splits of the same data, outputs one per shard, and a store
written before shards existed still trained on, compared and transformed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smlp.backends.local import LocalBackend
from smlp.config import load_config
from smlp.manifest import load_manifest
from smlp.stages.compare import compare
from smlp.stages.data import generate
from smlp.stages.train import train
from smlp.stages.transform import transform
from smlp.store import LocalStore
from tests.conftest import SMALL
from tests.integration.cli_helpers import smlp

SHARDED = {"data.shard_mb": 0.005, "algorithms.xgboost.instance_count": 3}  # 5 KiB shards
ALGOS = ["xgboost", "knn", "sklearn-gbm"]


def _pipeline(folder: Path, extra: dict[str, Any]) -> tuple[Any, LocalStore, Any, Any]:
    config = load_config(None, {**SMALL, "store": str(folder / "store"),
                                "backend.work_dir": str(folder / ".smlp"), **extra})
    store = LocalStore(folder / "store")
    backend = LocalBackend(config, store)
    generate(config, store)
    candidates = {c.name: c for c in train(config, store, backend, ALGOS)}
    return config, store, candidates, compare(config, store, backend)


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sharded")
    return {"one": _pipeline(root / "one", {}), "many": _pipeline(root / "many", SHARDED)}


def test_shards_train_and_score_as_one_file_does(pipelines: dict[str, Any]) -> None:
    _, one_store, one_candidates, one_comparison = pipelines["one"]
    _, store, candidates, comparison = pipelines["many"]
    data = load_manifest(store).require_data()
    assert len(data.splits["train"].shards) >= 3
    assert len(data.splits["test"].shards) >= 2
    assert all(len(s.shards) == 1 for s in load_manifest(one_store).require_data()
               .splits.values())
    for name in ALGOS:  # the same rows in the same order: the same training, to the digit
        assert candidates[name].training_metrics == one_candidates[name].training_metrics, name
    assert {c.name: c.metrics for c in comparison.candidates} == {
        c.name: c.metrics for c in one_comparison.candidates}
    assert comparison.rows == one_comparison.rows


def test_compare_wrote_one_output_per_test_shard(pipelines: dict[str, Any]) -> None:
    _, store, _, comparison = pipelines["many"]
    shards = load_manifest(store).require_data().splits["test"].shards
    for scored in comparison.candidates:
        outputs = [store.path / "compare" / scored.name / (Path(s.uri).name + ".out")
                   for s in shards]
        lines = [o.read_text().splitlines() for o in outputs]
        assert [len(part) for part in lines] == [s.rows for s in shards]
        labels = [float(line.split(",")[0]) for part in lines for line in part]
        expected = [float(line.split(",")[0]) for s in shards
                    for line in Path(s.uri).read_text().splitlines()]
        assert labels == expected  # in shard order: every prediction beside its row's label


def test_transform_of_the_test_split_gives_one_output_per_shard(pipelines: dict[str, Any]
                                                                ) -> None:
    config, store, _, _ = pipelines["many"]
    result = transform(config, store, LocalBackend(config, store), model="xgboost")
    shards = load_manifest(store).require_data().splits["test"].shards
    assert [Path(uri).name for uri in result.outputs] == [
        Path(s.uri).name + ".out" for s in shards]
    assert result.rows == sum(s.rows for s in shards)


def test_the_report_reads_shards_in_order(pipelines: dict[str, Any]) -> None:
    from smlp.report.inputs import load_inputs

    one = load_inputs(pipelines["one"][1])
    many = load_inputs(pipelines["many"][1])
    np.testing.assert_array_equal(many.test.labels, one.test.labels)
    np.testing.assert_array_equal(many.train.features, one.train.features)
    for name, predictions in one.predictions.items():
        np.testing.assert_array_equal(many.predictions[name], predictions)


def test_status_shows_the_shards(pipelines: dict[str, Any], project: Path) -> None:
    store = pipelines["many"][1]
    state = json.loads(smlp("status", "--json", "--store", str(store.path)).stdout)
    data = load_manifest(store).require_data()
    assert state["data"]["shards"] == {n: len(s.shards) for n, s in data.splits.items()}
    shown = smlp("status", "--store", str(store.path)).stdout
    assert f"train {data.rows['train']:,} ({len(data.splits['train'].shards)} shards)" in shown


def test_clean_keeps_every_recorded_shard_and_removes_the_old_versions(tmp_path: Path,
                                                                      project: Path) -> None:
    from smlp.clean import clean

    store = LocalStore(tmp_path / "store")
    generate(load_config(None, {**SMALL, **SHARDED, "data.seed": 1}), store)
    old = {store.key(s.uri) for split in load_manifest(store).require_data().splits.values()
           for s in split.shards}
    generate(load_config(None, {**SMALL, **SHARDED, "data.seed": 2}), store)
    kept = {store.key(s.uri) for split in load_manifest(store).require_data().splits.values()
            for s in split.shards}
    assert len(kept) > 3 and not kept & old
    report = clean(store, tmp_path / ".smlp")
    removed = {item.key for item in report.items if item.key}
    assert old <= removed and not kept & removed
    assert all(store.exists(key) for key in kept) and not any(store.exists(k) for k in old)


def test_a_store_written_before_shards_still_compares_and_trains(tmp_path: Path,
                                                                  project: Path) -> None:
    """The schema 1 fixture (data and an XGBoost candidate from the old code): its candidate
    is trained on the current data, compares and transforms; training again works."""
    fixture = Path(__file__).parent.parent / "fixtures" / "schema1_store"
    shutil.copytree(fixture, tmp_path / "store")
    store = LocalStore(tmp_path / "store")
    config = load_config(None, {"store": str(store.path),
                                "backend.work_dir": str(tmp_path / ".smlp"),
                                "algorithms.xgboost.hyperparameters.num_round": 5})
    backend = LocalBackend(config, store)
    comparison = compare(config, store, backend)
    assert [c.name for c in comparison.candidates] == ["xgboost"] and not comparison.skipped
    assert (store.path / "compare" / "xgboost" / "test.csv.out").exists()
    result = transform(config, store, backend, model="xgboost")
    assert [Path(uri).name for uri in result.outputs] == ["test.csv.out"]
    (retrained,) = train(config, store, backend, ["xgboost"])
    old = json.loads((fixture / "manifest.json").read_text())["candidates"]["xgboost"]
    assert retrained.data_sha256 == old["data_sha256"]
    assert retrained.training_metrics == pytest.approx(old["training_metrics"], rel=1e-6)


def test_shards_on_s3_are_uploaded_checked_by_metadata_and_trained_on(
        pipelines: dict[str, Any], make_store: Any, project: Path) -> None:
    """The S3 store: every shard uploaded with its sha256 in the object metadata (so the
    checks before training read no data), and a local job fetches every shard of a channel."""
    from smlp.stages.train import verify_data

    store = make_store("s3")
    config = load_config(None, {**SMALL, **SHARDED, "store": store.root,
                                "backend.work_dir": str(project / ".smlp")})
    data = generate(config, store)
    shards = [s for split in data.splits.values() for s in split.shards]
    assert len(shards) >= 5
    for shard in shards:
        head = store.client.head_object(Bucket=store.bucket, Key=store._object_key(
            store.key(shard.uri)))
        assert head["Metadata"]["sha256"] == shard.sha256 and head["ContentLength"] == shard.size
    reads: list[str] = []
    original = store.client.get_object
    store.client.get_object = lambda **k: reads.append(k["Key"]) or original(**k)
    verify_data(store, data)
    assert not any("/data/" in key for key in reads)
    store.client.get_object = original
    (candidate,) = train(config, store, LocalBackend(config, store), ["xgboost"])
    assert candidate.training_metrics == pipelines["many"][2]["xgboost"].training_metrics


def test_sagemaker_trains_on_the_train_prefix_and_compares_shard_by_shard(
        pipelines: dict[str, Any], make_store: Any, project: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the sagemaker backend against the reference containers: the train channel is
    the prefix of every shard; Batch Transform over the test prefix gives one output per
    shard (AWS: an output object per input object), read back in shard order."""
    from smlp.backends.sagemaker.backend import SageMakerBackend
    from smlp.backends.sagemaker.session import AwsSession
    from tests.integration.sagemaker_fixtures import (
        REGION,
        record_sagemaker,
        sagemaker_config,
    )

    store = make_store("s3")
    traffic = record_sagemaker(store, project / ".emulator", monkeypatch)
    config = sagemaker_config(load_config(None, {**SMALL, **SHARDED}))
    data = generate(config, store)
    backend = SageMakerBackend(config, store, session=AwsSession(REGION, 3))
    train(config, store, backend, ["xgboost"])
    (request,) = traffic.requests("CreateTrainingJob")
    (channel,) = [c for c in request["InputDataConfig"] if c["ChannelName"] == "train"]
    prefix = channel["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert request["ResourceConfig"]["InstanceCount"] == 3
    assert sorted(store.list(store.key(prefix))) == [
        store.key(s.uri) for s in data.splits["train"].shards]
    comparison = compare(config, store, backend)
    shards = data.splits["test"].shards
    outputs = [store.read_bytes(f"compare/xgboost/{Path(s.uri).name}.out").decode()
               for s in shards]
    assert [len(o.splitlines()) for o in outputs] == [s.rows for s in shards]
    labels = [line.split(",")[0] for o in outputs for line in o.splitlines()]
    expected = [line.split(",")[0] for s in shards
                for line in store.read_bytes(store.key(s.uri)).decode().splitlines()]
    assert [float(v) for v in labels] == [float(v) for v in expected]
    assert comparison.rows == data.rows["test"]
