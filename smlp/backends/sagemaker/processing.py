"""``smlp data prepare --backend sagemaker``: two SageMaker Processing jobs run
``processing_scripts/prepare.py`` in the scikit-learn container (its docstring says why two).

The fit job (one instance, the input FullyReplicated) writes ``schema.json`` and the shard plan
under ``processing/<job>/fit/``; the apply job (``backend.processing.instance_count``
instances, the input ShardedByS3Key) writes the shards straight into the new data version,
``data/<version>/<split>/part-NNNNN.csv``, and what each instance wrote under
``processing/<job>/summary/``. The stage then records the version (``publish_shards``).

Request shapes: API reference, CreateProcessingJob (ProcessingInputs/S3Input: S3Uri,
LocalPath, S3DataType, S3InputMode, S3DataDistributionType; ProcessingOutputConfig/S3Output:
S3Uri, LocalPath, S3UploadMode; ProcessingResources/ClusterConfig; AppSpecification:
ImageUri, ContainerEntrypoint, ContainerArguments), checked against botocore's service model
before anything is sent. Container paths: SageMaker Developer Guide,
build-your-own-processing-container.md (every LocalPath under ``/opt/ml/processing/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from smlp.backends.sagemaker.common import Backend, failure_reason
from smlp.backends.sagemaker.requests import tags
from smlp.errors import ConfigError, IntegrityError, MissingDependencyError, SmlpError
from smlp.events import Event, EventSink

SCRIPT = "prepare.py"
CONTAINER = "/opt/ml/processing"
CODE_PATH = f"{CONTAINER}/input/code"
SPLITS = ("train", "validation", "test")
STOP_CALL = "StopProcessingJob"


@dataclass(frozen=True)
class PrepareJobSpec:
    """One ``data prepare`` on SageMaker: what to read, how to split, where shards go."""

    name: str  # the apply job; the fit job is ``<name>-fit``
    input_uri: str  # an S3 object or a prefix of CSV objects
    target: str
    id_column: str | None
    seed: int
    splits: tuple[float, float, float]
    standardize: bool
    problem_type: str
    shard_mb: float
    version: str  # data/<version>/ in the store receives the shards
    settings: Any  # backend.processing (smlp.config.processing.ProcessingConfig)

    @property
    def fit_name(self) -> str:
        return f"{self.name[:59]}-fit"


@dataclass
class PrepareResult:
    status: str
    jobs: list[str]
    schema: bytes | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    shards: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failure_reason: str | None = None


def script_bytes() -> bytes:
    """processing_scripts/prepare.py as shipped with smlp (pyproject: wheel packages)."""
    return resources.files("processing_scripts").joinpath(SCRIPT).read_bytes()


def script_key() -> str:
    """Content-addressed, like training_scripts' sourcedir: unchanged code is uploaded once."""
    from smlp.fileio import sha256_bytes

    return f"code/processing-{sha256_bytes(script_bytes())[:16]}/{SCRIPT}"


def image_uri(region: str, version: str, instance_type: str) -> str:
    """The scikit-learn container, as the SageMaker SDK's SKLearnProcessor looks it up
    (``image_uris.retrieve("sklearn", region, version, instance_type=...)``)."""
    try:
        from sagemaker.core import image_uris
    except ImportError:
        raise MissingDependencyError("the sagemaker backend", "aws") from None
    try:
        return image_uris.retrieve("sklearn", region, version=version,
                                   instance_type=instance_type)
    except ValueError as exc:
        reason = str(exc).split(". You may need")[0]
        raise ConfigError(f"backend.processing.container_version {version!r}: no sklearn "
                          f"image for it in {region} ({reason})") from None


def s3_input(name: str, uri: str, local: str, distribution: str) -> dict[str, Any]:
    return {"InputName": name, "S3Input": {
        "S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": distribution}}


def s3_output(name: str, uri: str) -> dict[str, Any]:
    return {"OutputName": name, "S3Output": {
        "S3Uri": uri, "LocalPath": f"{CONTAINER}/output/{name}", "S3UploadMode": "EndOfJob"}}


