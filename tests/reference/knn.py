"""A reference for SageMaker's built-in k-NN (``knn:1``), independent of smlp's emulation.

The ``knn:1`` artifact is opaque and smlp never reads it, so only the contract is mirrored
(AWS developer guide: "k-NN Hyperparameters", "k-NN Request and Response Formats"): CSV
channels with the label first, exact neighbours (brute force, L2), the regressor's prediction
the mean label of the ``k`` nearest training rows, the training log's
``#test_score (algo-1) : ('mse', <value>)`` line when a ``test`` channel is given, and answers
in JSON or JSON Lines (``{"predicted_label": <value>}``), never CSV.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "model_algo-1"


def _channel(folder: Path) -> np.ndarray:
    parts = [np.loadtxt(p, delimiter=",", ndmin=2) for p in sorted(folder.iterdir())
             if p.is_file()]
    return np.concatenate(parts)


def train(base: Path) -> list[str]:
    """Fit on ``train``, score ``test``; writes an artifact only this module reads."""
    from sklearn.metrics import mean_squared_error
    from sklearn.neighbors import KNeighborsRegressor

    config = base / "input" / "config"
    hps = json.loads((config / "hyperparameters.json").read_text())
    channels = json.loads((config / "inputdataconfig.json").read_text())
    if hps.get("predictor_type") != "regressor":
        raise NotImplementedError("the reference covers predictor_type=regressor")
    data = _channel(base / "input" / "data" / "train")
    if data.shape[1] - 1 != int(hps["feature_dim"]):
        raise ValueError(f"feature_dim {hps['feature_dim']} but {data.shape[1] - 1} features")
    sample_size = int(hps["sample_size"])
    if sample_size < len(data):
        raise NotImplementedError("the reference keeps every training row (sample_size >= rows)")
    model = KNeighborsRegressor(n_neighbors=int(hps["k"]), algorithm="brute")
    model.fit(data[:, 1:], data[:, 0])
    (base / "model").mkdir(parents=True, exist_ok=True)
    (base / "model" / MODEL_FILE).write_bytes(pickle.dumps(model))
    lines = [f"[01/01/2025 00:00:00 INFO 1] Fitting {len(data)} points, k={hps['k']}"]
    if "test" in channels:
        test = _channel(base / "input" / "data" / "test")
        mse = float(mean_squared_error(test[:, 0], model.predict(test[:, 1:])))
        lines.append(f"[01/01/2025 00:00:01 INFO 1] #test_score (algo-1) : ('mse', {mse!r})")
    return lines


class KnnServing:
    """``POST /invocations``: CSV rows of features in, JSON Lines or JSON out."""

    def __init__(self, model_dir: Path) -> None:
        self.model: Any = pickle.loads((model_dir / MODEL_FILE).read_bytes())

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.model.predict(features)

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        if content_type.split(";")[0].strip() != "text/csv":
            raise NotImplementedError(f"content type {content_type}: only text/csv is mirrored")
        features = np.loadtxt(body.decode().splitlines(), delimiter=",", ndmin=2)
        labels = [float(value) for value in self.predict(features)]
        kind = accept.split(";")[0].strip()
        if kind == "application/jsonlines":
            return "".join(json.dumps({"predicted_label": v}) + "\n" for v in labels).encode()
        if kind == "application/json":
            return json.dumps({"predictions": [{"predicted_label": v} for v in labels]}).encode()
        raise ValueError(f"k-NN cannot answer in {accept}")  # 406 in the real container
