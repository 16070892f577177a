"""Real-time endpoints on SageMaker: CreateModel per variant, CreateEndpointConfig,
CreateEndpoint, waiting for InService; describe, list, re-weight, delete, invoke.

Requests as the SageMaker API reference defines them (CreateEndpointConfig:
``ProductionVariants[]`` with ``VariantName``, ``ModelName``, ``InitialInstanceCount``,
``InstanceType``, ``InitialVariantWeight``; ``DataCaptureConfig`` with ``EnableCapture``,
``InitialSamplingPercentage``, ``DestinationS3Uri``, ``KmsKeyId``, ``CaptureOptions``,
``CaptureContentTypeHeader``). Endpoint statuses: Creating, InService, Updating,
SystemUpdating, RollingBack, Deleting, Failed, OutOfService (DescribeEndpoint).

The models smlp creates are named ``<endpoint>-<variant>``; delete removes the endpoint, its
config and those models only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from smlp.algorithms import get_algorithm
from smlp.backends.base import EndpointInfo, EndpointSpec
from smlp.backends.sagemaker import requests as rq
from smlp.backends.sagemaker.common import (
    Backend,
    JobSettings,
    check_model,
    image_uri,
    model_data_url,
)
from smlp.backends.sagemaker.session import aws_errors
from smlp.backends.sagemaker.waiter import Backoff
from smlp.events import Event, EventSink, ignore
from smlp.serving.payload import CONTENT_TYPES

SETTLED = {"InService", "Failed", "OutOfService"}
RECORDS = "endpoints"  # store prefix: one record per endpoint smlp deployed
CSV_TYPES = ["text/csv"]
JSON_TYPES = ["application/json", "application/jsonlines"]


def model_name(endpoint: str, variant: str) -> str:
    return f"{endpoint}-{variant}"[:63].rstrip("-")


def endpoint_requests(backend: Backend, spec: EndpointSpec, settings: JobSettings,
                      model_data: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Every request a deploy sends, in order (pure apart from the sourcedir URI)."""
    requests: list[tuple[str, dict[str, Any]]] = []
    variants = []
    for variant in spec.variants:
        algo = get_algorithm(variant.algorithm)
        image = image_uri(algo, settings.region, variant.container_version)
        sourcedir = backend.sourcedir() if algo.script_mode else None
        name = model_name(spec.name, variant.name)
        requests.append(("CreateModel", rq.model_request(
            name, algo, image, model_data[variant.name], settings, sourcedir)))
        variants.append({"VariantName": variant.name, "ModelName": name,
                         "InitialInstanceCount": variant.instance_count,
                         "InstanceType": variant.instance_type,
                         "InitialVariantWeight": float(variant.weight)})
    config: dict[str, Any] = {"EndpointConfigName": spec.name, "ProductionVariants": variants,
                              "Tags": rq.tags(settings)}
    if settings.volume_kms_key_id:
        config["KmsKeyId"] = settings.volume_kms_key_id
    if spec.capture_percentage > 0:
        modes = {"Input": ["Input"], "Output": ["Output"],
                 "InputAndOutput": ["Input", "Output"]}[spec.capture_mode]
        capture: dict[str, Any] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": spec.capture_percentage,
            "DestinationS3Uri": backend.store.uri(spec.capture_prefix.strip("/")),
            "CaptureOptions": [{"CaptureMode": mode} for mode in modes],
            "CaptureContentTypeHeader": {"CsvContentTypes": CSV_TYPES,
                                         "JsonContentTypes": JSON_TYPES},
        }
        if settings.output_kms_key_id:
            capture["KmsKeyId"] = settings.output_kms_key_id
        config["DataCaptureConfig"] = capture
    requests.append(("CreateEndpointConfig", config))
    requests.append(("CreateEndpoint", {"EndpointName": spec.name,
                                        "EndpointConfigName": spec.name,
                                        "Tags": rq.tags(settings)}))
    return requests