def job_request(name: str, image: str, arguments: list[str], inputs: list[dict[str, Any]],
                outputs: list[dict[str, Any]], instance_count: int, spec: PrepareJobSpec,
                job_settings: Any) -> dict[str, Any]:
    cluster: dict[str, Any] = {"InstanceCount": instance_count,
                               "InstanceType": spec.settings.instance_type,
                               "VolumeSizeInGB": spec.settings.volume_size_gb}
    if job_settings.volume_kms_key_id:
        cluster["VolumeKmsKeyId"] = job_settings.volume_kms_key_id
    output_config: dict[str, Any] = {"Outputs": outputs}
    if job_settings.output_kms_key_id:
        output_config["KmsKeyId"] = job_settings.output_kms_key_id
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": output_config,
        "ProcessingResources": {"ClusterConfig": cluster},
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.settings.max_runtime_seconds},
        "AppSpecification": {"ImageUri": image,
                             "ContainerEntrypoint": ["python3", f"{CODE_PATH}/{SCRIPT}"],
                             "ContainerArguments": arguments},
        "Environment": {"PYTHONUNBUFFERED": "1"},
        "RoleArn": job_settings.role_arn,
        "Tags": tags(job_settings),
    }
    if job_settings.subnets:
        request["NetworkConfig"] = {"VpcConfig": {
            "Subnets": list(job_settings.subnets),
            "SecurityGroupIds": list(job_settings.security_group_ids)}}
    return request


