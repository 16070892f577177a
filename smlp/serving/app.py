"""The inference endpoint as an ASGI app (starlette): SageMaker's container contract.

``GET /ping`` and ``POST /invocations`` as the inference container contract defines them
(SageMaker developer guide, "Use your own inference code with hosting services": answer
``/ping`` with 200 once ready, ``/invocations`` with the prediction; payloads up to 6 MB),
production variants chosen per request, ``X-Amzn-SageMaker-Target-Variant`` honoured and
``X-Amzn-Invoked-Production-Variant`` returned (InvokeEndpoint API reference). Status codes
as the XGBoost container's ``serve.py``: 204 for an empty body, 415 for an unsupported
Content-Type, 406 for an unsupported Accept, 400 for a payload the model cannot take.

Below ``/smlp/`` a local endpoint also answers what SageMaker's control plane would:
its description with per-variant counters, weight updates and a stop request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smlp.errors import ConfigError
from smlp.serving.capture import DataCapture
from smlp.serving.payload import (
    CSV,
    JSON,
    JSONLINES,
    MAX_PAYLOAD_BYTES,
    Decoder,
    PayloadError,
    check_content_type,
    check_size,
    choose_accept,
    encode,
)
from smlp.serving.variants import Router, Variant

TARGET_HEADER = "x-amzn-sagemaker-target-variant"
INVOKED_HEADER = "X-Amzn-Invoked-Production-Variant"
INLINE_BYTES = 64 << 10  # bigger payloads are parsed and predicted off the event loop
# /invocations reads these request headers (ASGI servers lower-case header names).
_TARGET, _CONTENT_TYPE, _ACCEPT, _LENGTH = (
    b"x-amzn-sagemaker-target-variant", b"content-type", b"accept", b"content-length")
_WANTED = frozenset((_TARGET, _CONTENT_TYPE, _ACCEPT, _LENGTH))
# Response content types as starlette's Response writes them (text/* gets its charset).
_MEDIA = {CSV: b"text/csv; charset=utf-8", JSON: JSON.encode(), JSONLINES: JSONLINES.encode(),
          "text/plain": b"text/plain; charset=utf-8"}
_INVOKED = INVOKED_HEADER.lower().encode()


class _ClientGone(Exception):
    """The client hung up before its body arrived: nothing to answer."""


@dataclass
class Endpoint:
    """What one running endpoint holds: its variants, its decoder and its capture."""

    name: str
    router: Router
    decoder: Decoder
    capture: DataCapture | None = None
    max_payload: int = MAX_PAYLOAD_BYTES
    stop: Callable[[], None] | None = None  # set by the server running it
    started: float = 0.0

    def describe(self) -> dict[str, Any]:
        capture = self.capture
        return {
            "name": self.name, "status": "InService", "variants": self.router.describe(),
            "uptime_seconds": round(time.time() - self.started, 1) if self.started else 0.0,
            "data_capture": None if capture is None else {
                "sampling_percentage": capture.settings.sampling_percentage,
                "prefix": capture.settings.prefix, "files": len(capture.written),
                "errors": capture.errors[-3:]},
        }


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain")


async def _read_body(receive: Any, declared: bytes | None, limit: int) -> bytes:
    """The body, refusing (413) as soon as it passes ``limit``, without reading the rest."""
    if declared and declared.isdigit():
        check_size(int(declared), limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise _ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        check_size(size, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(send: Any, status: int, body: bytes, media: str | None,
                   variant: str | None) -> None:
    """One response as starlette's ``Response`` would send it (same headers), without
    building a Request and a Response per call: /invocations is the hot path."""
    headers = [(_INVOKED, variant.encode("latin-1"))] if variant else []
    if status != 204:
        headers.append((b"content-length", str(len(body)).encode()))
    if media is not None:
        headers.append((b"content-type", _MEDIA[media]))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _request_headers(scope: dict[str, Any]) -> dict[bytes, str]:
    """The first value of each header /invocations reads, as starlette's Headers.get."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    return found


