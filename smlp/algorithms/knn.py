"""SageMaker's built-in k-nearest-neighbors: hyperparameters, channels and its ``test:*`` metrics.

KNN reports its metric on the ``test`` channel. smlp feeds the *validation* split into that
channel so the held-out test split stays unseen until ``smlp compare``.
"""

from __future__ import annotations

from smlp.algorithms.hyperparameters import Hyperparameter as H
from smlp.algorithms.spec import NUMBER, AlgorithmSpec, MetricDefinition

_HYPERPARAMETERS = [
    H("feature_dim", "int", 1, required=True, tunable=False),
    H("k", "int", 1, 1024, required=True),
    H("predictor_type", "str", choices=("regressor", "classifier"), required=True,
      tunable=False),
    H("sample_size", "int", 1, 20_000_000, required=True),
    H("dimension_reduction_type", "str", choices=("sign", "fjlt")),
    H("dimension_reduction_target", "int", 1),
    H("index_type", "str", choices=("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")),
    H("index_metric", "str", choices=("L2", "INNER_PRODUCT", "COSINE")),
    H("faiss_index_ivf_nlists", "int", 1, also=("auto",)),
    H("faiss_index_pq_m", "int", 1),
    H("mini_batch_size", "int", 1),
    H("epochs", "int", 1, 1, tunable=False),
    H("seed", "int", 0, tunable=False),
]

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
    metrics=(MetricDefinition("test:mse", rf"#test_score \(algo-1\) : \('mse', {NUMBER}\)"),),
    default_objective="test:mse",
    derived=("feature_dim",),
)


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
