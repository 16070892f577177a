"""Bootstrap uncertainty of test-split metrics: is a gap on the leaderboard real?

Every candidate is scored on the *same* resamples of the split (a paired bootstrap), so the
difference to the best is judged row by row, not from two independent intervals. Generic over
whatever metrics the scoring function returns (regression or classification).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

RESAMPLES = 1000
SEED = 0
CONFIDENCE = 0.95
# Fewer resamples on large splits: rows x candidates x resamples stays near this many scored
# rows (at least MIN_RESAMPLES), so a million-row compare does not wait minutes for intervals.
WORK_BUDGET = 50_000_000
MIN_RESAMPLES = 200

Score = Callable[[Any, Any], dict[str, float]]


def resamples_for(rows: int, candidates: int) -> int:
    """How many resamples a split of ``rows`` scored by ``candidates`` models gets."""
    affordable = WORK_BUDGET // max(1, rows * max(1, candidates))
    return int(min(RESAMPLES, max(MIN_RESAMPLES, affordable)))


def paired_samples(labels: Any, predictions: Mapping[str, Any], score: Score,
                   resamples: int, seed: int = SEED) -> dict[str, dict[str, Any]]:
    """Each candidate's metrics on the same ``resamples`` draws of the rows (fixed seed)."""
    import numpy as np

    labels = np.asarray(labels)
    rows = len(labels)
    rng = np.random.default_rng(seed)
    values: dict[str, dict[str, list[float]]] = {name: {} for name in predictions}
    arrays = {name: np.asarray(p) for name, p in predictions.items()}
    for _ in range(resamples):
        index = rng.integers(0, rows, rows)
        truth = labels[index]
        for name, predicted in arrays.items():
            for metric, value in score(truth, predicted[index]).items():
                number = value if isinstance(value, int | float) else float("nan")
                values[name].setdefault(metric, []).append(number)
    return {name: {metric: np.asarray(v, dtype=np.float64) for metric, v in per.items()}
            for name, per in values.items()}


def _defined(values: Any) -> bool:
    """A metric undefined on some resample (e.g. AUC with one class drawn) gets no interval."""
    import numpy as np

    return bool(np.all(np.isfinite(values)))


def interval(values: Any, confidence: float = CONFIDENCE) -> list[float]:
    """The percentile interval holding ``confidence`` of the resampled values."""
    import numpy as np

    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(np.asarray(values, dtype=np.float64), [tail, 1.0 - tail])
    return [float(low), float(high)]


def p_better(best: Any, other: Any, higher_is_better: bool) -> float:
    """The share of resamples where ``best`` beats ``other`` (a tie counts half)."""
    import numpy as np

    best, other = np.asarray(best), np.asarray(other)
    wins = best > other if higher_is_better else best < other
    return float(np.mean(wins) + 0.5 * np.mean(best == other))


def summarize(samples: Mapping[str, Mapping[str, Any]], ranked: list[str], metric: str,
              higher_is_better: bool, confidence: float = CONFIDENCE
              ) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, Any]]]:
    """Per candidate: every metric's interval, and (but for the best, ``ranked[0]``) the
    paired difference to the best on ``metric`` with the probability the best is better."""
    import numpy as np

    best = ranked[0]
    intervals = {name: {m: interval(v, confidence) for m, v in samples[name].items()
                        if _defined(v)} for name in ranked}
    versus: dict[str, dict[str, Any]] = {}
    for name in ranked[1:]:
        if not (_defined(samples[name].get(metric, [np.nan]))
                and _defined(samples[best].get(metric, [np.nan]))):
            continue
        difference = np.asarray(samples[name][metric]) - np.asarray(samples[best][metric])
        versus[name] = {
            "metric": metric,
            "difference_interval": interval(difference, confidence),
            "p_best_better": p_better(samples[best][metric], samples[name][metric],
                                      higher_is_better),
        }
    return intervals, versus
