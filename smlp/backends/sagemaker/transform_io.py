"""Moving Batch Transform data between this machine and S3, and finishing what SageMaker cannot.

Two cases need smlp's help, and both reuse the local batch engine so that the result is the
same file the local backend writes:

- raw input with a header (the user's own columns) is encoded with the recorded schema before
  upload, since a SageMaker container knows nothing of smlp's schema;
- built-in KNN answers in JSON only (its documented response formats are JSON, JSON Lines and
  RecordIO-protobuf), so SageMaker returns predictions alone and smlp joins and filters them.

In both, the local engine replays SageMaker's predictions instead of calling a model.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smlp.errors import DataError

if TYPE_CHECKING:
    import numpy as np

    from smlp.backends.base import TransformJobSpec

# Algorithms whose serving container cannot answer in text/csv, and what to ask for instead.
JSON_ONLY = {"knn": "application/jsonlines"}
# What a model computes in, where that is not float64. XGBoost predicts float32 and its
# container writes them widened (algorithm_mode/serve.py: "\n".join(map(str, preds.tolist()))),
# so narrowing SageMaker's text back is exact and the replayed file is the local one, byte
# for byte (the local backend writes the float32 values as they come).
PREDICTION_DTYPES = {"xgboost": "float32"}


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def batch_options(job: TransformJobSpec, *, filters: bool = True) -> Any:
    """What the local backend would run: the same translation, so the files are the same."""
    from smlp.batch import batch_options as local_options

    return local_options(job.options, job.schema, filters=filters)


def encode_file(raw: Path, target: Path, job: TransformJobSpec) -> Any:
    """Write ``raw``'s rows as the model's header-less feature CSV; return the BatchResult.

    The local engine reads and encodes exactly as it does for a local transform (counting,
    or refusing, unseen categories before anything is uploaded); its "model" here only
    writes the encoded features out.
    """
    import numpy as np

    from smlp.batch import run_batch

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle, \
            tempfile.TemporaryDirectory(prefix="smlp-encode-") as scratch:
        def write(features: np.ndarray) -> np.ndarray:
            np.savetxt(handle, features, delimiter=",", fmt="%.9g")
            return np.zeros(len(features))

        result = run_batch(raw, Path(scratch), write, job.n_features,
                           batch_options(job, filters=False), encoder=job.schema)
    return result


def parse_predictions(lines: Iterator[str]) -> list[float | str]:
    """One value per record from CSV (``1.5``) or JSON Lines (``{"predicted_label": 1.5}``,
    or a ``{"predictions": [...]}`` object per mini-batch). A classifier's class scores per
    record stay one text value, as the container wrote them: XGBoost softprob's
    ``[0.1, 0.2, 0.7]`` (serve.py's ``str`` of the list) and the scikit-learn script's CSV row
    ``0.1,0.9`` (its ``output_fn``), which is what the local backend writes for the record."""
    values: list[float | str] = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if text[0] not in "{[":
            values.append(text if "," in text else float(text))
            continue
        item = json.loads(text)
        if isinstance(item, list) and all(isinstance(v, int | float) for v in item):
            values.append(text)
            continue
        records = item.get("predictions", [item]) if isinstance(item, dict) else item
        for record in records:
            values.append(float(record["predicted_label"] if isinstance(record, dict)
                                else record))
    return values


class Replay:
    """A "model" that hands out SageMaker's predictions in input order."""

    def __init__(self, predictions: list[float | str], source: str,
                 dtype: str = "float64") -> None:
        self.predictions = predictions
        self.position = 0
        self.source = source
        self.dtype = dtype

    def __call__(self, features: np.ndarray) -> np.ndarray:
        import numpy as np

        end = self.position + len(features)
        if end > len(self.predictions):
            raise DataError(f"{self.source}: SageMaker returned {len(self.predictions)} "
                            f"predictions, fewer than the input's rows")
        values = self.predictions[self.position:end]
        text = bool(values) and isinstance(values[0], str)
        chunk = np.array(values, dtype=object) if text else np.asarray(values, dtype=self.dtype)
        self.position = end
        return chunk

    def check_consumed(self) -> None:
        if self.position != len(self.predictions):
            raise DataError(f"{self.source}: SageMaker returned {len(self.predictions)} "
                            f"predictions for {self.position} rows")


def replay(input_file: Path, predictions_file: Path, out_dir: Path,
           job: TransformJobSpec) -> tuple[Path, int]:
    """Write ``<input>.out`` with the job's join and filters, from SageMaker's predictions."""
    from smlp.batch import run_batch

    with open(predictions_file, encoding="utf-8") as handle:
        predict = Replay(parse_predictions(handle), str(predictions_file),
                         PREDICTION_DTYPES.get(job.algorithm, "float64"))
    result = run_batch(input_file, out_dir, predict, job.n_features,
                       batch_options(job), encoder=job.schema)
    predict.check_consumed()
    _, target, rows = result.files[0]
    return target, rows


def count_lines(body: Any) -> int:
    """Newlines in a streaming S3 body, without holding it in memory."""
    total = 0
    last = b"\n"
    for chunk in body.iter_chunks(1 << 20):
        total += chunk.count(b"\n")
        last = chunk[-1:] or last
    return total + (0 if last == b"\n" else 1)
