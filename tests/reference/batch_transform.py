"""The platform side of a Batch Transform job over CSV, written from the AWS docs.

Sources: API reference ``CreateTransformJob``, ``TransformInput``, ``TransformOutput`` and
``DataProcessing``; developer guide "Associate Prediction Results with Input Records"
(batch-transform-data-processing.html, "Supported JSONPath Operators") and "Use Batch
Transform". What they say, and what this does:

- ``SplitType=Line``: each line of an input object is a record;
- ``BatchStrategy=MultiRecord`` packs as many records as fit in ``MaxPayloadInMB`` into one
  request, ``SingleRecord`` sends one per request; the container gets ``ContentType`` and
  ``Accept`` as HTTP headers;
- ``InputFilter`` (JSONPath over each CSV row taken as an array) selects what the model sees;
- ``JoinSource=Input`` appends the transformed row to the end of the original input row;
- ``OutputFilter`` selects from the joined row (or from the prediction without a join);
- ``AssembleWith=Line`` ends every output record with a newline, and the result for input
  object ``x.csv`` is ``x.csv.out`` under ``S3OutputPath`` (sub-folders kept).

None of smlp's batch engine is used: this is what smlp's engine is checked against.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

Invoke = Callable[[bytes, str, str], bytes]
_INDEX = re.compile(r"^-?\d+$")


def select(path: str | None, fields: list[str]) -> list[str]:
    """``$``, ``$[i]``, ``$[i,j,...]`` and ``$[a:b]`` (either end optional, negatives count
    from the end) over one CSV row's fields."""
    if path in (None, "", "$"):
        return list(fields)
    match = re.fullmatch(r"\$\[(.*)\]", path.replace(" ", ""))
    if match is None:
        raise NotImplementedError(f"JSONPath {path!r}: only $[...] over CSV rows is mirrored")
    inner = match.group(1)
    if ":" in inner:
        start, _, stop = inner.partition(":")
        return fields[int(start) if start else None:int(stop) if stop else None]
    picked = []
    for token in inner.split(","):
        if not _INDEX.match(token):
            raise NotImplementedError(f"JSONPath {path!r}: index {token!r}")
        picked.append(fields[int(token)])
    return picked


def _batches(records: list[bytes], strategy: str, max_bytes: int) -> Iterator[list[bytes]]:
    if strategy == "SingleRecord":
        yield from ([r] for r in records)
        return
    batch: list[bytes] = []
    size = 0
    for record in records:
        if batch and size + len(record) + 1 > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record) + 1
    if batch:
        yield batch


def transform_object(body: bytes, request: dict[str, Any], invoke: Invoke,
                     max_payload_bytes: int | None = None) -> bytes:
    """One input object through the job described by the CreateTransformJob ``request``."""
    source = request["TransformInput"]
    target = request["TransformOutput"]
    processing = request.get("DataProcessing", {})
    if source.get("SplitType", "None") != "Line" or target.get("AssembleWith") != "Line":
        raise NotImplementedError("only SplitType=Line with AssembleWith=Line is mirrored")
    if source.get("CompressionType", "None") != "None":
        raise NotImplementedError("compressed input is not mirrored")
    content_type = source.get("ContentType", "text/csv")
    accept = target.get("Accept", "")
    join = processing.get("JoinSource", "None") == "Input"
    if join and not accept.startswith("text/csv"):
        raise NotImplementedError("joining a non-CSV answer to CSV input is not mirrored")
    max_bytes = max_payload_bytes or int(request.get("MaxPayloadInMB", 6)) * 1024 * 1024
    rows = [line for line in body.decode("utf-8").split("\n") if line.strip()]
    fields = [row.rstrip("\r").split(",") for row in rows]
    model_input = [",".join(select(processing.get("InputFilter"), f)).encode() for f in fields]

    answers: list[str] = []
    for batch in _batches(model_input, request.get("BatchStrategy", "MultiRecord"), max_bytes):
        response = invoke(b"".join(record + b"\n" for record in batch), content_type, accept)
        lines = [line for line in response.decode("utf-8").split("\n") if line.strip()]
        if len(lines) != len(batch):
            raise AssertionError(f"{len(batch)} records sent, {len(lines)} answers received")
        answers.extend(lines)

    out = []
    for original, answer in zip(fields, answers, strict=True):
        row = original + answer.split(",") if join else [answer]
        if not join and not accept.startswith("text/csv"):
            out.append(answer)  # JSON Lines records are written as the container sent them
            continue
        out.append(",".join(select(processing.get("OutputFilter"), row)))
    return "".join(line + "\n" for line in out).encode()


def output_key(input_key: str, input_prefix: str, output_prefix: str) -> str:
    """``x.csv`` -> ``<output>/x.csv.out``; folders under the input prefix are kept."""
    base = input_prefix if input_prefix.endswith("/") else input_prefix.rsplit("/", 1)[0] + "/"
    if not input_key.startswith(base):
        raise ValueError(f"{input_key} is not under {base}")
    return f"{output_prefix.rstrip('/')}/{input_key[len(base):]}.out"
