"""SageMaker's built-in k-NN (image ``knn:1``), emulated with faiss for smlp's local backend.

Training samples ``sample_size`` rows of the ``train`` channel, optionally reduces their
dimension (``sign`` or ``fjlt`` random projection), builds a faiss index and, when a ``test``
channel exists, prints ``#test_score (algo-1) : ('mse', <value>)`` (``'accuracy'`` for a
classifier) as the real algorithm does.

Artifact (``model/``), format version 1:

- ``knn-model.npz``: ``params`` (a JSON string: k, predictor_type, index_type, index_metric,
  feature_dim, dim, pad, nprobe, mini_batch_size, reduction), ``labels`` (float64, one per indexed
  point, in index order), ``projection`` (float64 ``feature_dim x dim`` matrix, or ``0 x 0``
  when there is no reduction), and for ``faiss.Flat`` ``vectors`` (float64, the indexed points
  after projection/normalisation), used to rebuild the index and to rank neighbours exactly.
- ``index.faiss``: the trained index (``faiss.write_index``) for ``faiss.IVFFlat``/``IVFPQ``.

Neighbours: ``faiss.Flat`` is exact: faiss (float32) proposes a few more candidates than ``k``,
which are re-ranked on float64 distances, ties to the earlier training row, so the answer is
brute-force k-NN's. The IVF indexes are approximate, searching ``nprobe = ceil(sqrt(nlist))``
lists. With ``faiss.IVFPQ`` the index dimension is grown to a multiple of
``faiss_index_pq_m`` as AWS documents: zero columns (``pad``) without dimension reduction, a
larger ``dimension_reduction_target`` with it. A regressor predicts the mean of the
neighbours' labels, a classifier their most common label (ties to the smallest label).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "knn-model.npz"
INDEX_FILE = "index.faiss"
FORMAT_VERSION = 1
# faiss_index_pq_m's valid values (AWS docs, kNN_hyperparameters).
PQ_M_VALUES = (1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)
SEED = 0  # k-NN has no seed hyperparameter: sampling and projections are seeded here
RERANK_ELEMENTS = 1 << 22  # float64 values gathered at once when re-ranking Flat candidates


class KnnModel:
    """Everything ``predict_fn`` needs, as loaded by ``model_fn``.

    A plain class, not a dataclass: dataclasses need the module in ``sys.modules``, and batch
    transform may load this file with ``importlib`` without registering it.
    """

    def __init__(
        self,
        params: dict[str, Any],
        labels: np.ndarray,
        projection: np.ndarray | None,
        vectors: np.ndarray | None,  # float64 indexed points, faiss.Flat only
        index: Any,  # faiss.Index
    ) -> None:
        self.params = params
        self.labels = labels
        self.projection = projection
        self.vectors = vectors
        self.index = index


# ------------------------------------------------------------------------------------ inference


def model_fn(model_dir: str) -> KnnModel:
    """Load ``knn-model.npz`` (and ``index.faiss`` for IVF indexes)."""
    import faiss

    folder = Path(model_dir)
    with np.load(folder / MODEL_FILE, allow_pickle=False) as archive:
        params = json.loads(str(archive["params"]))
        if params.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{MODEL_FILE}: unsupported format {params.get('format_version')}")
        labels = archive["labels"]
        projection = archive["projection"] if archive["projection"].size else None
        vectors = archive["vectors"] if "vectors" in archive.files else None
    if params["index_type"] == "faiss.Flat":
        assert vectors is not None
        index = _flat_index(params["index_metric"], vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    else:
        index = faiss.read_index(str(folder / INDEX_FILE))
        index.nprobe = params["nprobe"]
    return KnnModel(params, labels, projection, vectors, index)


def predict_fn(data: np.ndarray, model: KnnModel) -> np.ndarray:
    """One prediction per row of ``data``, searched ``mini_batch_size`` rows at a time."""
    features = np.asarray(data, dtype=np.float64)
    if features.ndim == 1:
        features = features.reshape(1, -1)
    if features.shape[1] != model.params["feature_dim"]:
        raise ValueError(
            f"expected {model.params['feature_dim']} feature columns, got {features.shape[1]}"
        )
    batch = int(model.params["mini_batch_size"])
    out = np.empty(len(features), dtype=np.float64)
    for start in range(0, len(features), batch):
        stop = start + batch
        neighbours = _neighbours(model, _transform(model, features[start:stop]))
        out[start:stop] = _vote(model, neighbours)
    return out


def _transform(model: KnnModel, features: np.ndarray) -> np.ndarray:
    points = features @ model.projection if model.projection is not None else features
    pad = int(model.params.get("pad", 0))  # zero columns that make the dimension divide pq_m
    if pad:
        points = np.pad(points, ((0, 0), (0, pad)))
    if model.params["index_metric"] == "COSINE":
        points = _normalise(points)
    return np.ascontiguousarray(points)


def _normalise(points: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.maximum(norms, np.finfo(np.float64).tiny)


def _neighbours(model: KnnModel, points: np.ndarray) -> np.ndarray:
    """Indices of the k nearest indexed points per row; -1 where an IVF search found fewer."""
    k = int(model.params["k"])
    queries = np.ascontiguousarray(points, dtype=np.float32)
    if model.vectors is None:
        return model.index.search(queries, k)[1]
    candidates = min(len(model.vectors), k + max(k, 16))
    proposed = model.index.search(queries, candidates)[1]
    return _rerank(model, points, proposed, k)


def _rerank(model: KnnModel, points: np.ndarray, proposed: np.ndarray, k: int) -> np.ndarray:
    """Exact float64 ranking of faiss's float32 candidates; equal distances keep row order."""
    assert model.vectors is not None
    step = max(1, RERANK_ELEMENTS // (proposed.shape[1] * model.vectors.shape[1]))
    result = np.empty((len(points), k), dtype=np.int64)
    inner = model.params["index_metric"] != "L2"
    for start in range(0, len(points), step):
        ids = proposed[start:start + step]
        ids = np.where(ids < 0, 0, ids)  # Flat never pads, but stay safe
        gathered = model.vectors[ids]  # (rows, candidates, dim)
        query = points[start:start + step]
        if inner:
            distance = -np.einsum("rcd,rd->rc", gathered, query)
        else:
            diff = gathered - query[:, None, :]
            distance = np.einsum("rcd,rcd->rc", diff, diff)
        order = np.lexsort((ids, distance), axis=-1)[:, :k]
        result[start:start + step] = np.take_along_axis(ids, order, axis=1)
    return result


def _vote(model: KnnModel, neighbours: np.ndarray) -> np.ndarray:
    valid = neighbours >= 0
    labels = model.labels[np.where(valid, neighbours, 0)]
    if model.params["predictor_type"] == "regressor":
        counts = valid.sum(axis=1)
        sums = np.where(valid, labels, 0.0).sum(axis=1)
        fallback = float(model.labels.mean())
        return np.where(counts > 0, sums / np.maximum(counts, 1), fallback)
    classes, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(labels.shape)
    rows = np.repeat(np.arange(len(labels)), labels.shape[1]).reshape(labels.shape)
    flat = (rows * len(classes) + codes)[valid]
    votes = np.bincount(flat, minlength=len(labels) * len(classes)).reshape(len(labels), -1)
    return classes[np.argmax(votes, axis=1)]  # first maximum: the smallest tied label


def _flat_index(metric: str, dim: int) -> Any:
    import faiss

    return faiss.IndexFlatL2(dim) if metric == "L2" else faiss.IndexFlatIP(dim)


# ------------------------------------------------------------------------------------- training


def _schema() -> dict[str, Any]:
    """The k-NN hyperparameter table of the AWS docs (kNN_hyperparameters), nothing more."""
    from _sm_io import Param

    return {
        "feature_dim": Param(int, 1, required=True),
        "k": Param(int, 1, required=True),
        "predictor_type": Param(str, choices=("regressor", "classifier"), required=True),
        "sample_size": Param(int, 1, required=True),
        "dimension_reduction_type": Param(str, choices=("sign", "fjlt")),
        "dimension_reduction_target": Param(int, 1),
        "index_type": Param(str, choices=("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")),
        "index_metric": Param(str, choices=("L2", "INNER_PRODUCT", "COSINE")),
        "faiss_index_ivf_nlists": Param(int, 1, also=("auto",)),
        "faiss_index_pq_m": Param(int, 1),
        "mini_batch_size": Param(int, 1),
    }


def _check(hps: dict[str, Any], data_dim: int) -> None:
    """SageMaker's cross-hyperparameter rules, checked before any work."""
    from _sm_io import JobError

    if hps["feature_dim"] != data_dim:
        raise JobError(
            f"hyperparameter feature_dim is {hps['feature_dim']} but the train channel has "
            f"{data_dim} feature columns"
        )
    reduction = hps.get("dimension_reduction_type")
    target = hps.get("dimension_reduction_target")
    if (reduction is None) != (target is None):
        raise JobError("dimension_reduction_type and dimension_reduction_target go together")
    if target is not None and not 0 < target < data_dim:
        raise JobError(
            f"hyperparameter dimension_reduction_target: expected 0 < target < feature_dim "
            f"({data_dim}), got {target}"
        )
    if hps.get("index_type") == "faiss.IVFPQ" and hps.get("index_metric", "L2") != "L2":
        raise JobError(
            f"index_metric {hps['index_metric']} is not supported with faiss.IVFPQ; use L2"
        )
    pq_m = hps.get("faiss_index_pq_m")
    if pq_m is not None and pq_m not in PQ_M_VALUES:
        raise JobError(f"hyperparameter faiss_index_pq_m: expected one of "
                       f"{', '.join(map(str, PQ_M_VALUES))}, got {pq_m}")


def _pq_m(hps: dict[str, Any], dim: int) -> int | None:
    """IVFPQ's sub-quantizer count: given, else the largest valid value up to 8 dividing dim."""
    if hps.get("index_type") != "faiss.IVFPQ":
        return None
    given = hps.get("faiss_index_pq_m")
    return given or max(m for m in PQ_M_VALUES if m <= min(dim, 8) and dim % m == 0)


def _padded(dim: int, pq_m: int | None) -> int:
    """AWS's rule for a pq_m that does not divide the dimension: grow the dimension to the
    smallest multiple of pq_m (zero padding, or a larger dimension_reduction_target)."""
    return dim if pq_m is None else -(-dim // pq_m) * pq_m


def _projection(kind: str | None, dim: int, target: int, rng: np.random.Generator) -> Any:
    """A seeded random ``dim x target`` map that roughly preserves distances (JL lemma)."""
    if kind is None:
        return None
    if kind == "sign":
        return rng.choice([-1.0, 1.0], size=(dim, target)) / math.sqrt(target)
    # FJLT (subsampled randomised Hadamard): x -> sqrt(p/t) * S H D x, x zero-padded to p=2^m,
    # D random signs, H the orthonormal Walsh-Hadamard transform, S picks t of p coordinates.
    # As a matrix, entry (i, j) is D_i * H[i, S_j] * sqrt(p/t) / sqrt(p), H[i, c] the Sylvester
    # sign (-1)^popcount(i & c); materialising it beats a transform per row at tabular widths.
    padded = 1 << max(max(dim, target) - 1, 0).bit_length()
    signs = rng.choice([-1.0, 1.0], size=dim)
    coords = np.sort(rng.choice(padded, size=target, replace=False))
    bits = np.bitwise_and.outer(np.arange(dim), coords)
    parity = np.zeros_like(bits)
    while bits.any():
        parity ^= bits & 1
        bits >>= 1
    return signs[:, None] * (1.0 - 2.0 * parity) / math.sqrt(target)


def _build_index(hps: dict[str, Any], points: np.ndarray) -> tuple[Any, int]:
    """The faiss index over ``points`` and the nprobe its searches use (0 for Flat)."""
    import faiss
    from _sm_io import JobError

    index_type = hps.get("index_type", "faiss.Flat")
    metric = hps.get("index_metric", "L2")
    count, dim = points.shape
    vectors = np.ascontiguousarray(points, dtype=np.float32)
    if index_type == "faiss.Flat":
        index = _flat_index(metric, dim)
        index.add(vectors)
        return index, 0
    nlist = hps.get("faiss_index_ivf_nlists", "auto")
    if nlist == "auto":
        # sqrt(sample_size), capped so each list gets the 39 points faiss's k-means wants.
        nlist = max(1, min(round(math.sqrt(count)), count // 39))
    elif nlist > count:
        raise JobError(
            f"hyperparameter faiss_index_ivf_nlists ({nlist}) exceeds the {count} sampled "
            "training points"
        )
    faiss_metric = faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT
    quantizer = _flat_index(metric, dim)
    if index_type == "faiss.IVFFlat":
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss_metric)
    else:
        pq_m = _pq_m(hps, dim)
        assert pq_m is not None and dim % pq_m == 0  # train() padded the points
        nbits = max(1, min(8, int(math.log2(count))))  # k-means needs 2^nbits points
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, nbits)
    index.train(vectors)
    index.add(vectors)
    index.nprobe = min(nlist, math.ceil(math.sqrt(nlist)))
    return index, index.nprobe


def train() -> None:
    """The training job: sample, project, index, score ``test``, write ``model/``."""
    import _sm_io as io

    hps = io.parse_hyperparameters(io.read_hyperparameters(), _schema())
    declared = io.check_channels(("train", "test"), required=("train",))
    train_data = io.read_channel("train", required=True)
    assert train_data is not None
    labels, features = train_data
    _check(hps, features.shape[1])
    test_data = io.read_channel("test", required="test" in declared)
    if test_data is not None and test_data[1].shape[1] != features.shape[1]:
        raise io.JobError(
            f"test has {test_data[1].shape[1]} feature columns but train has "
            f"{features.shape[1]}"
        )
    if np.isnan(features).any():
        raise io.JobError("train channel has missing feature values; k-NN needs complete rows")

    rng = np.random.default_rng(SEED)
    if hps["sample_size"] < len(features):
        keep = np.sort(rng.choice(len(features), size=hps["sample_size"], replace=False))
        labels, features = labels[keep], features[keep]
    if hps["k"] > len(features):
        raise io.JobError(f"hyperparameter k ({hps['k']}) exceeds the {len(features)} "
                          "sampled training points")
    reduction = hps.get("dimension_reduction_type")
    target = hps.get("dimension_reduction_target", features.shape[1])
    index_dim = _padded(target, _pq_m(hps, target))
    if reduction is not None:
        target = index_dim  # AWS raises dimension_reduction_target to a multiple of pq_m
    projection = _projection(reduction, features.shape[1], target, rng)
    params = {
        "format_version": FORMAT_VERSION,
        "k": hps["k"],
        "predictor_type": hps["predictor_type"],
        "index_type": hps.get("index_type", "faiss.Flat"),
        "index_metric": hps.get("index_metric", "L2"),
        "feature_dim": features.shape[1],
        "dim": index_dim,
        "pad": index_dim - target,
        "reduction": reduction,
        "mini_batch_size": hps.get("mini_batch_size", 5000),
        "nprobe": 0,
    }
    model = KnnModel(params, labels, projection, None, None)
    points = _transform(model, features)
    print(f"Indexing {len(points)} points of dimension {points.shape[1]} with "
          f"{params['index_type']} ({params['index_metric']})", flush=True)
    model.index, params["nprobe"] = _build_index(hps, points)
    if params["index_type"] == "faiss.Flat":
        model.vectors = points
    _save(model, io.model_dir())

    if test_data is not None:
        predictions = predict_fn(test_data[1], model)
        if params["predictor_type"] == "regressor":
            score = ("mse", float(np.mean((predictions - test_data[0]) ** 2)))
        else:
            score = ("accuracy", float(np.mean(predictions == test_data[0])))
        print(f"#test_score (algo-1) : {score!r}", flush=True)


def _save(model: KnnModel, folder: Path) -> None:
    import faiss

    arrays: dict[str, np.ndarray] = {
        "params": np.array(json.dumps(model.params)),
        "labels": np.asarray(model.labels, dtype=np.float64),
        "projection": model.projection if model.projection is not None else np.empty((0, 0)),
    }
    if model.vectors is not None:
        arrays["vectors"] = model.vectors
    else:
        faiss.write_index(model.index, str(folder / INDEX_FILE))
    np.savez(folder / MODEL_FILE, **arrays)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _sm_io import run_job

    sys.exit(run_job(train))
