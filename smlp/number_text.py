"""Numbers written as Arrow's cast to string writes them, without Arrow.

``smlp transform`` (Arrow throughout for large inputs) fixes how a prediction is written; a
few values are cheaper to format in Python than through Arrow's cast (~30 µs a call), and a
small transform or a one-row endpoint request should not have to import pyarrow for them.
Shared by the batch engine and the endpoint (smlp.serving).
"""

from __future__ import annotations

from typing import Any

QUICK_TEXT_VALUES = 16  # up to this many values, numpy's formatter beats Arrow's cast


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
