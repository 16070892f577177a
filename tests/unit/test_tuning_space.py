"""SageMaker ranges as optuna distributions: scaling, string round trips, grids."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from smlp.config.tuning import CategoricalRange, ContinuousRange, IntegerRange
from smlp.tuning.space import SearchSpace, effective_scaling

SPACE = SearchSpace.of({
    "eta": ContinuousRange(min_value=0.001, max_value=1.0, scaling="Logarithmic"),
    "subsample": ContinuousRange(min_value=0.5, max_value=1.0, scaling="Linear"),
    "momentum": ContinuousRange(min_value=0.9, max_value=0.999, scaling="ReverseLogarithmic"),
    "k": IntegerRange(min_value=1, max_value=64, scaling="Logarithmic"),
    "depth": IntegerRange(min_value=2, max_value=8),
    "metric": CategoricalRange(values=["L2", "COSINE"]),
})


def test_each_scaling_becomes_its_optuna_distribution() -> None:
    dists = SPACE.distributions()
    assert dists["eta"] == FloatDistribution(0.001, 1.0, log=True)
    assert dists["subsample"] == FloatDistribution(0.5, 1.0)
    assert dists["k"] == IntDistribution(1, 64, log=True)
    assert dists["depth"] == IntDistribution(2, 8)
    assert dists["metric"] == CategoricalDistribution(["L2", "COSINE"])
    # 1 - x in log space: dense near 1.
    low, high = dists["momentum"].low, dists["momentum"].high
    assert dists["momentum"].log and low == pytest.approx(0.001) and high == pytest.approx(0.1)
    assert list(SPACE.ranges) == sorted(SPACE.ranges)


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.001, 1.0, "Logarithmic"), (0.01, 0.5, "Linear"), (0.0, 10.0, "Linear"),
    (1, 1000, "Logarithmic"),
])
def test_auto_scaling_turns_logarithmic_over_two_decades(low: float, high: float,
                                                         expected: str) -> None:
    assert effective_scaling(ContinuousRange(min_value=low, max_value=high)) == expected


def test_sampled_values_follow_the_scaling() -> None:
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    dists = SPACE.distributions()
    values = []
    for _ in range(400):
        trial = study.ask(dists)
        values.append(SPACE.to_hyperparameters(trial.params))
        study.tell(trial, 0.0)
    etas = [float(v["eta"]) for v in values]
    below = sum(e < math.sqrt(0.001 * 1.0) for e in etas) / len(etas)
    assert 0.4 < below < 0.6  # uniform in log space: half below the geometric mean
    momenta = [float(v["momentum"]) for v in values]
    assert all(0.9 <= m <= 0.999 for m in momenta)
    assert sum(m > 0.99 for m in momenta) / len(momenta) > 0.4  # reverse log: dense near 1
    assert all(v["k"].isdigit() and 1 <= int(v["k"]) <= 64 for v in values)


def test_strings_round_trip_and_outsiders_are_refused() -> None:
    params = {"eta": 0.01, "subsample": 0.75, "momentum": 1 - 0.99, "k": 8, "depth": 3,
              "metric": "COSINE"}
    strings = SPACE.to_hyperparameters(params)
    assert strings["momentum"] == "0.99" and strings["k"] == "8" and strings["metric"] == "COSINE"
    back = SPACE.from_hyperparameters(strings)
    assert back is not None and back["momentum"] == pytest.approx(0.01) and back["k"] == 8
    assert SPACE.from_hyperparameters({**strings, "eta": "2.0"}) is None  # outside the range
    assert SPACE.from_hyperparameters({**strings, "metric": "IP"}) is None
    assert SPACE.from_hyperparameters({**strings, "k": "2.5"}) is None
    assert SPACE.from_hyperparameters({k: v for k, v in strings.items() if k != "k"}) is None
    clipped = SPACE.clip({**strings, "eta": "2.0", "k": "100"})
    assert clipped is not None and clipped["eta"] == 1.0 and clipped["k"] == 64


def test_grid_lists_every_combination_once() -> None:
    space = SearchSpace.of({"k": CategoricalRange(values=[1, 5]),
                            "index_metric": CategoricalRange(values=["L2", "COSINE", "L2"])})
    grid = space.grid()
    assert len(grid) == 4 and len({tuple(sorted(p.items())) for p in grid}) == 4
    assert grid[0] == {"index_metric": "L2", "k": 1}
    with pytest.raises(ValueError, match="categorical ranges only"):
        SPACE.grid()