def deploy(backend: Backend, spec: EndpointSpec, events: EventSink = ignore) -> EndpointInfo:
    settings = backend.prepare()
    uploads: list[tuple[Path, str]] = []
    model_data = {v.name: model_data_url(backend, v.model_uri, uploads) for v in spec.variants}
    requests = endpoint_requests(backend, spec, settings, model_data)
    backend.validate(*requests)  # nothing is created unless every request is valid
    for variant in spec.variants:
        check_model(backend, variant.model_uri, variant.model_sha256)
    for local, key in uploads:
        backend.connect()
        backend.store.upload(local, key)
    if any(get_algorithm(v.algorithm).script_mode for v in spec.variants):
        backend.upload_sourcedir()
    for operation, params in requests:
        backend.send(operation, params)
    if backend.dry_run:
        _note_cost(backend, spec)
        return EndpointInfo(spec.name, "DryRun", "sagemaker", variants=[
            {"name": v.name, "model": v.candidate, "weight": v.weight,
             "instance_type": v.instance_type, "instance_count": v.instance_count}
            for v in spec.variants])
    _write_record(backend, spec)
    described = wait_settled(backend, spec.name, events)
    return _info(backend, described)



def _note_cost(backend: Backend, spec: EndpointSpec) -> None:
    """The endpoint bills per instance-hour while it exists: say what an hour costs."""
    from smlp.backends.sagemaker.pricing import hourly_price, region_rates

    hosting = region_rates(backend.region).hosting
    total, parts, unknown, borrowed = 0.0, [], [], []
    for variant in spec.variants:
        if variant.instance_type not in hosting:
            borrowed.append(variant.instance_type)
        price, note = hourly_price(backend.region, variant.instance_type, "hosting")
        if price is None:
            unknown.append(variant.instance_type)
            continue
        total += price * variant.instance_count
        parts.append(f"{variant.name}: {variant.instance_count} x {variant.instance_type} at "
                     f"${price:g}/h")
        if note:
            backend.plan.note(note)
    hours = getattr(getattr(backend, "config", None), "endpoint", None)
    month = hours.estimate_hours if hours is not None else 730.0
    backend.plan.note(
        f"endpoint {spec.name} costs about ${total:.3f} per hour while it exists "
        f"(${total * month:,.2f} per {month:g} h), on-demand: " + "; ".join(parts)
        + ". Real-time hosting rates from the price table (`smlp prices`)"
        + (f"; no hosting rate for {', '.join(sorted(set(borrowed)))}: its training rate "
           "stands in" if borrowed else "")
        + "; not included: data capture storage, data transfer"
        + (f"; not priced: {', '.join(unknown)}" if unknown else ""))
    if backend.plan.estimator is not None:
        backend.plan.estimator.estimate.assumptions.append(
            f"endpoint {spec.name}: ${total:.3f} per hour while it exists")


