"""Progress reaches the CLI as events; stages and backends never print."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Something a long-running stage wants a user to see.

    kinds: ``info`` (a line), ``job`` (a job's status changed), ``log`` (a job's log line),
    ``progress`` (``data``: task, done, total), ``trial`` (a tuning trial finished).
    """

    kind: str
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default sink for library callers that do not care."""
