"""Data capture: sampled request/response records in SageMaker's capture format, in the store.

Format and layout as SageMaker Model Monitor documents them ("Capture data from real-time
endpoint" / "View collected data", and the DataCaptureConfig API reference): JSON Lines files
under ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``, one record per invocation::

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "...", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2026-12-02T01:02:03Z"},
     "eventVersion": "0"}

``encoding`` is ``CSV`` for the CSV content types, ``JSON`` for the JSON ones and ``BASE64``
otherwise (``CaptureContentTypeHeader``: "if no headers are specified SageMaker will by
default base64 encode"). Records are buffered and written by a background thread, so a
request never waits for the store.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

CSV_TYPES = ("text/csv",)
JSON_TYPES = ("application/json", "application/jsonlines")
FLUSH_SECONDS = 5.0
FLUSH_RECORDS = 1000


@dataclass(frozen=True)
class CaptureSettings:
    """DataCaptureConfig, in smlp's terms; ``prefix`` is a store key (``datacapture``)."""

    sampling_percentage: int = 0
    prefix: str = "datacapture"
    capture_input: bool = True
    capture_output: bool = True
    csv_content_types: tuple[str, ...] = CSV_TYPES
    json_content_types: tuple[str, ...] = JSON_TYPES

    @property
    def enabled(self) -> bool:
        return self.sampling_percentage > 0 and (self.capture_input or self.capture_output)


def encoding_for(content_type: str, settings: CaptureSettings) -> str:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in settings.csv_content_types:
        return "CSV"
    if kind in settings.json_content_types:
        return "JSON"
    return "BASE64"


def _payload(body: bytes, content_type: str, mode: str, settings: CaptureSettings
             ) -> dict[str, str]:
    encoding = encoding_for(content_type, settings)
    data = (base64.b64encode(body).decode("ascii") if encoding == "BASE64"
            else body.decode("utf-8", errors="replace"))
    return {"observedContentType": content_type, "mode": mode, "data": data,
            "encoding": encoding}


def capture_record(request: bytes, request_type: str, response: bytes, response_type: str,
                   settings: CaptureSettings, when: float | None = None,
                   event_id: str | None = None) -> dict[str, Any]:
    """One capture line as a dict."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when if when is not None
                                                              else time.time()))
    data: dict[str, Any] = {}
    if settings.capture_input:
        data["endpointInput"] = _payload(request, request_type, "INPUT", settings)
    if settings.capture_output:
        data["endpointOutput"] = _payload(response, response_type, "OUTPUT", settings)
    return {"captureData": data,
            "eventMetadata": {"eventId": event_id or str(uuid.uuid4()), "inferenceTime": stamp},
            "eventVersion": "0"}


@dataclass
class DataCapture:
    """Samples invocations and writes them, batched, through ``store.write_bytes``."""

    store: Any
    endpoint: str
    settings: CaptureSettings
    seed: int | None = None
    flush_seconds: float = FLUSH_SECONDS
    _pending: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    written: list[str] = field(default_factory=list)  # store keys, for describe and tests
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def start(self) -> None:
        if self.settings.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="smlp-data-capture",
                                            daemon=True)
            self._thread.start()

    def offer(self, variant: str, request: bytes, request_type: str, response: bytes,
              response_type: str) -> bool:
        """Keep this invocation with probability sampling_percentage/100."""
        if not self.settings.enabled:
            return False
        with self._lock:
            if self._rng.random() * 100 >= self.settings.sampling_percentage:
                return False
            record = capture_record(request, request_type, response, response_type,
                                    self.settings)
            self._pending.setdefault(variant, []).append(json.dumps(record))
            full = sum(len(lines) for lines in self._pending.values()) >= FLUSH_RECORDS
        if full:
            self.flush()
        return True

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        now = time.time()
        for variant, lines in pending.items():
            if not lines:
                continue
            key = (f"{self.settings.prefix.strip('/')}/{self.endpoint}/{variant}/"
                   f"{time.strftime('%Y/%m/%d/%H', time.gmtime(now))}/"
                   f"{time.strftime('%M-%S', time.gmtime(now))}-{uuid.uuid4().hex[:12]}.jsonl")
            try:
                self.store.write_bytes(key, ("\n".join(lines) + "\n").encode())
                self.written.append(key)
            except Exception as exc:  # the endpoint keeps serving; describe reports it
                self.errors.append(f"{key}: {exc}")

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
