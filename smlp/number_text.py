"""Numbers read and written as Arrow's CSV reader and its cast to string do, without Arrow.

``smlp transform`` (Arrow throughout for large inputs) fixes how a prediction is written and
how a CSV cell becomes a number; a few values are cheaper in Python than through Arrow (its
cast costs ~30 µs a call), and a small transform or a one-row endpoint request should not
have to import pyarrow (~55 ms) for them. Shared by the batch engine and the endpoint.
"""

from __future__ import annotations

import re
from math import frexp, isinf
from typing import Any

QUICK_TEXT_VALUES = 16  # up to this many values, numpy's formatter beats Arrow's cast

# pyarrow.csv.ConvertOptions().null_values: cells any column reads as null (a unit test holds
# it equal to pyarrow's).
ARROW_NULLS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"})
# A plain decimal, all of which Arrow's float parser takes; anything else is left to Arrow.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FLOAT32_MIN = 2.0 ** -126  # below it float32 is subnormal: its midpoints sit elsewhere
_FLOAT32_MAX = (2 - 2.0 ** -23) * 2.0 ** 127
_BIT_53 = float(1 << 53)  # frexp's fraction times this: float64's 53-bit significand
_LOW_29_BITS = (1 << 29) - 1  # what float64 has beyond float32's 24-bit significand
_HALF = 1 << 28  # ... and those bits on a float32 midpoint


def arrow_float64(cell: str) -> float | None:
    """A CSV cell as Arrow reads it into a float64 column (nulls as NaN); None: ask Arrow.

    A plain decimal's float64 is the correctly rounded one for both (Python's float() and
    Arrow's parser); an overflow to infinity is left to Arrow to judge.
    """
    if cell in ARROW_NULLS:
        return float("nan")
    if not PLAIN_NUMBER.fullmatch(cell):
        return None
    value = float(cell)
    return None if isinf(value) else value


def arrow_float32(cell: str) -> float | None:
    """A CSV cell as the float64 that narrows (numpy, one rounding) to the float32 Arrow reads
    into a float32 column (nulls as NaN); None: ask Arrow.

    Arrow rounds the decimal straight to float32; float() then numpy round twice, which only
    differs when the float64 lands exactly on a float32 midpoint (a midpoint is a float64, so
    the first rounding cannot cross it): such cells, and values outside float32's normal
    range, are left to Arrow.
    """
    value = arrow_float64(cell)
    if value is None or value != value:
        return value
    return value if narrows_as_arrow(value, cell) else None


def narrows_as_arrow(value: float, cell: str | bytes) -> bool:
    """Whether ``value`` (float(cell)) narrowed by numpy is the float32 Arrow reads from
    ``cell``: False for a float32 subnormal or overflow, or a float64 that landed exactly on a
    float32 midpoint the decimal was not on (Arrow's single rounding may go the other way)."""
    magnitude = abs(value)
    if magnitude and not _FLOAT32_MIN <= magnitude <= _FLOAT32_MAX:
        return False
    if int(frexp(magnitude)[0] * _BIT_53) & _LOW_29_BITS == _HALF:
        from decimal import Decimal  # rare: only a value on a float32 midpoint

        text = cell.decode() if isinstance(cell, bytes) else cell
        return Decimal(text) == Decimal(value)
    return True


def arrow_texts(values: Any, limit: int = QUICK_TEXT_VALUES) -> list[str] | None:
    """Each value as Arrow's cast to string writes it (what ``smlp transform`` writes), for up
    to ``limit`` float32/float64 values; None (use Arrow) otherwise.

    Arrow writes the shortest digits that read back to the same value of that type,
    positional when the decimal exponent is in [-6, 10) ("0.000001", "123456790"), else
    scientific with at least one exponent digit and its sign ("1e-7", "1e+10"); no trailing
    ".0"; "nan" for any NaN, "inf"/"-inf". numpy's Dragon4 gives the same shortest digits.
    """
    import numpy as np

    if not isinstance(values, np.ndarray) or values.dtype not in (np.float32, np.float64) \
            or values.size > limit:
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
