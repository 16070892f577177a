"""``smlp data generate|prepare``: raw table -> SageMaker-format splits + schema in the store."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from smlp.config import Config
from smlp.data.prepare import SPLITS, PreparedData, prepare_table, read_table, write_split
from smlp.events import Event, EventSink, ignore
from smlp.manifest import (
    DataRecord,
    artifact_for_bytes,
    artifact_for_file,
    record_stage,
    update_manifest,
)
from smlp.store import Store

SCHEMA_KEY = "data/schema.json"


def split_key(split: str) -> str:
    """Each split in its own folder, because a SageMaker channel is a prefix."""
    return f"data/{split}/{split}.csv"


def generate(config: Config, store: Store, events: EventSink = ignore) -> DataRecord:
    """Synthesize the California-housing-style set and prepare it like any user file."""
    from smlp.data.synthetic import TARGET
    from smlp.data.synthetic import generate as synthesize

    data = config.data
    parameters = {"rows": data.rows, "seed": data.seed, "splits": data.splits.model_dump(),
                  "standardize": data.standardize}
    with record_stage(store, "data", "smlp data generate", parameters) as record:
        table = synthesize(data.rows, data.seed)
        events(Event("info", f"generated {data.rows:,} rows (seed {data.seed})"))
        prepared = prepare_table(table, TARGET, None, data.splits, data.seed, data.standardize,
                                 source="synthetic data")
        return _publish(store, prepared, record, events)


def prepare(config: Config, store: Store, input_path: Path, target: str,
            id_column: str | None = None, events: EventSink = ignore) -> DataRecord:
    """Read the user's CSV/Parquet, split, fit the schema on train, write everything."""
    data = config.data
    parameters = {"input": str(input_path), "target": target, "id_column": id_column,
                  "seed": data.seed, "splits": data.splits.model_dump(),
                  "standardize": data.standardize}
    command = f"smlp data prepare --input {input_path} --target {target}"
    with record_stage(store, "data", command, parameters) as record:
        table = read_table(input_path)
        record.inputs["source"] = _source_artifact(input_path)
        prepared = prepare_table(table, target, id_column, data.splits, data.seed,
                                 data.standardize, source=str(input_path))
        if prepared.dropped_rows:
            events(Event("info", f"dropped {prepared.dropped_rows:,} rows with no {target}"))
        return _publish(store, prepared, record, events)


def _source_artifact(path: Path) -> Any:
    from smlp.fileio import sha256_file
    from smlp.manifest import Artifact

    return Artifact(uri=str(path.resolve()), sha256=sha256_file(path), size=path.stat().st_size)


def _publish(store: Store, prepared: PreparedData, record: Any,
             events: EventSink) -> DataRecord:
    """Write all files locally first, then upload: a failure leaves the old data intact."""
    schema_bytes = prepared.schema.model_dump_json(indent=2).encode()
    splits = {}
    with tempfile.TemporaryDirectory(prefix="smlp-data-") as tmp:
        for split in SPLITS:
            path = Path(tmp) / f"{split}.csv"
            write_split(prepared.splits[split], path)
            splits[split] = artifact_for_file(store, split_key(split), path)
        for split in SPLITS:
            store.upload(Path(tmp) / f"{split}.csv", split_key(split), splits[split].sha256)
    store.write_bytes(SCHEMA_KEY, schema_bytes)
    data_record = DataRecord(
        splits=splits,
        schema=artifact_for_bytes(store, SCHEMA_KEY, schema_bytes),
        features=prepared.schema.encoded_names,
        rows={split: int(prepared.splits[split].shape[0]) for split in SPLITS},
    )
    record.outputs.update(splits)
    record.outputs["schema"] = data_record.schema_

    def change(manifest: Any) -> None:
        manifest.data = data_record

    update_manifest(store, change)
    events(Event("info", "wrote " + ", ".join(
        f"{split} {rows:,} rows" for split, rows in data_record.rows.items())))
    return data_record
