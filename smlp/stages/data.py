"""``smlp data generate|prepare``: raw table -> SageMaker-format splits + schema in the store.

Each prepared data set is a version under its own prefix, ``data/<version>/`` (the version is a
short hash of its contents), so writing new data never touches the recorded one: the switch is
the manifest update, the last step. Old versions stay in the store until cleaned.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smlp.config import Config
from smlp.data.prepare import SPLITS, PreparedData, prepare_table, read_table, write_split
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


def split_key(split: str, version: str) -> str:
    """Each split in its own folder, because a SageMaker channel is a prefix."""
    return f"{DATA_PREFIX}/{version}/{split}/{split}.csv"


def shard_key(version: str, split: str, index: int) -> str:
    """The store key of shard ``index`` (from 0) of ``split`` in data version ``version``:
    ``data/<version>/<split>/part-00000.csv``. A split is the folder of its shards (a SageMaker
    channel's prefix); shards sort by name in row order."""
    return f"{DATA_PREFIX}/{version}/{split}/part-{index:05d}.csv"


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
    """The URI of the folder (a SageMaker channel's prefix) that holds ``split``'s file."""
    return store.uri(store.key(data.splits[split].uri).rsplit("/", 1)[0])


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
        _say_problem(prepared, events)
        return _publish(store, prepared, record, events)


def prepare(config: Config, store: Store, input_path: Path, target: str,
            id_column: str | None = None, events: EventSink = ignore) -> DataRecord:
    """Read the user's CSV/Parquet, split, fit the schema on train, write everything."""
    load_manifest(store)  # an unreadable manifest fails here, before anything is written
    data = config.data
    parameters = {"input": str(input_path), "target": target, "id_column": id_column,
                  "seed": data.seed, "splits": data.splits.model_dump(),
                  "standardize": data.standardize, "problem_type": data.problem_type}
    command = f"smlp data prepare --input {input_path} --target {target}"
    with record_stage(store, "data", command, parameters) as record:
        from smlp.data import stream

        if input_path.is_file() and stream.is_large(input_path):
            record.inputs["source"] = _source_artifact(input_path)
            return _prepare_streaming(config, store, input_path, target, id_column, record,
                                      events)
        table = read_table(input_path)
        record.inputs["source"] = _source_artifact(input_path)
        prepared = prepare_table(table, target, id_column, data.splits, data.seed,
                                 data.standardize, source=str(input_path),
                                 problem_type=data.problem_type)
        if prepared.dropped_rows:
            events(Event("info", f"dropped {prepared.dropped_rows:,} rows with no {target}"))
        _say_problem(prepared, events)
        return _publish(store, prepared, record, events)


def _prepare_streaming(config: Config, store: Store, input_path: Path, target: str,
                       id_column: str | None, record: Any, events: EventSink) -> DataRecord:
    """A CSV too large to hold whole: prepared in blocks (smlp.data.stream), same splits."""
    from smlp.data.stream import prepare_csv

    data = config.data
    with tempfile.TemporaryDirectory(prefix="smlp-data-") as tmp:
        streamed = prepare_csv(input_path, target, id_column, data.splits, data.seed,
                               data.standardize, data.problem_type, Path(tmp))
        if streamed.dropped_rows:
            events(Event("info", f"dropped {streamed.dropped_rows:,} rows with no {target}"))
        if streamed.schema.fill_method != "median":
            events(Event("info", f"fill values: {streamed.schema.fill_method}"))
        _say_problem(streamed, events)
        return _publish_files(store, streamed.schema, streamed.paths, streamed.rows, record,
                              events, streamed.sha256)


def _say_problem(prepared: Any, events: EventSink) -> None:
    schema = prepared.schema
    if schema.problem_type == "regression":
        events(Event("info", f"problem type: regression (target {schema.target!r} is numeric)"))
        return
    shown = ", ".join(schema.classes[:10]) + (", ..." if len(schema.classes) > 10 else "")
    events(Event("info", f"problem type: {schema.problem_type} (target {schema.target!r}, "
                         f"{len(schema.classes)} classes: {shown})"))


def _source_artifact(path: Path) -> Any:
    from smlp.fileio import sha256_file
    from smlp.manifest import Artifact

    return Artifact(uri=str(path.resolve()), sha256=sha256_file(path), size=path.stat().st_size)


def publish_shards(store: Store, schema: Any, shards: dict[str, list[ShardInfo]],
                   record: Any, events: EventSink = ignore) -> DataRecord:
    """Record shards already written to the store as a new data version and switch the
    manifest to it (the last step: on any failure before it the recorded data stays).

    ``schema``: the fitted ``smlp.data.schema.Schema``, written here to
    ``data/<version>/schema.json``. ``shards``: for each of train, validation and test, its
    shards in row order, every key ``shard_key(version, split, i)`` for one ``version``
    (i = 0, 1, ...). ``record``: the ``StageRecord`` of the running ``data`` stage
    (``record_stage``), whose outputs get the splits and the schema. For a SageMaker
    Processing job: write the shards under ``data/<version>/`` (any fresh version name,
    e.g. the job's), then call this.
    """
    raise NotImplementedError("publish_shards lands with the sharded manifest (issue 14)")


def _publish(store: Store, prepared: PreparedData, record: Any,
             events: EventSink) -> DataRecord:
    """Write a new data version beside the recorded one, then switch the manifest to it: a
    failure at any step leaves the recorded data and the candidates trained on it intact."""
    with tempfile.TemporaryDirectory(prefix="smlp-data-") as tmp:
        paths = {split: Path(tmp) / f"{split}.csv" for split in SPLITS}
        for split in SPLITS:
            write_split(prepared.splits[split], paths[split])
        rows = {split: int(prepared.splits[split].shape[0]) for split in SPLITS}
        return _publish_files(store, prepared.schema, paths, rows, record, events)


def _publish_files(store: Store, schema: Any, paths: dict[str, Path], rows: dict[str, int],
                   record: Any, events: EventSink,
                   hashes: dict[str, str] | None = None) -> DataRecord:
    """Upload split files written locally as a new version, then switch the manifest
    (``hashes``: the files' sha256 when the writer computed them on the way)."""
    from smlp.fileio import sha256_bytes, sha256_file
    from smlp.manifest import Artifact

    schema_bytes = schema.to_json().encode()
    hashes = hashes or {split: sha256_file(paths[split]) for split in SPLITS}
    version = sha256_bytes("\n".join(
        [f"{split} {hashes[split]}" for split in SPLITS] + [sha256_bytes(schema_bytes)]
    ).encode())[:VERSION_CHARS]
    splits = {split: Artifact(uri=store.uri(split_key(split, version)), sha256=hashes[split],
                              size=paths[split].stat().st_size) for split in SPLITS}
    for split in SPLITS:
        store.upload(paths[split], split_key(split, version), hashes[split])
    store.write_bytes(schema_key(version), schema_bytes)
    data_record = DataRecord(
        splits=splits,
        schema=artifact_for_bytes(store, schema_key(version), schema_bytes),
        features=schema.encoded_names,
        rows=rows,
    )
    record.outputs.update(splits)
    record.outputs["schema"] = data_record.schema_

    def change(manifest: Any) -> None:
        manifest.data = data_record

    update_manifest(store, change)
    events(Event("info", "wrote " + ", ".join(
        f"{split} {rows:,} rows" for split, rows in data_record.rows.items())))
    return data_record