def wait_settled(backend: Backend, name: str, events: EventSink) -> dict[str, Any]:
    """Poll DescribeEndpoint with the jobs' backoff until it is InService, Failed or
    OutOfService; status changes reach ``events`` as a job's do."""
    settings = backend.settings
    last = None
    for delay in Backoff(settings.poll_seconds, settings.max_poll_seconds):
        described = backend.call("DescribeEndpoint", EndpointName=name)
        status = described["EndpointStatus"]
        if status != last:
            events(Event("job", f"{name}: {status}", {"job": name, "status": status,
                                                       "remote": True}))
            last = status
        if status in SETTLED:
            return described
        getattr(backend, "sleep", time.sleep)(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _info(backend: Backend, described: dict[str, Any]) -> EndpointInfo:
    name = described["EndpointName"]
    config_name = described.get("EndpointConfigName")
    hosts: dict[str, dict[str, Any]] = {}
    if config_name:
        try:
            config = backend.call("DescribeEndpointConfig", EndpointConfigName=config_name)
            hosts = {v["VariantName"]: v for v in config.get("ProductionVariants", [])}
        except Exception:  # a config deleted under the endpoint: describe what is left
            hosts = {}
    variants = []
    for variant in described.get("ProductionVariants", []):
        host = hosts.get(variant["VariantName"], {})
        variants.append({
            "name": variant["VariantName"], "model": host.get("ModelName", ""),
            "weight": variant.get("CurrentWeight", host.get("InitialVariantWeight")),
            "desired_weight": variant.get("DesiredWeight"),
            "instance_type": host.get("InstanceType"),
            "instance_count": variant.get("CurrentInstanceCount",
                                          host.get("InitialInstanceCount"))})
    if not variants:
        variants = [{"name": n, "model": h.get("ModelName", ""),
                     "weight": h.get("InitialVariantWeight"),
                     "instance_type": h.get("InstanceType"),
                     "instance_count": h.get("InitialInstanceCount")} for n, h in hosts.items()]
    return EndpointInfo(name, described["EndpointStatus"], "sagemaker",
                        described.get("EndpointArn"), variants,
                        failure_reason=described.get("FailureReason"),
                        details={"endpoint_config": config_name,
                                 "data_capture": described.get("DataCaptureConfig")})


def describe_endpoint(backend: Backend, name: str) -> EndpointInfo:
    return _info(backend, backend.call("DescribeEndpoint", EndpointName=name))


def _record_key(name: str) -> str:
    return f"{RECORDS}/{name}.json"


def _write_record(backend: Backend, spec: EndpointSpec) -> None:
    """smlp's endpoints are listed from the store, not ListEndpoints (which authorizes only
    ``*``): each deploy leaves ``endpoints/<name>.json``; delete marks it deleted."""
    body = {"name": spec.name, "region": backend.region, "deleted": False,
            "variants": [{"name": v.name, "model": v.candidate, "weight": v.weight}
                         for v in spec.variants]}
    backend.store.write_bytes(_record_key(spec.name), json.dumps(body, indent=1).encode())


def list_endpoints(backend: Backend) -> list[EndpointInfo]:
    """The endpoints smlp deployed from this store (and not deleted), as DescribeEndpoint
    sees them now."""
    from smlp.errors import AwsError

    found = []
    for key in sorted(backend.store.list(f"{RECORDS}/")):
        try:
            record = json.loads(backend.store.read_bytes(key))
        except ValueError:
            continue
        if record.get("deleted") or record.get("region", backend.region) != backend.region:
            continue
        try:
            found.append(describe_endpoint(backend, record["name"]))
        except AwsError as exc:  # removed outside smlp
            found.append(EndpointInfo(record["name"], "NotFound", "sagemaker",
                                      failure_reason=str(exc)))
    return found


def update_weights(backend: Backend, name: str, weights: dict[str, float],
                   events: EventSink = ignore) -> EndpointInfo:
    request = {"EndpointName": name, "DesiredWeightsAndCapacities": [
        {"VariantName": variant, "DesiredWeight": float(weight)}
        for variant, weight in weights.items()]}
    backend.validate(("UpdateEndpointWeightsAndCapacities", request))
    backend.call("UpdateEndpointWeightsAndCapacities", **request)
    return _info(backend, wait_settled(backend, name, events))


def delete_endpoint(backend: Backend, name: str) -> list[str]:
    """The endpoint, its config, and the models named ``<endpoint>-...`` in that config."""
    described = backend.call("DescribeEndpoint", EndpointName=name)
    config_name = described.get("EndpointConfigName", name)
    config = backend.call("DescribeEndpointConfig", EndpointConfigName=config_name)
    models = [v["ModelName"] for v in config.get("ProductionVariants", [])
              if v.get("ModelName", "").startswith(f"{name}-")]
    removed = []
    backend.call("DeleteEndpoint", EndpointName=name)
    if backend.store.exists(_record_key(name)):
        record = json.loads(backend.store.read_bytes(_record_key(name)))
        backend.store.write_bytes(_record_key(name), json.dumps(
            {**record, "deleted": True}, indent=1).encode())
    removed.append(f"endpoint {name}")
    backend.call("DeleteEndpointConfig", EndpointConfigName=config_name)
    removed.append(f"endpoint config {config_name}")
    for model in dict.fromkeys(models):
        backend.call("DeleteModel", ModelName=model)
        removed.append(f"model {model}")
    return removed


def invoker(backend: Backend, name: str) -> Any:
    """InvokeEndpoint through sagemaker-runtime, errors translated once."""
    from smlp.errors import DataError

    runtime = backend.session.client("sagemaker-runtime")

    def send(body: bytes, content_type: str, accept: str, variant: str | None
             ) -> tuple[bytes, str]:
        if content_type not in CONTENT_TYPES:
            raise DataError(f"content type {content_type} is not one smlp endpoints take")
        params: dict[str, Any] = {"EndpointName": name, "Body": body,
                                  "ContentType": content_type, "Accept": accept}
        if variant:
            params["TargetVariant"] = variant
        with aws_errors("InvokeEndpoint"):
            response = runtime.invoke_endpoint(**params)
        data = response["Body"].read()
        return (data if isinstance(data, bytes) else str(data).encode(),
                response.get("InvokedProductionVariant", ""))

    return send