def requests(spec: PrepareJobSpec, image: str, code_uri: str, work_uri: str,
             store: Any, job_settings: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fit and apply CreateProcessingJob requests (pure: nothing is looked up)."""
    fit_args = ["fit", "--target", spec.target, "--seed", str(spec.seed),
                "--splits", ",".join(f"{f:g}" for f in spec.splits),
                "--standardize", "true" if spec.standardize else "false",
                "--problem-type", spec.problem_type, "--shard-mb", f"{spec.shard_mb:g}"]
    if spec.id_column:
        fit_args += ["--id-column", spec.id_column]
    code = s3_input("code", code_uri, CODE_PATH, "FullyReplicated")
    fit = job_request(
        spec.fit_name, image, fit_args,
        [code, s3_input("data", spec.input_uri, f"{CONTAINER}/input/data", "FullyReplicated")],
        [s3_output("schema", f"{work_uri}/fit")], 1, spec, job_settings)
    apply = job_request(
        spec.name, image, ["apply"],
        [code, s3_input("data", spec.input_uri, f"{CONTAINER}/input/data", "ShardedByS3Key"),
         s3_input("schema", f"{work_uri}/fit/", f"{CONTAINER}/input/schema",
                  "FullyReplicated")],
        [*(s3_output(split, store.uri(f"data/{spec.version}/{split}")) for split in SPLITS),
         s3_output("summary", f"{work_uri}/summary")],
        spec.settings.instance_count, spec, job_settings)
    return fit, apply


def input_objects(backend: Backend, uri: str) -> tuple[str, list[str]]:
    """The input as SageMaker's S3Prefix will match it, and the object keys it matches: one
    object (alone: a prefix matching more is refused), or the folder ``uri`` names (a
    trailing ``/`` added so ``raw/a`` does not also match ``raw/ab.csv``)."""
    from smlp.backends.sagemaker.session import aws_errors
    from smlp.backends.sagemaker.transform_io import split_s3

    bucket, key = split_s3(uri)
    s3 = backend.session.client("s3")
    with aws_errors("ListObjectsV2"):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    if key in keys and len(keys) > 1:  # S3Prefix would take the others too
        others = ", ".join(k for k in keys if k != key)
        raise ConfigError(f"--input {uri}: as a SageMaker S3Prefix it also matches {others}; "
                          "move the object into a folder of its own and give the folder")
    if key in keys or not key:
        return (uri, [key]) if key in keys else (uri, keys)
    folder = key.rstrip("/") + "/"
    return f"s3://{bucket}/{folder}", [k for k in keys if k.startswith(folder)
                                      and not k.endswith("/")]


def run(backend: Backend, spec: PrepareJobSpec, events: EventSink) -> PrepareResult:
    """Both jobs, one after the other; the shards listed by the apply job's instances."""
    job_settings = backend.prepare()
    store = backend.store
    image = image_uri(backend.region, spec.settings.container_version,
                      spec.settings.instance_type)
    work_uri = store.uri(f"processing/{spec.name}")
    code = script_bytes()
    code_uri = store.uri(script_key())
    spec = replace(spec, input_uri=_check_input(backend, spec, events))
    fit, apply = requests(spec, image, code_uri, work_uri, store, job_settings)
    backend.validate(("CreateProcessingJob", fit), ("CreateProcessingJob", apply))
    if backend.plan is not None and backend.plan.estimator is not None:
        backend.plan.estimator.processing_minutes = spec.settings.estimate_minutes
    if not store.exists(script_key()):
        backend.connect()
        store.write_bytes(script_key(), code)
    jobs = [spec.fit_name, spec.name]
    for request in (fit, apply):
        name = request["ProcessingJobName"]
        backend.send("CreateProcessingJob", request)
        if backend.dry_run:
            events(Event("info", f"dry run: CreateProcessingJob {name} not sent"))
            continue
        described = backend.wait_for(
            "processing", name,
            lambda name=name: backend.call("DescribeProcessingJob", ProcessingJobName=name),
            events)
        status = described["ProcessingJobStatus"]
        if status != "Completed":
            reason = failure_reason(described, status, STOP_CALL)
            message = (described.get("ExitMessage") or "").strip()
            if message and message not in reason:
                reason = f"{reason}: {message}"
            return PrepareResult(status, jobs, failure_reason=f"{name}: {reason}")
    if backend.dry_run:
        return PrepareResult("Completed", jobs)
    return _collect(backend, spec, work_uri, jobs)


def _check_input(backend: Backend, spec: PrepareJobSpec, events: EventSink) -> str:
    """The input as the jobs will name it (see ``input_objects``), holding objects.

    ShardedByS3Key hands each instance whole objects: fewer objects than instances leaves
    some idle (and billed). In a dry run an input that cannot be listed is taken as given."""
    count = spec.settings.instance_count
    _check_role_reach(backend, spec.input_uri, events)
    try:
        uri, keys = input_objects(backend, spec.input_uri)
    except SmlpError as exc:  # in a dry run, also missing credentials
        if not backend.dry_run:
            raise
        backend.plan.note(f"{spec.input_uri}: not listed ({exc}); the dry run assumes it "
                          "holds CSV or Parquet objects")
        backend.plan.note(f"{spec.name}: {count} instance(s), data ShardedByS3Key over the "
                          f"objects of {spec.input_uri}")
        return spec.input_uri
    if not keys:
        raise ConfigError(f"--input {spec.input_uri}: no objects there; expected a CSV or "
                          "Parquet object, or a folder of them (CSVs with their header)")
    text = (f"{spec.name}: {count} instance(s), data ShardedByS3Key over {len(keys)} "
            f"object(s) of {uri}")
    if len(keys) < count:
        text += (f"; {count - len(keys)} instance(s) would get no object and sit idle: split "
                 "the input into at least as many objects as instances")
        events(Event("info", f"warning: {text}"))
    if backend.plan is not None:
        backend.plan.note(text)
    return uri


def _check_role_reach(backend: Backend, uri: str, events: EventSink) -> None:
    """The execution role ``smlp infra`` creates reads S3 only under the store's prefix
    (smlp/infra/policies.py, data_access): input elsewhere needs the role granted more."""
    root = str(backend.store.root).rstrip("/") + "/"
    if uri.startswith(root):
        return
    text = (f"{uri} is outside the store ({root}): the execution role that `smlp infra` "
            "creates may read only under the store; grant it s3:GetObject and s3:ListBucket "
            "there, or copy the input under the store")
    events(Event("info", f"note: {text}"))
    if backend.plan is not None:
        backend.plan.note(text)


def _collect(backend: Backend, spec: PrepareJobSpec, work_uri: str,
             jobs: list[str]) -> PrepareResult:
    """The fit job's schema and plan, and every shard the apply job's instances listed,
    checked against the plan: each split's shards numbered 0..n-1 with the planned rows."""
    store = backend.store
    fit_key = store.key(f"{work_uri}/fit")
    schema = store.read_bytes(f"{fit_key}/schema.json")
    plan = json.loads(store.read_bytes(f"{fit_key}/plan.json"))
    shards: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
    for key in store.list(store.key(f"{work_uri}/summary")):
        for shard in json.loads(store.read_bytes(key))["shards"]:
            shards[shard["split"]].append(shard)
    for split in SPLITS:
        shards[split].sort(key=lambda shard: shard["index"])
        numbers = [shard["index"] for shard in shards[split]]
        rows = sum(shard["rows"] for shard in shards[split])
        if numbers != list(range(plan["shards"][split])) or rows != plan["rows"][split]:
            raise IntegrityError(
                f"{spec.name}: the {split} shards listed under {work_uri}/summary ({len(numbers)} "
                f"shards, {rows:,} rows) are not the {plan['shards'][split]} shards and "
                f"{plan['rows'][split]:,} rows the fit job planned")
    return PrepareResult("Completed", jobs, schema=schema, plan=plan, shards=shards)
