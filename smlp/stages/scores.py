"""Reading a classifier's batch output back for scoring: labels from the split, scores from the
transform output, as each container writes them.

Per record the XGBoost container writes ``str`` of its prediction (``0.83`` for
binary:logistic, ``[0.1, 0.2, 0.7]`` for multi:softprob; algorithm_mode/serve.py), the
scikit-learn script a CSV row of probabilities (``0.1,0.9``), k-NN its predicted label.
"""

from __future__ import annotations

import json
from typing import Any

from smlp.errors import DataError
from smlp.manifest import Candidate
from smlp.metrics import classification_metrics
from smlp.store import Store

# Algorithms whose output is a predicted label, not class probabilities.
LABELS_ONLY = frozenset({"knn"})

__all__ = ["classification_metrics", "parse_scores", "read_scores"]


def _read_text(store: Store, uri: str) -> str:
    if uri.startswith("s3://"):
        return store.read_bytes(store.key(uri)).decode("utf-8")
    with open(uri, encoding="utf-8") as handle:
        return handle.read()


def split_labels(store: Store, split: Any) -> Any:
    """Column 0 (the label code) of a prepared split (a ``SplitArtifact``: its shards in
    order), or of one split file by URI."""
    import numpy as np

    uris = [shard.uri for shard in split.shards] if hasattr(split, "shards") else [split]
    labels = []
    for uri in uris:
        lines = [line for line in _read_text(store, uri).splitlines() if line.strip()]
        labels.extend(float(line.split(",", 1)[0]) for line in lines)
    return np.array(labels, dtype=np.float64)


def parse_scores(lines: list[str], algo: str, n_classes: int, source: str) -> Any:
    """Rows x classes probabilities, or one label code per row for a labels-only model."""
    import numpy as np

    values: list[list[float]] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        try:
            row = json.loads(text) if text.startswith("[") else \
                [float(part) for part in text.split(",")]
        except ValueError:
            raise DataError(f"{source} line {number}: not a prediction ({text[:40]!r})") from None
        values.append([float(v) for v in (row if isinstance(row, list) else [row])])
    widths = {len(row) for row in values}
    if len(widths) != 1:
        raise DataError(f"{source}: predictions of different widths {sorted(widths)}")
    scores = np.array(values, dtype=np.float64)
    if algo in LABELS_ONLY:
        return scores[:, 0]
    if scores.shape[1] == 1 and n_classes == 2:  # P(class 1), as binary:logistic gives it
        scores = np.column_stack([1.0 - scores[:, 0], scores[:, 0]])
    if scores.shape[1] != n_classes:
        raise DataError(f"{source}: {scores.shape[1]} class probabilities per row, but the data "
                        f"has {n_classes} classes; re-run `smlp train`")
    total = scores.sum(axis=1, keepdims=True)
    return scores / np.where(total > 0, total, 1.0)


def read_scores(store: Store, split_data: Any, output_uris: str | list[str],
                candidate: Candidate, problem: tuple[str, int],
                split: str) -> tuple[Any, Any]:
    """(label codes, scores) of one candidate's transform of ``split``, in row order:
    ``split_data`` the split (or one split file's URI), ``output_uris`` the transform's
    outputs in shard order."""
    import numpy as np

    labels = split_labels(store, split_data)
    uris = [output_uris] if isinstance(output_uris, str) else output_uris
    lines = [line for uri in uris
             for line in _read_text(store, uri).splitlines() if line.strip()]
    output_uri = uris[0] if len(uris) == 1 else uris[0].rsplit("/", 1)[0]
    if len(lines) != len(labels):
        raise DataError(f"{output_uri}: {len(lines)} predictions for the {len(labels)} rows of "
                        f"the {split} split")
    scores = parse_scores(lines, candidate.algo, problem[1], output_uri)
    codes = labels.astype(np.int64)
    unseen = (codes < 0) | (codes >= problem[1]) | (codes != labels)
    if unseen.any():
        row = int(np.flatnonzero(unseen)[0])
        raise DataError(f"{split} split row {row + 1}: label code {labels[row]:g} is not one of "
                        f"the {problem[1]} classes {candidate.name} was trained on "
                        f"(0..{problem[1] - 1}); re-run `smlp data` and `smlp train`")
    if scores.ndim == 1:
        predicted = scores.astype(np.int64)
        if ((predicted < 0) | (predicted >= problem[1])).any():
            raise DataError(f"{output_uri}: a predicted label outside 0..{problem[1] - 1}")
    return labels, scores
