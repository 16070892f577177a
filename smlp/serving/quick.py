"""Small payloads without Arrow's per-call cost, to exactly what Arrow gives.

A real-time request is usually one row. Arrow's CSV reader costs ~0.2-1 ms to set up, more
than the model takes for that row; ``smlp transform`` (Arrow throughout) fixes the values, so
the parse here gives Arrow's result bit for bit or hands the payload back (``None``) for
Arrow to read. The endpoint writes numbers with smlp.number_text, as the batch engine does.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from smlp.number_text import narrows_as_arrow

if TYPE_CHECKING:
    import numpy as np

QUICK_PARSE_BYTES = 4096  # up to this, plain numeric rows skip Arrow's reader
_NUMBER = rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"  # all of it Arrow's parser takes
_PLAIN_LINE = re.compile(rb"(?:%s)?(?:,(?:%s)?)*" % (_NUMBER, _NUMBER))
_NAN = float("nan")


def few_plain_rows(body: bytes, width: int) -> np.ndarray | None:
    """A few rows of plain decimals (an empty field is a missing value, NaN) as the float32
    matrix Arrow's CSV reader gives; None (use Arrow) for anything else, including every
    malformed row, so errors keep Arrow's wording.

    Python's float() rounds the decimal to float64, then numpy to float32: that double
    rounding only differs from Arrow's direct rounding when the float64 lands exactly on a
    float32 midpoint it was rounded onto (a midpoint is a float64, so rounding cannot cross
    it); such rows, and values outside float32's normal range, go to Arrow.
    """
    import numpy as np

    if len(body) > QUICK_PARSE_BYTES:
        return None
    lines = body.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    commas = width - 1
    fields: list[bytes] = []
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        # An empty line is no record to Arrow; any other misfit gets Arrow's message.
        if not line or line.count(b",") != commas or not _PLAIN_LINE.fullmatch(line):
            return None
        fields += line.split(b",")
    if not fields:
        return None
    values = []
    for field in fields:
        if not field:
            values.append(_NAN)
            continue
        value = float(field)
        if not narrows_as_arrow(value, field):
            return None  # subnormal, overflow or on a float32 midpoint: Arrow's own rounding
        values.append(value)
    narrow = np.array(values, dtype=np.float32)  # one rounding, float64 -> float32
    return narrow.reshape(len(lines), width)
