"""A classifier's transform output in the original labels: what ``smlp transform`` writes for
binary and multiclass data, after the job (either backend) wrote the container's output.

Per record the containers answer with scores: XGBoost's binary:logistic ``0.83`` (P(class
1)), multi:softprob ``[0.1, 0.2, 0.7]`` (``str`` of the list, algorithm_mode/serve.py), the
scikit-learn script ``0.1,0.2,0.7``, k-NN its predicted label code. The prediction is the last
field(s) of each line (named output, the prediction alone, or joined after the input row).
By default it becomes the predicted label (``classes[argmax]``; binary: P > 0.5, as the
container's ``predicted_label``, serve_utils.py ``_get_predicted_label``); on request the class
probabilities, one field per class, under a header of the class names. Vectorized with
pyarrow, streamed block by block: memory stays flat whatever the output size.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from smlp.errors import ConfigError, DataError

LABELS_ONLY = frozenset({"knn"})
BLOCK_BYTES = 16 << 20
_NEVER = "\x01"  # a delimiter no output line holds: each line is read as one text value


def check_probabilities(algo: str, problem_type: str) -> None:
    """Refuse, before any job, probabilities that the data or the model cannot give."""
    if problem_type == "regression":
        raise ConfigError("--probabilities: the data is regression; there are no classes")
    if algo in LABELS_ONLY:
        raise ConfigError(f"--probabilities: the {algo} model gives predicted labels only (no "
                          "class probabilities); use an xgboost or sklearn-gbm candidate")


def check_filter(output_filter: str | None) -> None:
    if output_filter is not None and not output_filter.replace(" ", "").endswith("-1]"):
        raise ConfigError(f"transform.output_filter {output_filter}: for a classifier the "
                          "prediction must be the last field written (e.g. '$[0,-1]')")


def relabel(path: Path, classes: list[str], algo: str, probabilities: bool, header: bool,
            first_is_label: bool, target: str) -> None:
    """Rewrite ``path`` (a ``.out`` file) in place: scores to labels or probabilities."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb") as handle:
        first = handle.readline() if header else b""
        sample = handle.readline()
    # One number a line (the prediction alone, binary or k-NN): parsed as numbers in C.
    numbers = ((algo == "xgboost" and len(classes) == 2 or algo in LABELS_ONLY)
               and not first_is_label and b"," not in sample and b"[" not in sample)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with open(fd, "wb") as out:
            if header:
                out.write(_header(first.decode("utf-8").rstrip("\r\n"), classes, probabilities))
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(column_names=["line"], block_size=BLOCK_BYTES,
                                               skip_rows=1 if header else 0),
                parse_options=pacsv.ParseOptions(delimiter=_NEVER, quote_char=False,
                                                 escape_char=False),
                convert_options=pacsv.ConvertOptions(
                    column_types={"line": pa.float64() if numbers else pa.string()},
                    strings_can_be_null=False),
            )
            wrote_header = header
            for batch in reader:
                lines = batch.column(0)
                if not len(lines):
                    continue
                if numbers:
                    if lines.null_count:
                        raise DataError(f"{path}: an empty prediction")
                    scores = _floats(lines).reshape(-1, 1)
                    prediction = _prediction(scores, classes, algo, probabilities, str(path))
                    if probabilities and not wrote_header:
                        out.write((",".join(_quote(c) for c in classes) + "\n").encode())
                        wrote_header = True
                    out.write(_text_bytes(_lines(prediction)))
                    continue
                fields, before = _convert(lines, classes, algo, probabilities, first_is_label,
                                          str(path))
                if probabilities and not wrote_header:  # headerless output: name what we can
                    names = ([target] if first_is_label else []) + [""] * (
                        before - (1 if first_is_label else 0))
                    out.write((",".join(names + [_quote(c) for c in classes]) + "\n").encode())
                    wrote_header = True
                out.write(_text_bytes(fields))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _lines(values: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(values, pa.scalar(""), "\n")


def _header(line: str, classes: list[str], probabilities: bool) -> bytes:
    """The header with the prediction's name kept, or replaced by the class names."""
    if not probabilities:
        return (line + "\n").encode()
    head, _, _ = line.rpartition(",")
    names = ",".join(_quote(name) for name in classes)
    return ((head + "," if head else "") + names + "\n").encode()


def _quote(name: str) -> str:
    if any(char in name for char in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


def _convert(lines: Any, classes: list[str], algo: str, probabilities: bool,
             first_is_label: bool, source: str) -> tuple[Any, int]:
    """(the new lines, each ending in a newline; the number of fields before the scores)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    k = len(classes)
    single = algo == "xgboost" and k == 2 or algo in LABELS_ONLY
    if single and not first_is_label and "," not in str(lines[0]):
        # The prediction alone, one number a line (the common case): no splitting at all.
        try:
            scores = _floats(pc.cast(lines, pa.float64())).reshape(-1, 1)
        except (pa.ArrowInvalid, ValueError):
            raise DataError(f"{source}: not the scores of a {k}-class {algo} model (already "
                            "labelled?)") from None
        prediction = _prediction(scores, classes, algo, probabilities, source)
        return pc.binary_join_element_wise(prediction, pa.scalar(""), "\n"), 0
    if algo == "xgboost" and k > 2:  # "...,[p0, p1, p2]": split at the last "["
        parts = pc.split_pattern(lines, "[", max_splits=1, reverse=True)
        separator, tail = ", ", 1
    else:  # the last field (xgboost binary, k-NN) or the last k (scikit-learn's row)
        tail = 1 if (algo == "xgboost" or algo in LABELS_ONLY) else k
        parts = pc.split_pattern(lines, ",", max_splits=tail, reverse=True)
        separator = ","
    sizes = pc.list_value_length(parts)
    low, high = (pc.min_max(sizes).values())
    if low.as_py() != high.as_py() or low.as_py() not in (tail, tail + 1):
        raise DataError(f"{source}: not the predictions of a {k}-class {algo} model (lines "
                        "of different shapes)")
    with_head = low.as_py() == tail + 1
    if with_head:
        head = pc.list_element(parts, 0)
        if separator == ", ":  # "...,[" split: the head keeps its comma
            text = pc.list_element(parts, 1)
        else:
            head = pc.binary_join_element_wise(head, pa.scalar(""), ",")
    else:
        head = pa.array([""] * len(lines), pa.string()) if len(lines) else pa.array([], pa.string())
        text = pc.list_element(parts, 0) if separator == ", " else None
    if separator == ", ":
        text = pc.replace_substring(pc.replace_substring(text, "]", ""), "[", "")
        flat = pc.list_flatten(pc.split_pattern(text, separator))
    else:
        flat = pc.list_flatten(pc.list_slice(parts, 1 if with_head else 0))
    try:
        scores = _floats(pc.cast(flat, pa.float64())).reshape(len(lines), -1)
    except (pa.ArrowInvalid, ValueError):
        raise DataError(f"{source}: not the scores of a {k}-class {algo} model (already "
                        "labelled?)") from None
    names = pa.array(classes, pa.string())
    prediction = _prediction(scores, classes, algo, probabilities, source)
    if first_is_label:  # the prepared split's label code, in column 0
        first = pc.split_pattern(head, ",", max_splits=1)
        code = pc.cast(pc.cast(pc.list_element(first, 0), pa.float64()), pa.int64())
        head = pc.binary_join_element_wise(pc.take(names, code), pc.list_element(first, 1),
                                           ",")
    joined = pc.binary_join_element_wise(head, prediction, "")
    before = int(pc.max(pc.count_substring(head, ",")).as_py() or 0)
    return pc.binary_join_element_wise(joined, pa.scalar(""), "\n"), before


def _prediction(scores: Any, classes: list[str], algo: str, probabilities: bool,
                source: str) -> Any:
    """The label (or the probability fields) per row, as text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    k = len(classes)
    names = pa.array(classes, pa.string())
    if algo in LABELS_ONLY:
        codes = scores[:, 0].astype(np.int64)
    elif scores.shape[1] == 1:  # binary:logistic: P(class 1)
        scores = np.column_stack([1.0 - scores[:, 0], scores[:, 0]])
        codes = (scores[:, 1] > 0.5).astype(np.int64)
    else:
        codes = np.argmax(scores, axis=1)
    if probabilities:
        columns = [pc.cast(pa.array(scores[:, i]), pa.string()) for i in range(k)]
        prediction = pc.binary_join_element_wise(*columns, ",")
    else:
        if codes.size and (codes.min() < 0 or codes.max() >= k):
            raise DataError(f"{source}: a predicted class code outside 0..{k - 1}")
        prediction = pc.take(names, pa.array(codes))
    return prediction


def _floats(array: Any) -> Any:
    """A float64 Arrow array (no nulls) as numpy, from its buffer: ``to_numpy`` would import
    pandas (seconds on a loaded machine) to ask whether it is there."""
    import numpy as np
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    data = array.buffers()[1]
    return np.frombuffer(data, dtype=np.float64, count=array.offset + len(array))[array.offset:]


def _text_bytes(array: Any) -> bytes:
    """The concatenated bytes of a string array's values."""
    import numpy as np
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return data.to_pybytes()[int(bounds[0]):int(bounds[-1])]