class _Raw:
    """A plain ASGI callable as a starlette route endpoint (not wrapped in Request)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def build_app(endpoint: Endpoint) -> Callable[..., Any]:
    """The ASGI app serving ``endpoint``: POST /invocations straight to its handler, every
    other request (and the lifespan) through starlette."""
    from starlette.concurrency import run_in_threadpool

    router = endpoint.router

    def answer(variant: Variant, body: bytes, content_type: str, accept: str
               ) -> tuple[bytes, int]:
        features = endpoint.decoder.decode(body, content_type)
        predictions = variant.predict(features)
        return encode(predictions, accept), len(features)

    async def ping(request: Request) -> Response:
        return Response(status_code=200)

    async def invocations(scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        variant: Variant | None = None
        status, rows = 200, 0
        headers = _request_headers(scope)
        try:
            target = headers.get(_TARGET)
            if target and target not in router.variants:
                raise PayloadError(400, f"{TARGET_HEADER}: no variant named {target!r}; this "
                                   "endpoint has " + ", ".join(router.variants))
            variant = router.pick(target)
            content_type = check_content_type(headers.get(_CONTENT_TYPE))
            accept = choose_accept(headers.get(_ACCEPT))
            length = headers.get(_LENGTH)
            body = await _read_body(receive, length.encode() if length else None,
                                    endpoint.max_payload)
            if not body or body.isspace():  # the XGBoost container: empty is 204 No Content
                status = 204
            elif len(body) <= INLINE_BYTES:
                output, rows = answer(variant, body, content_type, accept)
            else:
                output, rows = await run_in_threadpool(answer, variant, body, content_type,
                                                       accept)
        except _ClientGone:
            variant = None  # not an invocation: nothing was answered
            return
        except PayloadError as exc:
            status = exc.status
            message = str(exc)
        except Exception as exc:  # the model failed: a 500 with its one-line reason
            status = 500
            message = "model error: " + (" ".join(str(exc).split()) or type(exc).__name__)
        finally:
            if variant is not None:
                variant.stats.record(status, rows, (time.perf_counter() - started) * 1000)
        name = variant.name if variant else None
        if status == 204:
            return await _respond(send, 204, b"", None, name)
        if status != 200:
            return await _respond(send, status, (message + "\n").encode(), "text/plain", name)
        assert variant is not None
        if endpoint.capture is not None:
            endpoint.capture.offer(variant.name, body, headers.get(_CONTENT_TYPE, ""),
                                   output, accept)
        await _respond(send, 200, output, accept, variant.name)

    async def describe(request: Request) -> Response:
        return JSONResponse(endpoint.describe())

    async def weights(request: Request) -> Response:
        if not _local_client(request):
            return _text(403, "weights can only be changed from this machine")
        try:
            wanted = json.loads(await request.body())
            if not isinstance(wanted, dict) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool)
                    for v in wanted.values()):
                raise ConfigError('expected a JSON object of {"variant": weight}')
            router.update_weights({str(k): float(v) for k, v in wanted.items()})
        except (ValueError, ConfigError) as exc:
            return _text(400, str(exc))
        return JSONResponse(endpoint.describe())

    async def stop(request: Request) -> Response:
        if not _local_client(request):
            return _text(403, "the endpoint can only be stopped from this machine")
        if endpoint.stop is None:
            return _text(409, "this endpoint was not started by `smlp deploy`")
        endpoint.stop()
        return JSONResponse({"name": endpoint.name, "status": "Stopping"})

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        if endpoint.capture is not None:
            endpoint.capture.start()
        endpoint.started = time.time()
        yield
        await run_in_threadpool(_close_capture, endpoint)

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", _Raw(invocations), methods=["POST"]),
        Route("/smlp/endpoint", describe, methods=["GET"]),
        Route("/smlp/weights", weights, methods=["POST"]),
        Route("/smlp/stop", stop, methods=["POST"]),
    ]
    routed = Starlette(routes=routes, lifespan=lifespan)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/invocations" \
                and scope["method"] == "POST":
            await invocations(scope, receive, send)  # the same handler starlette routes to
        else:
            await routed(scope, receive, send)

    return app


def _local_client(request: Request) -> bool:
    """Control requests (weights, stop) only from loopback, even when serving on 0.0.0.0."""
    client = request.client
    return client is not None and client.host in ("127.0.0.1", "::1", "localhost")


def _close_capture(endpoint: Endpoint) -> None:
    if endpoint.capture is not None:
        endpoint.capture.close()
