"""The local backend's endpoints: models from the verified cache, served by uvicorn, recorded
in ``.smlp/endpoints/<name>.json`` so ``smlp endpoint`` and ``smlp invoke`` can find them.

A running endpoint answers ``/smlp/endpoint`` (description and counters), ``/smlp/weights``
and ``/smlp/stop``; the registry file only says where to ask.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from smlp.backends.base import EndpointInfo, EndpointSpec
from smlp.errors import BackendError, ConfigError
from smlp.events import Event, EventSink, ignore
from smlp.fileio import atomic_write_bytes
from smlp.serving.app import Endpoint, build_app
from smlp.serving.capture import CaptureSettings, DataCapture
from smlp.serving.payload import Decoder
from smlp.serving.variants import Router, Variant, check_variant_name

CONTROL_TIMEOUT = 10.0  # seconds for a control request to a local endpoint


def load_endpoint(backend: Any, spec: EndpointSpec) -> Endpoint:
    """Verify and load every variant's model once (sha256 against the manifest, through the
    model cache), with the same ``model_fn``/``predict_fn`` Batch Transform uses."""
    variants = []
    for item in spec.variants:
        check_variant_name(item.name)
        model_dir = backend.model_dir(item.model_uri, item.model_sha256, item.algorithm)
        variants.append(Variant(
            name=item.name, weight=item.weight,
            predict=serving_predictor(item.algorithm, model_dir), model=item.candidate,
            algorithm=item.algorithm, model_sha256=item.model_sha256 or ""))
    capture = None
    if spec.capture_percentage > 0:
        settings = CaptureSettings(
            sampling_percentage=spec.capture_percentage, prefix=spec.capture_prefix,
            capture_input=spec.capture_mode in ("Input", "InputAndOutput"),
            capture_output=spec.capture_mode in ("Output", "InputAndOutput"))
        capture = DataCapture(backend.store, spec.name, settings, seed=spec.seed)
    return Endpoint(spec.name, Router(variants, seed=spec.seed),
                    Decoder(spec.n_features, spec.schema), capture)


def serving_predictor(algorithm: str, model_dir: Path) -> Any:
    """``model_fn`` once, then ``predict_fn`` per request, each on one thread.

    As the XGBoost container serves (``serve_utils.get_loaded_booster`` sets ``nthread`` 1,
    ``serving.py`` sets ``OMP_NUM_THREADS`` 1: "Multithreading can introduce significant
    performance overhead due to task switching"): requests use the cores by running side by
    side, never by OpenMP threads per request, which contend on a busy machine (1,000 rows
    on a loaded 2-core machine: 7-20 ms with two threads, 2.3 ms with one). The predictions
    do not depend on the thread count. An XGBoost Booster's float32 matrices skip
    ``inplace_predict``'s Python for the C call under it (``smlp.serving.booster``: the
    same bits, checked against ``predict_fn`` when the model loads).
    """
    from smlp.algorithms.entry_points import load_script

    module = load_script(algorithm)
    model = module.model_fn(str(model_dir))

    def predict(features: Any) -> Any:
        return module.predict_fn(features, model)

    if callable(getattr(model, "set_param", None)):  # an xgboost Booster
        from smlp.serving.booster import fast_booster_predict

        model.set_param({"nthread": 1})
        return fast_booster_predict(model, predict) or predict
    return predict


def registry_dir(backend: Any) -> Path:
    return Path(backend.work_dir).parent / "endpoints"


def serve(backend: Any, spec: EndpointSpec, events: EventSink = ignore) -> EndpointInfo:
    """Serve ``spec`` in the foreground until Ctrl-C (or ``smlp endpoint delete``)."""
    from smlp.serving.server import check_port, run_foreground

    record = registry_dir(backend) / f"{spec.name}.json"
    if record.exists():
        running = _info(_record(backend, spec.name))
        if running.status == "InService":
            raise ConfigError(f"endpoint {spec.name} is already serving at {running.url}; "
                              "stop it (`smlp endpoint delete " + spec.name + "`) or pick "
                              "another --name")
    if spec.port:
        check_port(spec.host, spec.port)
    endpoint = load_endpoint(backend, spec)
    urls: list[str] = []

    def ready(port: int) -> None:
        url = f"http://{spec.host}:{port}"
        urls.append(url)
        _write_record(record, spec, url)
        events(Event("info", f"endpoint {spec.name} is InService at {url} (Ctrl-C stops it)",
                     {"endpoint": spec.name, "url": url}))

    try:
        run_foreground(endpoint, build_app(endpoint), spec.host, spec.port, ready)
    finally:
        _remove_record(record)
    summary = endpoint.describe()
    return EndpointInfo(spec.name, "Stopped", "local", urls[0] if urls else None,
                        summary["variants"], details=summary)


def _write_record(path: Path, spec: EndpointSpec, url: str) -> None:
    data = {"name": spec.name, "url": url, "pid": os.getpid(), "started": time.time(),
            "variants": [{"name": v.name, "model": v.candidate, "weight": v.weight}
                         for v in spec.variants]}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(data, indent=1).encode())


def _remove_record(path: Path) -> None:
    path.unlink(missing_ok=True)


def _records(backend: Any) -> list[dict[str, Any]]:
    folder = registry_dir(backend)
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return found


def _record(backend: Any, name: str) -> dict[str, Any]:
    path = registry_dir(backend) / f"{name}.json"
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        known = [r["name"] for r in _records(backend)]
        raise ConfigError(f"no local endpoint named {name!r}; running: "
                          + (", ".join(known) or "none (start one with `smlp deploy`)")
                          ) from None
    except (OSError, ValueError) as exc:
        raise BackendError(f"{path}: unreadable endpoint record ({exc})") from None


def _control(url: str, method: str, path: str, body: Any = None) -> Any:
    import httpx

    try:
        response = httpx.request(method, url + path, json=body, timeout=CONTROL_TIMEOUT)
    except httpx.HTTPError as exc:
        raise BackendError(f"{url}: the endpoint does not answer ({exc})") from None
    if response.status_code >= 400:
        raise ConfigError(f"{url}{path}: {response.text.strip()}")
    return response.json()


def _info(record: dict[str, Any]) -> EndpointInfo:
    try:
        live = _control(record["url"], "GET", "/smlp/endpoint")
    except BackendError as exc:
        return EndpointInfo(record["name"], "Stopped", "local", record["url"],
                            record.get("variants", []), failure_reason=str(exc))
    return EndpointInfo(record["name"], live["status"], "local", record["url"],
                        live["variants"], details=live)


def list_endpoints(backend: Any) -> list[EndpointInfo]:
    return [_info(record) for record in _records(backend)]


def describe_endpoint(backend: Any, name: str) -> EndpointInfo:
    return _info(_record(backend, name))


def update_weights(backend: Any, name: str, weights: dict[str, float]) -> EndpointInfo:
    record = _record(backend, name)
    live = _control(record["url"], "POST", "/smlp/weights", weights)
    return EndpointInfo(name, live["status"], "local", record["url"], live["variants"],
                        details=live)


def delete_endpoint(backend: Any, name: str) -> list[str]:
    """Stop the server (it removes its own record); a stale record is just removed."""
    path = registry_dir(backend) / f"{name}.json"
    record = _record(backend, name)
    try:
        _control(record["url"], "POST", "/smlp/stop")
    except BackendError:
        pass  # not running any more
    _remove_record(path)
    return [f"endpoint {name} ({record['url']})"]


def invoker(backend: Any, name: str) -> Any:
    from smlp.serving.client import http_invoker

    return http_invoker(_record(backend, name)["url"])
