"""Request bodies to feature matrices and predictions to response bodies, as SageMaker's
inference containers do it.

Contract (SageMaker developer guide, "Common data formats for inference", and the XGBoost
container's ``algorithm_mode/serve.py``/``serve_utils.py``):

- request ``text/csv``: one record per line, no header, every field a feature (what Batch
  Transform sends, what ``smlp transform`` reads); smlp also takes raw rows with a header naming
  the recorded schema's columns, encoded as ``smlp transform`` encodes them.
- request ``application/json``: ``{"instances": [...]}`` or a bare list; each instance a list of
  features, ``{"features": [...]}``, or an object of raw columns (through the schema).
- request ``application/jsonlines``: one such instance per line.
- response ``text/csv``: one prediction per line, written exactly as ``smlp transform`` writes
  it; ``application/json``: ``{"predictions": [{"score": p}, ...]}`` (XGBoost's
  ``encode_predictions_as_json``); ``application/jsonlines``: ``{"score": p}`` per line.
- ``Accept`` missing or ``*/*``: ``text/csv`` (the XGBoost container's default).
- 415 for an unsupported Content-Type, 406 for an unsupported Accept, 413 over 6 MB,
  400 for a body the model cannot take; the message is one line.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from smlp.errors import SmlpError
from smlp.number_text import arrow_texts
from smlp.serving.quick import few_plain_rows

if TYPE_CHECKING:
    import numpy as np

    from smlp.data.schema import Schema

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint: "Maximum payload size 6 MB"
CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
CONTENT_TYPES = (CSV, JSON, JSONLINES)
ACCEPTS = (CSV, JSON, JSONLINES)
DEFAULT_ACCEPT = CSV
# Below this a request is parsed on its own thread: handing a small body to Arrow's thread
# pool costs more than parsing it (and requests already run side by side).
THREADED_PARSE_BYTES = 1 << 20
SMALL_ANSWER = 64  # up to this many values, a Python join beats Arrow's compute call
BODY = "request body"  # how errors name the payload
# pyarrow's CSV messages, as smlp.batch.reader reads them
_BAD_VALUE = re.compile(r"In CSV column #(\d+): .*invalid value '(.*)'$", re.DOTALL)
_BAD_WIDTH = re.compile(r"Expected (\d+) columns, got (\d+)")
_PADDED = re.compile(r'[\s"]')  # what a header field may carry around its name


class PayloadError(SmlpError):
    """A request the endpoint refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(header: str | None) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``."""
    return (header or "").split(";", 1)[0].strip().lower()


def check_content_type(header: str | None) -> str:
    kind = media_type(header)
    if kind not in CONTENT_TYPES:
        shown = header or "(none)"
        raise PayloadError(415, f"Content-Type {shown} is not supported; use one of "
                           + ", ".join(CONTENT_TYPES))
    return kind


def choose_accept(header: str | None) -> str:
    """The first supported type listed in ``Accept``; ``*/*`` or none means text/csv."""
    if not header or not header.strip():
        return DEFAULT_ACCEPT
    for part in header.split(","):
        kind = media_type(part)
        if kind in ("*/*", "text/*", ""):
            return DEFAULT_ACCEPT
        if kind == "application/*":
            return JSON
        if kind in ACCEPTS:
            return kind
    raise PayloadError(406, f"Accept {header} is not supported; use one of " + ", ".join(ACCEPTS))


def check_size(size: int, limit: int = MAX_PAYLOAD_BYTES) -> None:
    if size > limit:
        raise PayloadError(413, f"payload of {size:,} bytes is over the {limit:,}-byte "
                           "(6 MB) limit; send fewer rows per request")


@dataclass(frozen=True)
class Decoder:
    """What a request body must fit: the model's feature count and the recorded schema."""

    n_features: int
    schema: Schema | None = None

    def decode(self, body: bytes, content_type: str) -> np.ndarray:
        """An ``(n_rows, n_features)`` float32 matrix, or PayloadError(400)."""
        from smlp.errors import DataError

        try:
            if content_type == CSV:
                return self._csv(body)
            return self._json(body, content_type)
        except PayloadError:
            raise
        except DataError as exc:
            raise PayloadError(400, _one_line(str(exc))) from None

    # -- CSV: parsed as the batch reader parses a file for ``smlp transform`` ---------------
    def _csv(self, body: bytes) -> np.ndarray:
        """SageMaker's CSV (every field a feature, float32, empty cells missing) or, when the
        first line names the schema's columns, raw rows encoded through the schema."""
        if self.schema is not None and _has_header(body, self._header_names):
            return self._raw_csv(body)
        quick = few_plain_rows(body, self.n_features)
        if quick is not None:
            return quick
        return self._arrow_csv(body)

    def _arrow_csv(self, body: bytes) -> np.ndarray:
        """SageMaker's CSV through Arrow's reader, as the batch reader parses a file."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pcsv

        if not body or body.isspace():  # (isspace: no copy of a big body, as strip makes)
            return np.empty((0, self.n_features), dtype=np.float32)
        one_thread, threaded, convert = self._csv_options
        try:
            table = pcsv.read_csv(
                pa.py_buffer(body), convert_options=convert,
                read_options=threaded if len(body) > THREADED_PARSE_BYTES else one_thread)
        except pa.ArrowInvalid as exc:
            raise PayloadError(400, self._csv_error(body, str(exc))) from None
        if table.num_rows == 0:
            return np.empty((0, self.n_features), dtype=np.float32)
        columns = [col.fill_null(np.nan) if col.null_count else col for col in table.columns]
        return np.column_stack([col.to_numpy() for col in columns]).astype(
            np.float32, copy=False)

    @cached_property
    def _csv_options(self) -> tuple[Any, Any, Any]:
        """Arrow's reader options, made once: (one thread, threaded, float32 columns)."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        names = [f"c{i}" for i in range(self.n_features)]
        return (pcsv.ReadOptions(column_names=names, use_threads=False),
                pcsv.ReadOptions(column_names=names, use_threads=True),
                pcsv.ConvertOptions(column_types={name: pa.float32() for name in names},
                                    strings_can_be_null=False))

    @cached_property
    def _header_names(self) -> frozenset[str]:
        """The names whose presence in a first line makes it a header."""
        assert self.schema is not None
        return frozenset([f.name for f in self.schema.features] + [self.schema.target])

    def _raw_csv(self, body: bytes) -> np.ndarray:
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pcsv

        from smlp.errors import DataError

        assert self.schema is not None
        try:
            table = pcsv.read_csv(pa.py_buffer(body), read_options=pcsv.ReadOptions(
                use_threads=len(body) > THREADED_PARSE_BYTES), convert_options=pcsv.ConvertOptions(
                column_types=self.schema.column_types(), strings_can_be_null=True))
        except pa.ArrowInvalid as exc:
            raise PayloadError(400, self._csv_error(body, str(exc), table_names=True)) from None
        try:
            features = self.schema.encode(table, source=str(BODY))
        except DataError as exc:
            raise PayloadError(400, _one_line(str(exc))) from None
        return np.ascontiguousarray(features, dtype=np.float32)

    def _csv_error(self, body: bytes, message: str, table_names: bool = False) -> str:
        import csv as csvlib

        value = _BAD_VALUE.search(message)
        if value:
            column = int(value.group(1))
            where = str(column)
            if table_names:
                first = body.lstrip(b"\r\n").split(b"\n", 1)[0].decode("utf-8", "replace")
                header = next(csvlib.reader(io.StringIO(first)), [])
                where = f"{column} ({header[column]})" if column < len(header) else where
            return f"{BODY}: column {where}: expected a number, got {value.group(2)!r}"
        if _BAD_WIDTH.search(message):
            lines = body.decode("utf-8", errors="replace").splitlines()
            expected = self.n_features if not table_names else None
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                width = len(next(csvlib.reader(io.StringIO(line)), []))
                if expected is None:
                    expected = width
                elif width != expected:
                    what = (f"{expected} feature columns" if not table_names
                            else f"{expected} columns like the header")
                    return f"{BODY}: line {number}: expected {what}, got {width}"
        return f"{BODY}: cannot parse as CSV: {_one_line(message.splitlines()[0])}"

    # -- JSON and JSON Lines ---------------------------------------------------------------
    def _json(self, body: bytes, content_type: str) -> np.ndarray:
        try:
            text = body.decode("utf-8")
            if content_type == JSON:
                document = json.loads(text)
                instances = document.get("instances") if isinstance(document, dict) \
                    else document
                if isinstance(document, dict) and instances is None:
                    raise PayloadError(400, 'request body: a JSON object needs "instances": '
                                       "[...]")
                if isinstance(instances, list) and instances and _is_number(instances[0]):
                    instances = [instances]  # one bare row
            else:
                instances = [json.loads(line) for line in text.splitlines() if line.strip()]
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadError(400, f"request body: not valid {content_type} ({exc})") from None
        if not isinstance(instances, list):
            raise PayloadError(400, "request body: expected a list of instances")
        return self._instances(instances)

    def _instances(self, instances: list[Any]) -> np.ndarray:
        import numpy as np

        if not instances:
            return np.empty((0, self.n_features), dtype=np.float32)
        if all(isinstance(item, dict) and "features" not in item for item in instances):
            return self._named(instances)
        rows = []
        for number, item in enumerate(instances, start=1):
            row = item.get("features") if isinstance(item, dict) else item
            if not isinstance(row, list):
                raise PayloadError(400, f"request body: instance {number}: expected a list of "
                                   f"{self.n_features} numbers or {{\"features\": [...]}}")
            if len(row) != self.n_features:
                raise PayloadError(400, f"request body: instance {number}: expected "
                                   f"{self.n_features} features, got {len(row)}")
            for column, value in enumerate(row):
                if not (_is_number(value) or value is None):
                    raise PayloadError(400, f"request body: instance {number}: feature "
                                       f"{column}: expected a number, got {value!r}")
            rows.append(row)
        return np.array(rows, dtype=np.float32)  # None -> nan (a missing value)

    def _named(self, instances: list[dict[str, Any]]) -> np.ndarray:
        import pyarrow as pa

        from smlp.errors import DataError

        if self.schema is None:
            raise PayloadError(400, "request body: named columns need the recorded schema; "
                               "send lists of features")
        types = self.schema.column_types()
        columns = {name: [item.get(name) for item in instances] for name in types}
        missing = [name for name in types if all(item.get(name) is None and name not in item
                                                 for item in instances)]
        if missing:
            raise PayloadError(400, f"request body: missing column(s) {', '.join(missing)}; "
                               "the schema expects " + ", ".join(types))
        arrays = {}
        for name, values in columns.items():
            try:
                arrays[name] = pa.array(values, type=types[name])
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arrays[name] = pa.array([None if v is None else str(v) for v in values],
                                        pa.string())
        try:
            features = self.schema.encode(pa.table(arrays), source=str(BODY))
        except DataError as exc:
            raise PayloadError(400, _one_line(str(exc))) from None
        return features


def _has_header(body: bytes, known: frozenset[str]) -> bool:
    """The first line names the schema's raw columns (the rule ``smlp transform`` applies)."""
    start = len(body) - len(body.lstrip(b"\r\n"))
    end = body.find(b"\n", start)
    first = body[start:end if end >= 0 else len(body)].decode("utf-8", errors="replace")
    if _PADDED.search(first) is None:  # nothing to strip (a plain numeric row): no loop
        return not known.isdisjoint(first.split(","))
    return not known.isdisjoint(field.strip().strip('"') for field in first.split(","))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _one_line(message: str) -> str:
    return " ".join(message.split())


# -- responses -------------------------------------------------------------------------------
def prediction_text(predictions: Any) -> list[str]:
    """Each record's prediction as ``smlp transform`` writes a value (Arrow's shortest
    round-trip text); a row of class scores becomes its values joined by commas, as the
    containers' CSV encoders write a 2-D answer."""
    import numpy as np

    values = np.asarray(predictions)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 2:
        flat = _texts(values.reshape(-1))
        width = values.shape[1]
        return [",".join(flat[i:i + width]) for i in range(0, len(flat), width)]
    return _texts(values)


def _texts(values: Any) -> list[str]:
    quick = arrow_texts(values)
    if quick is not None:
        return quick
    import pyarrow as pa

    return list(pa.array(values).cast(pa.string()).to_pylist())


def encode(predictions: Any, accept: str) -> bytes:
    """The response body for ``accept``; numbers keep transform's text in every format.
    Class scores (2-D) are a list under ``score`` in JSON, as XGBoost's
    ``encode_predictions_as_json`` writes them."""
    if accept == CSV:
        return _csv_lines(predictions)
    texts = prediction_text(predictions)
    scores = [_json_score(text) for text in texts]
    if accept == JSONLINES:
        return "".join(f'{{"score": {score}}}\n' for score in scores).encode()
    return ('{"predictions": [' + ", ".join(f'{{"score": {score}}}' for score in scores)
            + "]}").encode()


def _csv_lines(predictions: Any) -> bytes:
    """One line per record, built in Arrow (no Python string per row)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.asarray(predictions)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.size <= SMALL_ANSWER:
        return "".join(f"{text}\n" for text in prediction_text(values)).encode()
    lines = pc.binary_join_element_wise(pa.array(values).cast(pa.string()), "", "\n")
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(lines) + 1,
                           offset=lines.offset * 4)
    return data[int(bounds[0]):int(bounds[-1])].to_pybytes()


def _json_score(text: str) -> str:
    if "," in text:
        return "[" + ", ".join(_json_number(part) for part in text.split(",")) + "]"
    return _json_number(text)


def _json_number(text: str) -> str:
    """JSON has no NaN/Infinity literals: those become null."""
    lowered = text.lower()
    return "null" if "nan" in lowered or "inf" in lowered else text
