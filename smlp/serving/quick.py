"""Small payloads without Arrow's per-call cost, to exactly what Arrow gives.

A real-time request is usually one row. Arrow's CSV reader costs ~0.2-1 ms to set up and its
string cast ~30 µs per call, more than the model takes for that row; ``smlp transform`` (Arrow
throughout) fixes the values, so both shortcuts here give Arrow's result bit for bit or hand
the payload back (``None``) for Arrow to do.
"""

from __future__ import annotations

import re
from decimal import Decimal
from math import frexp
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

QUICK_PARSE_BYTES = 4096  # up to this, plain numeric rows skip Arrow's reader
QUICK_TEXT_VALUES = 16  # up to this many values, numpy's formatter beats Arrow's cast
_NUMBER = rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"  # all of it Arrow's parser takes
_PLAIN_LINE = re.compile(rb"(?:%s)?(?:,(?:%s)?)*" % (_NUMBER, _NUMBER))
_FLOAT32_MIN = 2.0 ** -126  # below it float32 is subnormal: its midpoints sit elsewhere
_FLOAT32_MAX = (2 - 2.0 ** -23) * 2.0 ** 127
_BIT_53 = float(1 << 53)  # frexp's fraction times this: float64's 53-bit significand
_LOW_29_BITS = (1 << 29) - 1  # what float64 has beyond float32's 24-bit significand
_HALF = 1 << 28  # ... and those bits on a float32 midpoint
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
        magnitude = abs(value)
        if magnitude and not _FLOAT32_MIN <= magnitude <= _FLOAT32_MAX:
            return None  # float32 subnormal or overflow: Arrow's own rounding
        if int(frexp(magnitude)[0] * _BIT_53) & _LOW_29_BITS == _HALF and \
                Decimal(field.decode()) != Decimal(value):
            return None  # rounded onto a float32 midpoint: which side is Arrow's to say
        values.append(value)
    narrow = np.array(values, dtype=np.float32)  # one rounding, float64 -> float32
    return narrow.reshape(len(lines), width)


def arrow_texts(values: Any) -> list[str] | None:
    """Each value as Arrow's cast to string writes it (what ``smlp transform`` writes), for a
    few float32/float64 values; None (use Arrow) otherwise.

    Arrow writes the shortest digits that read back to the same value of that type,
    positional when the decimal exponent is in [-6, 10) ("0.000001", "123456790"), else
    scientific with at least one exponent digit and its sign ("1e-7", "1e+10"); no trailing
    ".0"; "nan" for any NaN, "inf"/"-inf". numpy's Dragon4 gives the same shortest digits.
    """
    import numpy as np

    if not isinstance(values, np.ndarray) or values.dtype not in (np.float32, np.float64) \
            or values.size > QUICK_TEXT_VALUES:
        return None
    return [_text(value) for value in values.reshape(-1)]


def _text(value: Any) -> str:
    import numpy as np

    number = float(value)
    if number != number:
        return "nan"
    if number in (float("inf"), float("-inf")):
        return "inf" if number > 0 else "-inf"
    if number == 0 or 1e-5 <= abs(number) < 1e9:  # its shortest decimal's exponent: -5..9
        return np.format_float_positional(value, unique=True, trim="-")
    scientific = np.format_float_scientific(value, unique=True, trim="-", exp_digits=1)
    exponent = int(scientific[scientific.index("e") + 1:])
    if -6 <= exponent < 10:
        return np.format_float_positional(value, unique=True, trim="-")
    return scientific
