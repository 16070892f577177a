"""``smlp compare`` stores and shows bootstrap intervals and the paired difference to the best."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli_helpers import smlp


def test_comparison_holds_intervals_and_p_best_better(trained: Path) -> None:
    smlp("train", "--algo", "knn")
    result = smlp("compare")
    assert "95% CI" in result.output and "P(best" in result.output
    comparison = json.loads((trained / "smlp-artifacts/compare/comparison.json").read_text())
    best, other = comparison["candidates"]
    assert comparison["bootstrap"]["resamples"] == 1000
    assert comparison["bootstrap"]["runner_up"] == other["name"]
    for scored in (best, other):
        assert set(scored["interval"]) == set(scored["metrics"])
        for metric, (low, high) in scored["interval"].items():
            assert low <= scored["metrics"][metric] <= high, (scored["name"], metric)
    assert best["vs_best"] == {}
    versus = other["vs_best"]
    assert versus["metric"] == comparison["metric"] == "rmse"
    assert 0.0 <= versus["p_best_better"] <= 1.0
    assert versus["p_best_better"] == comparison["bootstrap"]["p_best_better_than_runner_up"]
    low, high = versus["difference_interval"]
    gap = other["metrics"]["rmse"] - best["metrics"]["rmse"]
    assert low <= gap <= high
    smlp("compare")  # the same resamples again: the same intervals
    again = json.loads((trained / "smlp-artifacts/compare/comparison.json").read_text())
    assert [c["interval"] for c in again["candidates"]] == [
        c["interval"] for c in comparison["candidates"]]
