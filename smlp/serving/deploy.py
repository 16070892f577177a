"""``smlp deploy`` and ``smlp invoke``: the manifest's candidates as endpoint variants, and
rows sent to an endpoint with predictions written as ``smlp transform`` writes them.

Reads the manifest like any stage; the backend does the serving (locally in the
foreground, or on SageMaker).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smlp.backends.base import EndpointInfo, EndpointSpec, VariantSpec
from smlp.errors import ConfigError, IntegrityError
from smlp.events import Event, EventSink, ignore
from smlp.manifest import load_manifest
from smlp.serving.client import Invoker
from smlp.store import Store


def parse_variant_flags(flags: list[str]) -> list[tuple[str, float]]:
    """``--variant NAME=WEIGHT`` (NAME: a candidate or 'best'); a bare NAME weighs 1."""
    parsed = []
    for flag in flags:
        name, sep, weight = flag.partition("=")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ConfigError(f"--variant {flag}: expected NAME=WEIGHT with a number, e.g. "
                              "xgboost=0.9") from None
        if not name.strip() or value < 0:
            raise ConfigError(f"--variant {flag}: expected NAME=WEIGHT with WEIGHT >= 0")
        parsed.append((name.strip(), value))
    return parsed


def endpoint_spec(config: Any, store: Store, backend_name: str, model: str | None = None,
                  variants: list[tuple[str, float]] | None = None, name: str | None = None,
                  port: int | None = None) -> EndpointSpec:
    """The endpoint the config and flags ask for, each variant's model checked against the
    manifest (current data, servable by this backend, stale comparison refused)."""
    from smlp.stages.transform import check_servable, choose_candidate, load_schema

    settings = config.endpoint
    manifest = load_manifest(store)
    data = manifest.require_data()
    if variants:
        wanted = [(m, w, None, None, None) for m, w in variants]
    elif settings.variants and model is None:
        wanted = [(v.model, v.weight, v.name, v.instance_type, v.instance_count)
                  for v in settings.variants]
    else:
        wanted = [(model or config.transform.model, 1.0, None, None, None)]
    specs = []
    for chosen, weight, variant_name, instance_type, instance_count in wanted:
        candidate = choose_candidate(manifest, chosen)
        if candidate.data_sha256 and candidate.data_sha256 != data.splits["train"].sha256:
            raise IntegrityError(f"candidate {candidate.name} was trained on other data than "
                                 "the manifest's current splits; re-run `smlp train`")
        check_servable(candidate, backend_name)
        from smlp.algorithms import get_algorithm

        specs.append(VariantSpec(
            name=variant_name or _variant_name(candidate.name), candidate=candidate.name,
            algorithm=candidate.algo, model_uri=candidate.model.uri,
            model_sha256=candidate.model.sha256 or None,
            container_version=candidate.container_version
            or get_algorithm(candidate.algo).default_container_version,
            weight=weight, instance_type=instance_type or settings.instance_type,
            instance_count=instance_count or settings.instance_count))
    names = [v.name for v in specs]
    for variant in names:
        if names.count(variant) > 1:
            raise ConfigError(f"variant {variant!r} is listed twice; each variant serves a "
                              "different candidate")
    if sum(v.weight for v in specs) <= 0:
        raise ConfigError("--variant: the weights add up to 0; at least one must be above 0")
    capture = settings.data_capture
    return EndpointSpec(
        name=name or settings.name or _variant_name(f"smlp-{specs[0].candidate}"),
        variants=tuple(specs), n_features=len(data.features), schema=load_schema(store, data),
        capture_percentage=capture.sampling_percentage, capture_prefix=capture.prefix,
        capture_mode=capture.mode, host=settings.host,
        port=settings.port if port is None else port, seed=settings.seed)


def _variant_name(text: str) -> str:
    """A SageMaker-valid name: letters, digits, single hyphens, at most 63 characters."""
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9-]", "-", text)).strip("-")
    return cleaned[:63].rstrip("-") or "variant"


def deploy(config: Any, store: Store, backend: Any, model: str | None = None,
           variants: list[tuple[str, float]] | None = None, name: str | None = None,
           port: int | None = None, events: EventSink = ignore) -> EndpointInfo:
    spec = endpoint_spec(config, store, backend.name, model, variants, name, port)
    shown = ", ".join(f"{v.name} ({v.candidate}, weight {v.weight:g})" for v in spec.variants)
    events(Event("info", f"endpoint {spec.name}: {shown}"))
    info = backend.deploy(spec, events)
    if info.status in ("Failed", "OutOfService"):
        from smlp.errors import JobFailedError

        raise JobFailedError(spec.name, info.failure_reason or info.status)
    return info


# -- smlp invoke -------------------------------------------------------------------------------
@dataclass
class InvokeResult:
    endpoint: str
    outputs: list[str] = field(default_factory=list)
    rows: int = 0
    requests: int = 0
    seconds: float = 0.0
    variants: dict[str, int] = field(default_factory=dict)  # requests answered per variant


def request_bodies(path: Path, limit: int) -> Iterator[tuple[bytes, int]]:
    """``(body, rows)`` pieces of a CSV file, each at most ``limit`` bytes, cut at line ends;
    a header line (raw rows) is repeated at the top of every piece."""
    from smlp.serving.payload import check_size

    with open(path, "rb") as handle:
        lines = [line if line.endswith(b"\n") else line + b"\n" for line in handle
                 if line.strip()]
    header = b""
    if lines and _looks_like_header(lines[0]):
        header, lines = lines[0], lines[1:]
    chunk: list[bytes] = []
    size = len(header)
    for line in lines:
        if len(header) + len(line) > limit:
            check_size(len(header) + len(line), limit)
        if chunk and size + len(line) > limit:
            yield header + b"".join(chunk), len(chunk)
            chunk, size = [], len(header)
        chunk.append(line)
        size += len(line)
    if chunk:
        yield header + b"".join(chunk), len(chunk)


def _looks_like_header(line: bytes) -> bool:
    fields = line.decode("utf-8", errors="replace").strip().split(",")

    def numeric(text: str) -> bool:
        try:
            float(text)
            return True
        except ValueError:
            return text.strip() == ""

    return not all(numeric(f) for f in fields)


def invoke(store: Store, send: Invoker, endpoint: str, input_path: Path, output: Path | None,
           variant: str | None = None, content_type: str = "text/csv",
           events: EventSink = ignore) -> InvokeResult:
    """Send every row of a CSV file (or folder) and write ``<file>.out`` like transform."""
    from smlp.batch.engine import input_files
    from smlp.fileio import atomic_write_bytes
    from smlp.serving.payload import MAX_PAYLOAD_BYTES

    started = time.perf_counter()
    result = InvokeResult(endpoint)
    target_dir = output
    prefix = f"invoke/{_variant_name(endpoint)}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    try:
        for path in input_files(Path(input_path)):
            pieces = []
            for body, rows in request_bodies(path, MAX_PAYLOAD_BYTES):
                answer, answered_by = send(body, content_type, "text/csv", variant)
                pieces.append(answer)
                result.rows += rows
                result.requests += 1
                result.variants[answered_by] = result.variants.get(answered_by, 0) + 1
            data = b"".join(pieces)
            name = f"{path.name}.out"
            if target_dir is not None:
                target = Path(target_dir) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, data)
                result.outputs.append(str(target))
            else:
                store.write_bytes(f"{prefix}/{name}", data)
                result.outputs.append(store.uri(f"{prefix}/{name}"))
            events(Event("info", f"{path.name}: {result.rows:,} rows"))
    finally:
        close = getattr(send, "close", None)
        if close is not None:
            close()
    result.seconds = time.perf_counter() - started
    return result
