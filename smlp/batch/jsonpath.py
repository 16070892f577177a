"""The subset of JSONPath that SageMaker Batch Transform documents for CSV rows.

A CSV row is a JSON array of its fields, so the filters that make sense are ``$`` (the whole
row) and one bracket of indices and slices: ``$[1:]``, ``$[:-1]``, ``$[2:5]``, ``$[0]``,
``$[-1]``, ``$[1,3,5]``, ``$[0,2:4,-1]``. Parsing happens once, up front, so a typo is a
config error before any file is read; resolving against a row width happens per file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smlp.errors import ConfigError

_INT = r"-?\d+"
_ITEM = re.compile(rf"^\s*(?:(?P<index>{_INT})|(?P<start>{_INT})?\s*:\s*(?P<stop>{_INT})?)\s*$")


@dataclass(frozen=True)
class ColumnPath:
    """A parsed filter: ``items is None`` selects the whole row."""

    expr: str
    items: tuple[int | slice, ...] | None

    @property
    def is_whole_row(self) -> bool:
        return self.items is None

    def resolve(self, width: int) -> list[int]:
        """The column indices this path selects from a row of ``width`` fields, in order.

        Slices clamp like Python's; a single index outside the row raises ``IndexError``
        because SageMaker would fail the record rather than skip it.
        """
        if self.items is None:
            return list(range(width))
        picked: list[int] = []
        for item in self.items:
            if isinstance(item, slice):
                picked.extend(range(width)[item])
            elif -width <= item < width:
                picked.append(item % width)
            else:
                raise IndexError(f"{self.expr} selects column {item}, but rows have {width}")
        return picked


def parse_path(expr: str | None, option: str) -> ColumnPath:
    """Parse ``expr`` for the option named ``option`` (e.g. ``transform.input_filter``).

    ``None`` and ``""`` mean ``$``, the CreateTransformJob default.
    """
    if expr is None or expr.strip() in ("", "$"):
        return ColumnPath("$", None)
    text = expr.strip()
    if not (text.startswith("$[") and text.endswith("]")) or len(text) < 4:
        raise _unsupported(expr, option)
    items: list[int | slice] = []
    for part in text[2:-1].split(","):
        match = _ITEM.match(part)
        if match is None:
            raise _unsupported(expr, option)
        if match["index"] is not None:
            items.append(int(match["index"]))
        else:
            start = int(match["start"]) if match["start"] is not None else None
            stop = int(match["stop"]) if match["stop"] is not None else None
            items.append(slice(start, stop))
    return ColumnPath(text, tuple(items))


def _unsupported(expr: str, option: str) -> ConfigError:
    return ConfigError(
        f"{option}: unsupported JSONPath {expr!r}; expected forms like $[1:] or $[0,-1]"
    )
