"""pyarrow <-> numpy on the predict path (and in a streamed prepare) without importing pandas.

pyarrow's ``to_numpy`` and its conversion of Python lists and scalars initialise its pandas
support, which imports pandas (~1 s, a third of a 10-row ``smlp transform``). Arrow's layout
is fixed (buffer 0: the validity bitmap, least significant bit first; buffer 1: the values),
so numbers are read from (and written to) the buffers, and so is text.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from typing import Any

import numpy as np
import pyarrow as pa

_NUMPY = {
    pa.float64(): np.float64, pa.float32(): np.float32,
    pa.int64(): np.int64, pa.int32(): np.int32, pa.int16(): np.int16, pa.int8(): np.int8,
    pa.uint64(): np.uint64, pa.uint32(): np.uint32, pa.uint16(): np.uint16, pa.uint8(): np.uint8,
}


def to_numpy(column: Any) -> np.ndarray:
    """A numeric Array or ChunkedArray as a numpy vector; nulls as NaN (float columns only)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    dtype = _NUMPY.get(column.type)
    if dtype is None:
        raise TypeError(f"no buffer layout known for {column.type}")
    if not chunks:
        return np.empty(0, dtype=dtype)
    parts = [_chunk_values(chunk, dtype) for chunk in chunks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _chunk_values(chunk: pa.Array, dtype: Any) -> np.ndarray:
    validity, data = chunk.buffers()[:2]
    if data is None:  # an empty array may carry no value buffer
        return np.empty(0, dtype=dtype)
    values = np.frombuffer(data, dtype=dtype, count=chunk.offset + len(chunk))[chunk.offset:]
    if not chunk.null_count:
        return values
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{chunk.type} column with nulls: fill them before reading it")
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    valid = bits[chunk.offset:chunk.offset + len(chunk)].astype(bool)
    return np.where(valid, values, np.nan).astype(dtype, copy=False)


def strings(values: list[str] | tuple[str, ...]) -> pa.Array:
    """A string Array from Python text, built from its buffers: ``pa.array`` of Python or
    numpy text would import pandas (see above) and numpy.ma (~85 ms) to probe its input."""
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(encoded),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def text(value: str) -> pa.Scalar:
    """A string scalar, for compute functions' literal arguments."""
    return strings([value])[0]


def from_numpy(values: np.ndarray) -> pa.Array:
    """A numeric numpy vector as an Arrow array without a copy, and without ``pa.array``'s
    probe of its input (which imports numpy.ma, ~85 ms)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values),
                                 [None, pa.py_buffer(values)])


class _RefusePandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is kept off this path", name=name)
        return None


_PANDAS_LOCK = threading.Lock()


def keep_pandas_out() -> None:
    """Stop pyarrow importing pandas (~1 s, a third of a small transform) on the predict path.

    The first time pyarrow builds an array it imports pandas to ask whether the input is a
    pandas object. Nothing here hands it one, so while pandas is not imported yet, let that
    one probe find pandas absent: pyarrow then skips the check for this process, and whatever
    truly needs pandas later (``to_pandas``, ``from_pandas``) still imports it, because
    pyarrow tries the import again there (``pyarrow/pandas-shim.pxi``, ``_check_import``).
    """
    with _PANDAS_LOCK:
        if "pandas" in sys.modules:
            return
        refuse = _RefusePandas()
        sys.meta_path.insert(0, refuse)
        try:
            pa.lib._pandas_api.have_pandas  # noqa: B018  # the probe pyarrow remembers
        finally:
            sys.meta_path.remove(refuse)
