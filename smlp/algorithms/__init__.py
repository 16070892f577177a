"""The algorithm registry: ``--algo`` names to their contracts (pure data, cheap to import)."""

from __future__ import annotations

from smlp.algorithms import knn, sklearn_gbm, xgboost
from smlp.algorithms.spec import AlgorithmSpec, MetricDefinition

ALGORITHMS: dict[str, AlgorithmSpec] = {
    spec.name: spec for spec in (xgboost.SPEC, knn.SPEC, sklearn_gbm.SPEC)
}


def get_algorithm(name: str) -> AlgorithmSpec:
    """Look an algorithm up by its ``--algo`` name; KeyError lists the known ones."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        from smlp.suggest import did_you_mean

        raise KeyError(f"unknown algorithm {name!r}; expected one of {', '.join(ALGORITHMS)}"
                       f"{did_you_mean(name, ALGORITHMS)}") from None


__all__ = ["ALGORITHMS", "AlgorithmSpec", "MetricDefinition", "get_algorithm"]
