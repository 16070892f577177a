"""``smlp data prepare --backend sagemaker``: input already on S3, prepared by SageMaker
Processing jobs (smlp.backends.sagemaker.processing), recorded like a local prepare.

The shards are written by the jobs straight into a fresh data version; the manifest switches
to it only after every shard the fit job planned is listed with its sha256 (``publish_shards``),
so a failed or interrupted job leaves the recorded data as it was.
"""

from __future__ import annotations

from typing import Any

from smlp.config import Config
from smlp.events import EventSink, ignore
from smlp.manifest import DataRecord, load_manifest, record_stage
from smlp.store import Store


def prepare_on_sagemaker(config: Config, store: Store, backend: Any, input_uri: str,
                         target: str, id_column: str | None = None,
                         events: EventSink = ignore) -> DataRecord | None:
    """Run the fit and apply jobs, then record their shards as the new data version (None
    in a dry run, which only records the requests)."""
    from smlp.backends.sagemaker.processing import PrepareJobSpec
    from smlp.errors import BackendError, ConfigError
    from smlp.fileio import sha256_bytes
    from smlp.naming import job_name
    from smlp.stages.data import prepare_parameters

    if not input_uri.startswith("s3://"):
        raise ConfigError(f"--input {input_uri}: the sagemaker backend prepares data already "
                          "in S3; give s3://bucket/key (or upload the file first), or use "
                          "--backend local")
    load_manifest(store)  # an unreadable manifest fails here, before any job starts
    data = config.data
    settings = config.backend.processing
    name = job_name("prepare")
    version = sha256_bytes(name.encode())[:12]  # fresh per run: no recorded version has it
    spec = PrepareJobSpec(
        name=name, input_uri=input_uri, target=target, id_column=id_column, seed=data.seed,
        splits=(data.splits.train, data.splits.validation, data.splits.test),
        standardize=data.standardize, problem_type=data.problem_type,
        shard_mb=data.shard_mb, version=version, settings=settings)
    parameters = {**prepare_parameters(config, input_uri, target, id_column),
                  "backend": "sagemaker", "instance_type": settings.instance_type,
                  "instance_count": settings.instance_count}
    command = f"smlp data prepare --input {input_uri} --target {target} --backend sagemaker"
    with record_stage(store, "data", command, parameters) as record:
        result = backend.prepare_data(spec, events)
        record.jobs = list(result.jobs)
        if result.status != "Completed":
            raise BackendError(f"SageMaker Processing: {result.failure_reason}")
        if backend.dry_run:
            return None
        return _publish(store, result, version, record, events)


def _publish(store: Store, result: Any, version: str, record: Any,
             events: EventSink) -> DataRecord:
    from smlp.data.schema import Schema
    from smlp.errors import IntegrityError
    from smlp.stages.data import SPLITS, ShardInfo, publish_shards, say_prepared, shard_key

    try:
        schema = Schema.model_validate_json(result.schema)
    except ValueError as exc:
        raise IntegrityError(f"the fit job's schema.json is not an smlp schema ({exc})") from None
    say_prepared(schema, result.plan.get("dropped_rows") or 0, events)
    shards = {split: [ShardInfo(key=shard_key(version, split, item["index"]),
                                sha256=item["sha256"], size=item["size"], rows=item["rows"])
                      for item in result.shards[split]] for split in SPLITS}
    marked = _attach_sha256(store, [shard for listed in shards.values() for shard in listed])
    return publish_shards(store, schema, shards, record, events, present=marked)


def _attach_sha256(store: Store, shards: list[Any]) -> set[str]:
    """The keys of the shards that now carry the sha256 their job listed, as smlp's own
    uploads do (``S3Store.attach_sha256``: server-side, only where the object is still the
    size listed); verifying the others later reads them. A local store hashes its files
    anyway: nothing to attach."""
    attach = getattr(store, "attach_sha256", None)
    if attach is None or not shards:
        return set()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(shards))) as pool:
        done = list(pool.map(lambda shard: attach(shard.key, shard.sha256, shard.size), shards))
    return {shard.key for shard, ok in zip(shards, done, strict=True) if ok}
