"""Bootstrap intervals and the paired difference to the best (smlp.report.uncertainty)."""

from __future__ import annotations

import numpy as np

from smlp.metrics import regression_metrics
from smlp.report import uncertainty


def _data(rows: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=rows)
    return truth, truth + rng.normal(scale=0.5, size=rows)


def test_interval_holds_the_point_estimate_and_narrows_with_more_rows() -> None:
    widths = []
    for rows in (200, 5000):
        truth, predicted = _data(rows)
        samples = uncertainty.paired_samples(truth, {"a": predicted}, regression_metrics, 300)
        intervals, versus = uncertainty.summarize(samples, ["a"], "rmse", False)
        point = regression_metrics(truth, predicted)
        for metric, (low, high) in intervals["a"].items():
            assert low <= point[metric] <= high, metric
        widths.append(intervals["a"]["rmse"][1] - intervals["a"]["rmse"][0])
        assert versus == {}
    assert widths[1] < widths[0] / 3  # ~ 1/sqrt(rows): 5x narrower for 25x the rows


def test_paired_bootstrap_sees_a_consistent_small_gap_the_intervals_hide() -> None:
    truth, best = _data(500)
    worse = best + 0.02 * np.sign(best - truth)  # every row slightly further from the truth
    samples = uncertainty.paired_samples(truth, {"best": best, "worse": worse},
                                         regression_metrics, 500)
    intervals, versus = uncertainty.summarize(samples, ["best", "worse"], "rmse", False)
    high_best, low_worse = intervals["best"]["rmse"][1], intervals["worse"]["rmse"][0]
    assert low_worse < high_best  # the two intervals overlap ...
    assert versus["worse"]["p_best_better"] == 1.0  # ... but best wins on every resample
    low, high = versus["worse"]["difference_interval"]
    assert 0 < low <= high


def test_identical_candidates_are_a_coin_flip_and_higher_is_better_is_respected() -> None:
    truth, predicted = _data(300)
    samples = uncertainty.paired_samples(truth, {"a": predicted, "b": predicted.copy()},
                                         regression_metrics, 100)
    _, versus = uncertainty.summarize(samples, ["a", "b"], "rmse", False)
    assert versus["b"]["p_best_better"] == 0.5
    assert versus["b"]["difference_interval"] == [0.0, 0.0]
    noisy = predicted + np.random.default_rng(2).normal(scale=1.0, size=300)
    samples = uncertainty.paired_samples(truth, {"a": predicted, "b": noisy},
                                         regression_metrics, 100)
    _, versus = uncertainty.summarize(samples, ["a", "b"], "r2", True)
    assert versus["b"]["p_best_better"] == 1.0


def test_same_seed_same_numbers_and_large_splits_get_fewer_resamples() -> None:
    truth, predicted = _data(400)
    first = uncertainty.paired_samples(truth, {"a": predicted}, regression_metrics, 50)
    again = uncertainty.paired_samples(truth, {"a": predicted}, regression_metrics, 50)
    assert all(np.array_equal(first["a"][m], again["a"][m]) for m in first["a"])
    assert uncertainty.resamples_for(3096, 3) == uncertainty.RESAMPLES
    assert uncertainty.resamples_for(1_000_000, 3) == uncertainty.MIN_RESAMPLES


def test_a_metric_undefined_on_some_resamples_gets_no_interval() -> None:
    truth, predicted = _data(50)

    def score(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
        return {"rmse": regression_metrics(y, p)["rmse"],
                "odd": None if y[0] > 0 else 1.0}  # undefined on about half the draws

    samples = uncertainty.paired_samples(truth, {"a": predicted, "b": predicted + 0.1},
                                         score, 40)
    intervals, versus = uncertainty.summarize(samples, ["a", "b"], "odd", False)
    assert set(intervals["a"]) == {"rmse"}
    assert versus == {}
