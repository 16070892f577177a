"""Waiting for a SageMaker job: polling with backoff and jitter, status transitions as events,
and the job's CloudWatch log lines as they appear.

A job's log is a convenience: when it cannot be read (no permission, not created yet) the wait
goes on without it, saying so once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from smlp.events import Event, EventSink

TERMINAL = {"Completed", "Failed", "Stopped"}
LOG_GROUPS = {"training": "/aws/sagemaker/TrainingJobs",
              "transform": "/aws/sagemaker/TransformJobs",
              "processing": "/aws/sagemaker/ProcessingJobs"}
STATUS_KEYS = {"training": "TrainingJobStatus", "transform": "TransformJobStatus",
               "tuning": "HyperParameterTuningJobStatus", "processing": "ProcessingJobStatus"}


@dataclass
class Backoff:
    """Delays that grow by ``factor`` up to ``maximum``, each jittered by ±``jitter``."""

    initial: float
    maximum: float
    factor: float = 1.5
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)

    def __iter__(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield max(0.0, delay * (1 + self.jitter * (2 * self.rng.random() - 1)))
            delay = min(self.maximum, delay * self.factor)


class LogTail:
    """Follows every CloudWatch log stream of one job (one per instance), oldest line first."""

    def __init__(self, logs: Any, group: str, job_name: str) -> None:
        self.logs = logs
        self.group = group
        self.job_name = job_name
        self.tokens: dict[str, str | None] = {}
        self.disabled: str | None = None

    def poll(self) -> list[str]:
        if self.disabled is not None:
            return []
        from botocore.exceptions import BotoCoreError, ClientError

        lines: list[str] = []
        try:
            streams = self.logs.describe_log_streams(
                logGroupName=self.group, logStreamNamePrefix=f"{self.job_name}/",
            ).get("logStreams", [])
            for stream in sorted(s["logStreamName"] for s in streams):
                lines += self._read(stream)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code != "ResourceNotFoundException":  # no log group/stream yet: try again later
                self.disabled = f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
        except BotoCoreError as exc:
            self.disabled = str(exc)
        return lines

    def _read(self, stream: str) -> list[str]:
        lines: list[str] = []
        while True:
            kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamName": stream,
                                      "startFromHead": True}
            token = self.tokens.get(stream)
            if token:
                kwargs["nextToken"] = token
            page = self.logs.get_log_events(**kwargs)
            lines += [event["message"].rstrip("\n") for event in page.get("events", [])]
            following = page.get("nextForwardToken")
            if not page.get("events") or following == token:
                self.tokens[stream] = following or token
                return lines
            self.tokens[stream] = following


def wait(
    describe: Callable[[], dict[str, Any]],
    kind: str,
    job_name: str,
    events: EventSink,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    logs: LogTail | None = None,
    on_log: Callable[[str], None] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll ``describe`` until the job ends; return its last description."""
    status_key = STATUS_KEYS[kind]
    last: tuple[str, str] | None = None
    warned = False
    for delay in backoff:
        described = describe()
        status = described[status_key]
        secondary = described.get("SecondaryStatus", "")
        if (status, secondary) != last:
            detail = f" ({secondary})" if secondary and secondary != status else ""
            events(Event("job", f"{job_name}: {status}{detail}",
                         {"job": job_name, "status": status, "secondary": secondary,
                          "remote": True}))
            last = (status, secondary)
        if on_progress is not None:
            on_progress(described)
        if logs is not None:
            for line in logs.poll():
                events(Event("log", line, {"job": job_name}))
                if on_log is not None:
                    on_log(line)
            if logs.disabled and not warned:
                events(Event("info", f"{job_name}: not following its CloudWatch log "
                                     f"({logs.disabled})"))
                warned = True
        if status in TERMINAL:
            return described
        sleep(delay)
    raise AssertionError("unreachable: the backoff never ends")  # pragma: no cover
