"""SageMaker's built-in k-nearest-neighbors: hyperparameters, channels and its ``test:*`` metrics.

KNN reports its metric on the ``test`` channel. smlp feeds the *validation* split into that
channel so the held-out test split stays unseen until ``smlp compare``.
"""

from __future__ import annotations

from smlp.algorithms.hyperparameters import Hyperparameter as H
from smlp.algorithms.spec import NUMBER, AlgorithmSpec, MetricDefinition

# AWS docs, "k-NN Hyperparameters" (kNN_hyperparameters): these names and no others (no seed, no
# epochs). Valid values are "positive integer" where no range is given; only k and sample_size
# are tunable ("Tune a k-NN Model", table "Tunable k-NN Hyperparameters", recommended ranges
# k 1-1024 and sample_size 256-20,000,000, which are no limits).
PQ_M_VALUES = (1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)  # faiss_index_pq_m
_HYPERPARAMETERS = [
    H("feature_dim", "int", 1, required=True, tunable=False),
    H("k", "int", 1, required=True),
    H("predictor_type", "str", choices=("regressor", "classifier"), required=True,
      tunable=False),
    H("sample_size", "int", 1, required=True),
    H("dimension_reduction_type", "str", choices=("sign", "fjlt"), tunable=False),
    H("dimension_reduction_target", "int", 1, tunable=False),
    H("index_type", "str", choices=("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ"),
      tunable=False),
    H("index_metric", "str", choices=("L2", "INNER_PRODUCT", "COSINE"), tunable=False),
    H("faiss_index_ivf_nlists", "int", 1, also=("auto",), tunable=False),
    H("faiss_index_pq_m", "int", choices=tuple(str(m) for m in PQ_M_VALUES), tunable=False),
    H("mini_batch_size", "int", 1, tunable=False),
]

# "Tune a k-NN Model", "Metrics Computed by the k-NN Algorithm": test:mse (regressor, Minimize)
# and test:accuracy (classifier, Maximize), both tuning objectives.
_METRICS = (
    MetricDefinition("test:mse", rf"#test_score \(algo-1\) : \('mse', {NUMBER}\)"),
    MetricDefinition("test:accuracy", rf"#test_score \(algo-1\) : \('accuracy', {NUMBER}\)",
                     minimize=False),
)

SPEC = AlgorithmSpec(
    name="knn",
    title="k-NN (SageMaker built-in)",
    entry_point="knn_builtin.py",
    image_framework="knn",
    default_container_version="1",
    content_type="text/csv;label_size=1",
    channels={"train": "train", "test": "validation"},
    required_channels=("train",),
    hyperparameters={h.name: h for h in _HYPERPARAMETERS},
    defaults={
        "k": 10,
        "sample_size": 20_000,
        "predictor_type": "regressor",
        "index_type": "faiss.Flat",
        "index_metric": "L2",
    },
    metrics=_METRICS,
    default_objective="test:mse",
    derived=("feature_dim",),
    # Not among the built-in algorithms that checkpoint ("Use checkpoints"): with managed
    # spot training its MaxWaitTimeInSeconds is at most 3600.
    supports_checkpoints=False,
)


def padded_dimension(dimension: int, pq_m: int) -> int:
    """The index dimension k-NN uses with IVFPQ: the smallest multiple of ``pq_m``.

    AWS docs, faiss_index_pq_m: FAISS needs pq_m to divide the data dimension, so k-NN
    "increase[s] the data dimension to [the] smallest integer divisible by faiss_index_pq_m":
    zero padding without dimension reduction, a larger dimension_reduction_target with it.
    """
    return -(-dimension // pq_m) * pq_m


def check_combination(values: dict[str, object]) -> None:
    """Rules SageMaker enforces across KNN hyperparameters; raises ValueError."""
    reduction = values.get("dimension_reduction_type")
    target = values.get("dimension_reduction_target")
    if reduction is not None and target is None:
        raise ValueError("dimension_reduction_target is required with dimension_reduction_type")
    feature_dim = values.get("feature_dim")
    if reduction is not None and feature_dim is not None and not 0 < int(target) < int(feature_dim):
        raise ValueError(
            f"dimension_reduction_target: expected 0 < target < feature_dim ({feature_dim}), "
            f"got {target}"
        )
    if values.get("index_type") == "faiss.IVFPQ" and values.get("index_metric") in {
        "INNER_PRODUCT", "COSINE"
    }:
        raise ValueError("index_metric: INNER_PRODUCT and COSINE are not supported with IVFPQ")
