"""Production variants: weighted routing, the target-variant header, per-variant counters.

SageMaker sends each request to a variant with probability ``weight / sum(weights)``
(``ProductionVariant.InitialVariantWeight``; ``UpdateEndpointWeightsAndCapacities`` changes
them in place); ``X-Amzn-SageMaker-Target-Variant`` overrides the draw, and the response names
the variant in ``X-Amzn-Invoked-Production-Variant`` (InvokeEndpoint API reference).
"""

from __future__ import annotations

import bisect
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smlp.errors import ConfigError

# ProductionVariant.VariantName: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
VARIANT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
LATENCY_SAMPLES = 10_000  # per variant, a ring buffer for the percentiles


def check_variant_name(name: str) -> str:
    if not VARIANT_NAME.match(name):
        raise ConfigError(f"variant {name!r}: SageMaker variant names are letters, digits and "
                          "hyphens (no leading/trailing hyphen), at most 63 characters")
    return name


@dataclass
class VariantStats:
    """Counters a local endpoint reports, as CloudWatch's per-variant metrics would."""

    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    rows: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    _next: int = 0

    def record(self, status: int, rows: int, latency_ms: float) -> None:
        self.invocations += 1
        if 400 <= status < 500:
            self.errors_4xx += 1
        elif status >= 500:
            self.errors_5xx += 1
        else:
            self.rows += rows
        if len(self.latencies_ms) < LATENCY_SAMPLES:
            self.latencies_ms.append(latency_ms)
        else:
            self.latencies_ms[self._next] = latency_ms
            self._next = (self._next + 1) % LATENCY_SAMPLES

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)

        def pick(q: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) \
                if ordered else None

        return {"invocations": self.invocations, "rows": self.rows,
                "errors_4xx": self.errors_4xx, "errors_5xx": self.errors_5xx,
                "latency_ms_p50": pick(0.50), "latency_ms_p99": pick(0.99)}


@dataclass
class Variant:
    """One production variant: a name, a weight and the model that answers for it."""

    name: str
    weight: float
    predict: Callable[[Any], Any]
    model: str  # the candidate it serves
    algorithm: str = ""
    model_sha256: str = ""
    stats: VariantStats = field(default_factory=VariantStats)


class Router:
    """Picks a variant per request; thread-safe, seeded for reproducible traffic splits."""

    def __init__(self, variants: list[Variant], seed: int | None = None) -> None:
        if not variants:
            raise ConfigError("an endpoint needs at least one variant")
        names = [v.name for v in variants]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ConfigError(f"variant {duplicated[0]!r} is named twice")
        self.variants = {v.name: v for v in variants}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._set(dict((v.name, v.weight) for v in variants))

    def _set(self, weights: dict[str, float]) -> None:
        for name, weight in weights.items():
            if weight < 0:
                raise ConfigError(f"variant {name}: weight must be >= 0, got {weight:g}")
        total = sum(weights.values())
        if total <= 0:
            raise ConfigError("variant weights add up to 0: at least one must be above 0")
        names = list(self.variants)
        cumulative, running = [], 0.0
        for name in names:
            running += weights.get(name, self.variants[name].weight)
            cumulative.append(running)
        for name, weight in weights.items():
            self.variants[name].weight = weight
        self._names, self._cumulative, self._total = names, cumulative, running

    def update_weights(self, weights: dict[str, float]) -> None:
        """UpdateEndpointWeightsAndCapacities: only the named variants change."""
        unknown = [name for name in weights if name not in self.variants]
        if unknown:
            raise ConfigError(f"variant {unknown[0]!r} is not on this endpoint; it has "
                              + ", ".join(self.variants))
        with self._lock:
            self._set(weights)

    def pick(self, target: str | None = None) -> Variant:
        """The target variant if named (KeyError if unknown), else a weighted draw."""
        if target:
            return self.variants[target]
        with self._lock:
            point = self._rng.random() * self._total
            index = bisect.bisect_right(self._cumulative, point)
            return self.variants[self._names[min(index, len(self._names) - 1)]]

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": v.name, "model": v.model, "algorithm": v.algorithm,
                 "model_sha256": v.model_sha256, "weight": v.weight, **v.stats.summary()}
                for v in self.variants.values()]
