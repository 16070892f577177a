"""Batch Transform on SageMaker: CreateModel, CreateTransformJob, wait, collect the outputs.

Input that is not on S3 yet is uploaded under ``transform-input/<job>/``; output meant for a
local folder is written to ``transform/<job>/`` in the store first and downloaded after (or
left there, with ``backend.download_outputs: false``). The Model is deleted after the job
unless ``backend.keep_models`` is set: it is only a pointer to the image and model.tar.gz.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from smlp.algorithms import get_algorithm
from smlp.backends.base import TransformJobSpec, TransformResult
from smlp.backends.sagemaker import requests as rq
from smlp.backends.sagemaker import transform_io as tio
from smlp.backends.sagemaker.common import (
    Backend,
    check_model,
    failure_reason,
    image_uri,
    model_data_url,
)
from smlp.errors import SmlpError
from smlp.events import Event, EventSink

RAW_FOLDER = "sagemaker-raw"  # SageMaker's own output when smlp finishes the join itself
DRY_RUN_OUTPUT = b"0,0\n1,1\n"


def run(backend: Backend, job: TransformJobSpec, events: EventSink) -> TransformResult:
    spec = get_algorithm(job.algorithm)
    settings = backend.prepare()
    image = image_uri(spec, backend.region, job.container_version)
    started = time.monotonic()
    store = backend.store
    accept = tio.JSON_ONLY.get(spec.name, job.options.accept)
    finish_locally = spec.name in tio.JSON_ONLY or job.schema is not None
    remote_output = job.output_uri.startswith("s3://")
    output_s3 = job.output_uri.rstrip("/") if remote_output else store.uri(
        f"transform/{job.name}")
    with tempfile.TemporaryDirectory(prefix="smlp-transform-") as scratch:
        work = Path(scratch)
        uploads: list[tuple[Path, str]] = []  # done once every request is known to be valid
        model_data = model_data_url(backend, job.model_uri, uploads)
        unseen: dict[str, dict[str | None, int]] = {}  # counted while encoding raw input
        inputs = _stage_input(backend, job, work, uploads, unseen)  # name -> (S3 URI, local)
        input_s3 = _input_prefix(backend, job, inputs)
        _check_spread(backend, job, len(inputs), events)
        mode = "none" if job.schema is not None else "input" if finish_locally else "full"
        io = rq.TransformIO(input_s3=input_s3,
                            output_s3=f"{output_s3}/{RAW_FOLDER}" if finish_locally
                            else output_s3,
                            accept=accept, data_processing=mode)
        sourcedir = backend.sourcedir() if spec.script_mode else None
        model = rq.model_request(job.name, spec, image, model_data, settings, sourcedir)
        request = rq.transform_job_request(job, job.name, io, settings)
        backend.validate(("CreateModel", model), ("CreateTransformJob", request))
        check_model(backend, job.model_uri, job.model_sha256)
        for local, key in uploads:
            backend.connect()
            store.upload(local, key)
        if sourcedir is not None:
            backend.upload_sourcedir()
        backend.send("CreateModel", model)
        interrupted = False
        try:
            backend.send("CreateTransformJob", request)
            if backend.dry_run:
                return _dry_run_result(backend, job, inputs, output_s3, events)
            described = backend.wait_for(
                "transform", job.name,
                lambda: backend.call("DescribeTransformJob", TransformJobName=job.name),
                events)
        except KeyboardInterrupt:
            interrupted = True  # the job may run on: leave its model in place
            raise
        finally:
            if not (backend.dry_run or interrupted or backend.settings.keep_models):
                _delete_model(backend, job.name, events)
        status = described["TransformJobStatus"]
        if status != "Completed":
            return TransformResult(job.name, status, job.output_uri,
                                   seconds=time.monotonic() - started,
                                   failure_reason=failure_reason(described, status,
                                                                 "StopTransformJob"))
        outputs, rows = _collect(backend, job, inputs, output_s3, finish_locally, work, events)
    return TransformResult(job.name, "Completed", job.output_uri, outputs=outputs, rows=rows,
                           seconds=time.monotonic() - started, unseen_categories=unseen)


def _check_spread(backend: Backend, job: TransformJobSpec, files: int,
                  events: EventSink) -> None:
    """Batch Transform gives each instance whole input files: more instances than files
    leaves the rest idle while they are billed."""
    count = job.options.instance_count
    if count <= files:
        return
    text = (f"{job.name}: {files} input file(s) for transform.instance_count {count}: Batch "
            f"Transform hands each instance whole files, so {count - files} would sit idle; "
            "split the input into at least as many files as instances")
    events(Event("info", f"warning: {text}"))
    if backend.plan is not None:
        backend.plan.note(text)



def _stage_input(backend: Backend, job: TransformJobSpec, work: Path,
                 uploads: list[tuple[Path, str]],
                 unseen: dict[str, dict[str | None, int]]) -> dict[str, tuple[str, Path | None]]:
    """Every input file by name, with its S3 URI and (when it came from here) its local path."""
    store = backend.store
    if job.input_uri.startswith("s3://"):
        key = store.key(job.input_uri)
        keys = store.list(key)
        if key in keys:
            keys = [key]
        return {Path(k).name: (store.uri(k), None) for k in keys}
    from smlp.batch.engine import input_files
    from smlp.batch.options import merge_unseen

    staged: dict[str, tuple[str, Path | None]] = {}
    for path in input_files(Path(job.input_uri)):
        upload = path
        if job.schema is not None:  # SageMaker gets the encoded features only
            upload = work / "encoded" / path.name
            merge_unseen(unseen, tio.encode_file(path, upload, job).unseen)
        key = f"transform-input/{job.name}/{path.name}"
        uploads.append((upload, key))
        staged[path.name] = (store.uri(key), path)
    return staged


def _input_prefix(backend: Backend, job: TransformJobSpec,
                  inputs: dict[str, tuple[str, Path | None]]) -> str:
    if not inputs:
        from smlp.errors import DataError

        raise DataError(f"{job.input_uri}: no input files")
    uris = [uri for uri, _ in inputs.values()]
    if len(uris) == 1:
        return uris[0]
    return rq.s3_prefix(uris[0].rsplit("/", 1)[0])


def _collect(backend: Backend, job: TransformJobSpec,
             inputs: dict[str, tuple[str, Path | None]], output_s3: str, finish_locally: bool,
             work: Path, events: EventSink) -> tuple[list[str], int]:
    """``<input>.out`` per input file, where the caller asked for it; and the row count."""
    store = backend.store
    local_output = None if job.output_uri.startswith("s3://") else Path(job.output_uri)
    keep_local = local_output is not None and backend.settings.download_outputs
    outputs: list[str] = []
    rows = 0
    for name, (input_uri, local_input) in sorted(inputs.items()):
        target_uri = f"{output_s3}/{name}.out"
        if finish_locally:
            predictions = work / "raw" / f"{name}.out"
            store.download(store.key(f"{output_s3}/{RAW_FOLDER}/{name}.out"), predictions)
            source = local_input
            if source is None:
                source = work / "input" / name
                store.download(store.key(input_uri), source)
            out_dir = local_output if keep_local else work / "out"
            out_path, count = tio.replay(source, predictions, out_dir, job)
            rows += count
            if keep_local:
                outputs.append(str(out_path))
                continue
            store.upload(out_path, store.key(target_uri))
            outputs.append(target_uri)
            continue
        if keep_local:
            local = local_output / f"{name}.out"
            store.download(store.key(target_uri), local)
            with open(local, "rb") as handle:
                rows += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20),
                                                                 b""))
            outputs.append(str(local))
            continue
        rows += _count_rows(backend, target_uri)
        outputs.append(target_uri)
    if local_output is not None and not keep_local:
        events(Event("info", f"outputs left on S3 under {output_s3} "
                             "(backend.download_outputs is false)"))
    return outputs, rows


def _count_rows(backend: Backend, uri: str) -> int:
    from smlp.backends.sagemaker.session import aws_errors

    bucket, key = tio.split_s3(uri)
    with aws_errors("GetObject"):
        body = backend.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        return tio.count_lines(body)


def _delete_model(backend: Backend, name: str, events: EventSink) -> None:
    try:
        backend.call("DeleteModel", ModelName=name)
    except SmlpError as exc:
        events(Event("info", f"model {name} was not deleted: {exc}"))


def _dry_run_result(backend: Backend, job: TransformJobSpec,
                    inputs: dict[str, tuple[str, Path | None]], output_s3: str,
                    events: EventSink) -> TransformResult:
    """Placeholder outputs in the dry-run store, so a stage that reads them can go on."""
    store = backend.store
    outputs = []
    for name in sorted(inputs):
        uri = f"{output_s3}/{name}.out"
        store.put_placeholder(store.key(uri), DRY_RUN_OUTPUT)
        outputs.append(uri)
    if not job.output_uri.startswith("s3://"):
        backend.plan.note(f"outputs would be downloaded to {job.output_uri}")
    backend.plan.note("transform outputs in a dry run are placeholders; any comparison made "
                      "from them is meaningless")
    events(Event("info", f"dry run: CreateModel + CreateTransformJob {job.name} not sent"))
    return TransformResult(job.name, "Completed", job.output_uri, outputs=outputs)
