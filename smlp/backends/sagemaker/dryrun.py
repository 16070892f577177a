"""``--dry-run``: every request checked against botocore's SageMaker model, collected, not sent.

The stages run unchanged over a :class:`DryRunStore`, which reads through to the real store
when it can (credentials are optional) and keeps every write in memory, and over the backend
in dry-run mode, which records each request and answers as if the job had completed. Upstream
stages the store has no record of are rehearsed the same way, so ``smlp train --dry-run``
works in a fresh project (the stages do that: ``smlp.stages.rehearse``); the notes say what
was assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from smlp.errors import ConfigError, StoreError
from smlp.store import Store

COMMON_INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.m5.2xlarge", "ml.c5.xlarge",
                         "ml.c5.2xlarge", "ml.g4dn.xlarge")
INSTANCE_TYPE_SHAPES = {"TrainingInstanceType": "training jobs",
                        "TransformInstanceType": "batch transform jobs"}


# -- validation against the service model -------------------------------------------------------
@lru_cache(maxsize=4)
def service_model(service: str = "sagemaker") -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def validate_request(operation: str, params: dict[str, Any], service: str = "sagemaker") -> None:
    """Raise ConfigError listing every way ``params`` does not fit ``operation``'s input shape.

    botocore's own validator checks required members, types and minimums; the service model
    also declares enums (instance types among them), maximum lengths and patterns, which the
    service checks only after a request is sent. Both are checked here, before any call.
    """
    from botocore.validate import ParamValidator

    shape = service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    problems = report.generate_report().splitlines() if report.has_errors() else []
    problems += _constraints(params, shape, "")
    if len(problems) == 1:
        raise ConfigError(f"{operation}: {problems[0]}")
    if problems:
        raise ConfigError(f"{operation}: the request does not fit SageMaker's API:\n  "
                          + "\n  ".join(problems))


def _constraints(value: Any, shape: Any, path: str) -> list[str]:
    problems: list[str] = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                problems += _constraints(value[name], member, f"{path}.{name}".lstrip("."))
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            problems += _constraints(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            problems += _constraints(key, shape.key, f"{path} key {key!r}")
            problems += _constraints(item, shape.value, f"{path}[{key!r}]")
    elif shape.type_name == "string" and isinstance(value, str):
        problems += _string_problems(value, shape, path)
    return problems


def _string_problems(value: str, shape: Any, path: str) -> list[str]:
    enum = getattr(shape, "enum", None) or []
    if enum and value not in enum:
        what = INSTANCE_TYPE_SHAPES.get(shape.name)
        if what:
            family = value.rsplit(".", 1)[0] + "."
            near = [v for v in enum if v.startswith(family)][:8] or [
                v for v in COMMON_INSTANCE_TYPES if v in enum]
            return [f"{path}: SageMaker does not offer {value} for {what}; e.g. "
                    + ", ".join(near)]
        return [f"{path}: {value!r} is not one of {', '.join(enum)}"]
    meta = shape.metadata
    if "max" in meta and len(value) > meta["max"]:
        return [f"{path}: {len(value)} characters, at most {meta['max']} allowed ({value!r})"]
    pattern = meta.get("pattern")
    if pattern:
        try:
            matched = re.fullmatch(pattern, value, flags=re.DOTALL)
        except re.error:  # a Java-only construct: leave it to the service
            return []
        if matched is None:
            return [f"{path}: {value!r} does not match {pattern}"]
    return []


# -- the plan -----------------------------------------------------------------------------------
@dataclass
class PlannedRequest:
    operation: str
    params: dict[str, Any]
    service: str = "sagemaker"


@dataclass
class DryRunPlan:
    """What a dry run would have sent, in order, plus what it assumed."""

    region: str
    requests: list[PlannedRequest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    estimator: Any = None

    def add(self, operation: str, params: dict[str, Any]) -> None:
        validate_request(operation, params)
        self.requests.append(PlannedRequest(operation, params))
        if self.estimator is not None:
            self.estimator.add(operation, params)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def reset(self) -> None:
        self.requests.clear()
        if self.estimator is not None:
            self.estimator.estimate.lines.clear()

    def to_json(self, writes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "dry_run": True,
            "region": self.region,
            "validated_against": "botocore service model sagemaker "
                                 + service_model().api_version,
            "requests": [{"service": r.service, "operation": r.operation, "params": r.params}
                         for r in self.requests],
        }
        if writes is not None:
            body["s3_writes"] = writes
        if self.estimator is not None:
            body["estimated_cost"] = self.estimator.estimate.to_json()
        body["notes"] = self.notes
        return body


# -- a store that never writes --------------------------------------------------------------
class DryRunStore:
    """Reads through to ``base`` (when it can be read at all); writes stay in memory."""

    def __init__(self, base: Store) -> None:
        self.base = base
        self.root = base.root
        self.files: dict[str, bytes] = {}
        self.writes: list[dict[str, Any]] = []
        self.unreadable: str | None = None

    def __getattr__(self, name: str) -> Any:  # bucket, prefix, client of an S3Store
        return getattr(self.base, name)

    def uri(self, key: str) -> str:
        return self.base.uri(key)

    def key(self, uri: str) -> str:
        return self.base.key(uri)

    def _read(self, call: Any, default: Any) -> Any:
        if self.unreadable is not None:
            return default
        try:
            return call()
        except StoreError as exc:
            if "not found" in str(exc):
                return default
            self.unreadable = str(exc)
            return default

    def exists(self, key: str) -> bool:
        return key in self.files or bool(self._read(lambda: self.base.exists(key), False))

    def read_bytes(self, key: str) -> bytes:
        if key in self.files:
            return self.files[key]
        data = self._read(lambda: self.base.read_bytes(key), None)
        if data is None:
            raise StoreError(f"{self.uri(key)}: not found in the store (dry run)")
        return data

    def write_bytes(self, key: str, data: bytes) -> None:
        self.files[key] = data
        self.writes = [w for w in self.writes if w["uri"] != self.uri(key)]
        self.writes.append({"uri": self.uri(key), "bytes": len(data)})

    def put_placeholder(self, key: str, data: bytes) -> None:
        """What a remote job would write (not smlp): readable, but not listed as a write."""
        self.files[key] = data

    def upload(self, local: Path, key: str, sha256: str | None = None) -> None:
        self.write_bytes(key, Path(local).read_bytes())

    def download(self, key: str, local: Path) -> None:
        if key in self.files:
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(self.files[key])
            return
        self.base.download(key, local)

    def local_path(self, key: str) -> Path | None:
        return None

    def list(self, prefix: str) -> list[str]:
        base = self._read(lambda: self.base.list(prefix), [])
        return sorted(set(base) | {k for k in self.files if k.startswith(prefix)})


# -- the human summary --------------------------------------------------------------------------
def _cluster_line(request: dict[str, Any]) -> str | None:
    """How a multi-instance training job spreads its channels (None for one instance)."""
    params = request.get("params", {})
    definition = params.get("TrainingJobDefinition", params)
    count = definition.get("ResourceConfig", {}).get("InstanceCount", 1)
    if count <= 1:
        return None
    name = params.get("TrainingJobName") or params.get("HyperParameterTuningJobName", "?")
    channels = ", ".join(
        f"{c['ChannelName']} {c['DataSource']['S3DataSource']['S3DataDistributionType']}"
        for c in definition.get("InputDataConfig", []))
    mode = definition.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    return f"  {name}  {count} instances, {mode} mode: {channels}"


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def plan_summary(report: dict[str, Any]) -> list[str]:
    """A dry run's plan for people (the JSON is for programs): each job with its instance
    type, estimated cost and ceiling, the total, and where the rates come from."""
    requests = report.get("requests", [])
    lines = [f"dry run: nothing sent; {len(requests)} request(s) for {report.get('region')} "
             "checked against SageMaker's API"]
    cost = report.get("estimated_cost") or {}
    for job in cost.get("jobs", []):
        trials = f"{job['jobs']} trials × " if job["kind"] == "tuning" else ""
        what = f"{job['kind']}, {trials}{job['instance_count']} × {job['instance_type']}"
        if job.get("cost") is None:
            price = "not estimated: no rate for this instance type in the price table"
        else:
            ceiling = job["max_cost"] if job.get("max_cost") is not None else job["cost"]
            limit = "" if job.get("max_cost") is not None else " (no runtime limit)"
            price = f"estimated {money(job['cost'])}, at most {money(ceiling)}{limit}"
        lines.append(f"  {job['job']}  {what}  {price}")
    if cost:
        ceiling = cost.get("ceiling", cost.get("ceiling_at_max_runtime"))
        short = cost.get("price_table") or f"rates as of {cost.get('price_table_as_of')}"
        hint = "" if cost.get("price_table_verified") else "; `smlp prices update` refreshes them"
        lines.append(f"total: estimated {money(cost.get('total'))}, at most {money(ceiling)} "
                     f"({short}{hint})")
        assumed = [a for a in cost.get("assumptions", []) if "bills" in a]
        lines += [f"  assumed: {text}" for text in assumed[:1]]
    lines += [line for r in requests if (line := _cluster_line(r))]
    writes = report.get("s3_writes") or []
    if writes:
        lines.append(f"would write {len(writes)} S3 object(s), "
                     f"{sum(w.get('bytes', 0) for w in writes):,} bytes")
    lines += [f"note: {text}" for text in report.get("notes", [])]
    return lines
