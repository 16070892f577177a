"""``smlp data generate|prepare``: raw table -> SageMaker-format splits + schema in the store.

Each prepared data set is a version under its own prefix, ``data/<version>/`` (the version is a
short hash of its contents), so writing new data never touches the recorded one: the switch is
the manifest update, the last step. Old versions stay in the store until cleaned.

Each split is a folder of shards, ``data/<version>/<split>/part-NNNNN.csv`` (``shard_key``):
whole rows, at most ``data.shard_mb`` each, the train split in at least one shard per instance
of the largest configured training job (``min_shards``). ``publish_shards`` records shards
already in the store (also those a SageMaker Processing job wrote) as the new data.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smlp.config import Config
from smlp.data.prepare import (
    SPLITS,
    PreparedData,
    prepare_table,
    read_table,
    write_split_shards,
)
from smlp.events import Event, EventSink, ignore
from smlp.manifest import (
    DataRecord,
    artifact_for_bytes,
    load_manifest,
    record_stage,
    update_manifest,
)
from smlp.store import Store

DATA_PREFIX = "data"
VERSION_CHARS = 12


def shard_key(version: str, split: str, index: int) -> str:
    """The store key of shard ``index`` (from 0) of ``split`` in data version ``version``:
    ``data/<version>/<split>/part-00000.csv``. A split is the folder of its shards (a SageMaker
    channel's prefix); shards sort by name in row order."""
    from smlp.data.shards import shard_name

    return f"{DATA_PREFIX}/{version}/{split}/{shard_name(index)}"


@dataclass(frozen=True)
class ShardInfo:
    """One shard already in the store: its key (see ``shard_key``), sha256, bytes and rows."""

    key: str
    sha256: str
    size: int
    rows: int


def schema_key(version: str) -> str:
    return f"{DATA_PREFIX}/{version}/schema.json"


def split_folder(store: Store, data: DataRecord, split: str) -> str:
    """The URI of the folder (a SageMaker channel's prefix) that holds ``split``'s shards."""
    return data.splits[split].uri


def generate(config: Config, store: Store, events: EventSink = ignore) -> DataRecord:
    """Synthesize the California-housing-style set and prepare it like any user file."""
    from smlp.data.synthetic import generate_for, target_for

    load_manifest(store)  # an unreadable manifest fails here, before anything is written
    data = config.data
    problem = "regression" if data.problem_type == "auto" else data.problem_type
    parameters = {"rows": data.rows, "seed": data.seed, "splits": data.splits.model_dump(),
                  "standardize": data.standardize}
    command = "smlp data generate"
    if problem != "regression":
        parameters["problem_type"] = problem
        command += f" --problem-type {problem}"
    with record_stage(store, "data", command, parameters) as record:
        table = generate_for(problem, data.rows, data.seed)
        events(Event("info", f"generated {data.rows:,} rows (seed {data.seed})"))
        prepared = prepare_table(table, target_for(problem), None, data.splits, data.seed,
                                 data.standardize, source="synthetic data", problem_type=problem)
        say_problem(prepared.schema, events)
        return _publish(store, prepared, record, config, events)


def prepare(config: Config, store: Store, input_path: Path, target: str,
            id_column: str | None = None, events: EventSink = ignore) -> DataRecord:
    """Read the user's CSV/Parquet, split, fit the schema on train, write everything."""
    load_manifest(store)  # an unreadable manifest fails here, before anything is written
    data = config.data
    parameters = prepare_parameters(config, str(input_path), target, id_column)
    command = f"smlp data prepare --input {input_path} --target {target}"
    with record_stage(store, "data", command, parameters) as record:
        from smlp.data import stream

        if input_path.is_file() and stream.is_large(input_path):
            return _prepare_streaming(config, store, input_path, target, id_column, record,
                                      events)
        table = read_table(input_path)
        record.inputs["source"] = _source_artifact(input_path)
        prepared = prepare_table(table, target, id_column, data.splits, data.seed,
                                 data.standardize, source=str(input_path),
                                 problem_type=data.problem_type)
        say_prepared(prepared.schema, prepared.dropped_rows, events)
        return _publish(store, prepared, record, config, events)


def _prepare_streaming(config: Config, store: Store, input_path: Path, target: str,
                       id_column: str | None, record: Any, events: EventSink) -> DataRecord:
    """A CSV too large to hold whole: prepared in blocks (smlp.data.stream), same splits."""
    from smlp.data.stream import prepare_csv

    data = config.data
    with tempfile.TemporaryDirectory(prefix="smlp-data-") as tmp:
        try:
            streamed = prepare_csv(input_path, target, id_column, data.splits, data.seed,
                                   data.standardize, data.problem_type, Path(tmp),
                                   min_shards(config), shard_bytes(config))
        except Exception:
            with contextlib.suppress(OSError):  # the error says what is wrong with the file
                record.inputs["source"] = _source_artifact(input_path)
            raise
        # The first pass hashed the file as it read it (a second read costs ~0.1 s per 80 MB).
        record.inputs["source"] = _source_artifact(input_path, streamed.source_sha256)
        say_prepared(streamed.schema, streamed.dropped_rows, events)
        return _upload_and_publish(store, streamed.schema, streamed.shards, record, events)


def min_shards(config: Config) -> dict[str, int]:
    """At least one train shard per instance of the largest training job configured (each
    instance of a ``ShardedByS3Key`` channel reads whole files); the others by size only."""
    counts = [section.instance_count for _, section in config.algorithms.items()
              if section.enabled]
    return {"train": max(counts, default=1), "validation": 1, "test": 1}


def shard_bytes(config: Config) -> int:
    return int(config.data.shard_mb * (1 << 20))


def prepare_parameters(config: Config, input: str, target: str,
                       id_column: str | None) -> dict[str, Any]:
    """The parameters every ``data prepare`` records (one on SageMaker adds where it ran)."""
    data = config.data
    return {"input": input, "target": target, "id_column": id_column, "seed": data.seed,
            "splits": data.splits.model_dump(), "standardize": data.standardize,
            "problem_type": data.problem_type}


def say_prepared(schema: Any, dropped_rows: int, events: EventSink) -> None:
    """What every prepare (local, streamed, on SageMaker Processing) says about the data it
    made: rows dropped for want of a target, the problem type, how fill values were found
    when they are not exact medians."""
    if dropped_rows:
        events(Event("info", f"dropped {dropped_rows:,} rows with no {schema.target}"))
    say_problem(schema, events)
    if schema.fill_method != "median":
        events(Event("info", f"fill values: {schema.fill_method}"))


def say_problem(schema: Any, events: EventSink) -> None:
    """Which problem the target makes (a SageMaker Processing prepare says it too)."""
    if schema.problem_type == "regression":
        events(Event("info", f"problem type: regression (target {schema.target!r} is numeric)"))
        return
    shown = ", ".join(schema.classes[:10]) + (", ..." if len(schema.classes) > 10 else "")
    events(Event("info", f"problem type: {schema.problem_type} (target {schema.target!r}, "
                         f"{len(schema.classes)} classes: {shown})"))


def _source_artifact(path: Path, sha256: str | None = None) -> Any:
    from smlp.fileio import sha256_file
    from smlp.manifest import Artifact

    return Artifact(uri=str(path.resolve()), sha256=sha256 or sha256_file(path),
                    size=path.stat().st_size)


def publish_shards(store: Store, schema: Any, shards: dict[str, list[ShardInfo]],
                   record: Any, events: EventSink = ignore,
                   present: Collection[str] = ()) -> DataRecord:
    """Record shards already written to the store as a new data version and switch the
    manifest to it (the last step: on any failure before it the recorded data stays).

    ``schema``: the fitted ``smlp.data.schema.Schema``, written here to
    ``data/<version>/schema.json``. ``shards``: for each of train, validation and test, its
    shards in row order, every key ``shard_key(version, split, i)`` for one ``version``
    (i = 0, 1, ...). ``record``: the ``StageRecord`` of the running ``data`` stage
    (``record_stage``), whose outputs get the splits and the schema. For a SageMaker
    Processing job: write the shards under ``data/<version>/`` (any fresh version name,
    e.g. the job's), then call this. ``present``: keys this process has just seen in the
    store (it uploaded them, its upload raising on failure, or it just read their metadata),
    not looked up again; every other shard must be in the store (one request each on S3).
    """
    from smlp.errors import StoreError
    from smlp.manifest import Shard, SplitArtifact, split_sha256

    version = _version_of(shards)
    for split, listed in shards.items():
        for shard in listed:
            if shard.key not in present and not store.exists(shard.key):
                raise StoreError(f"{store.uri(shard.key)}: {split} shard not found in the store")
    schema_bytes = schema.to_json().encode()
    splits = {}
    for split in SPLITS:
        listed = shards[split]
        splits[split] = SplitArtifact(
            uri=store.uri(f"{DATA_PREFIX}/{version}/{split}"),
            sha256=split_sha256([shard.sha256 for shard in listed]),
            size=sum(shard.size for shard in listed),
            shards=[Shard(uri=store.uri(s.key), sha256=s.sha256, size=s.size, rows=s.rows)
                    for s in listed])
    store.write_bytes(schema_key(version), schema_bytes)
    data_record = DataRecord(
        splits=splits,
        schema=artifact_for_bytes(store, schema_key(version), schema_bytes),
        features=schema.encoded_names,
        rows={split: splits[split].rows for split in SPLITS},
    )
    record.outputs.update(splits)
    record.outputs["schema"] = data_record.schema_

    def change(manifest: Any) -> None:
        manifest.data = data_record

    update_manifest(store, change)
    events(Event("info", "wrote " + ", ".join(
        f"{split} {rows:,} rows" + _in_shards(len(splits[split].shards))
        for split, rows in data_record.rows.items())))
    return data_record


def _in_shards(count: int) -> str:
    return "" if count == 1 else f" ({count} shards)"


def _version_of(shards: dict[str, list[ShardInfo]]) -> str:
    """The one data version every shard key names; ValueError on keys ``shard_key`` did not
    make (a caller's bug, not the user's)."""
    missing = [split for split in SPLITS if not shards.get(split)]
    if missing:
        raise ValueError(f"publish_shards: no shards for {', '.join(missing)}")
    versions = set()
    for split in SPLITS:
        for index, shard in enumerate(shards[split]):
            version = shard.key.split("/")[1] if shard.key.count("/") == 3 else ""
            if not version or shard.key != shard_key(version, split, index):
                raise ValueError(f"publish_shards: {shard.key} is not "
                                 f"{shard_key('<version>', split, index)}")
            versions.add(version)
    if len(versions) != 1:
        raise ValueError(f"publish_shards: shards of several versions {sorted(versions)}")
    return versions.pop()


def _publish(store: Store, prepared: PreparedData, record: Any, config: Config,
             events: EventSink) -> DataRecord:
    """Write a new data version beside the recorded one, then switch the manifest to it: a
    failure at any step leaves the recorded data and the candidates trained on it intact."""
    floors = min_shards(config)
    with tempfile.TemporaryDirectory(prefix="smlp-data-") as tmp:
        written = {split: write_split_shards(prepared.splits[split], Path(tmp) / split,
                                             floors[split], shard_bytes(config))
                   for split in SPLITS}
        return _upload_and_publish(store, prepared.schema, written, record, events)


def _upload_and_publish(store: Store, schema: Any, written: dict[str, list[Any]], record: Any,
                        events: EventSink) -> DataRecord:
    """Upload shards written locally (``smlp.data.shards.WrittenShard``) under their content
    version, then ``publish_shards``."""
    from smlp.fileio import sha256_bytes
    from smlp.manifest import split_sha256

    schema_bytes = schema.to_json().encode()
    hashes = {split: split_sha256([shard.sha256 for shard in written[split]])
              for split in SPLITS}
    version = sha256_bytes("\n".join(
        [f"{split} {hashes[split]}" for split in SPLITS] + [sha256_bytes(schema_bytes)]
    ).encode())[:VERSION_CHARS]
    shards = {split: [ShardInfo(shard_key(version, split, i), shard.sha256, shard.size,
                                shard.rows) for i, shard in enumerate(written[split])]
              for split in SPLITS}
    uploads = [(shard.path, info.key, info.sha256) for split in SPLITS
               for shard, info in zip(written[split], shards[split], strict=True)]
    _upload_all(store, uploads)
    return publish_shards(store, schema, shards, record, events,
                          present={key for _, key, _ in uploads})


def _upload_all(store: Store, uploads: list[tuple[Path, str, str]]) -> None:
    """Every shard into the store; to S3 several at a time (network-bound)."""
    if len(uploads) < 2 or store.local_path(uploads[0][1]) is not None:
        for path, key, sha256 in uploads:
            store.upload(path, key, sha256)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(uploads))) as pool:
        for future in [pool.submit(store.upload, *upload) for upload in uploads]:
            future.result()
