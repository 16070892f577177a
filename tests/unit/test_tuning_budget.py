"""``tuning.timeout_seconds`` is shared by the tuning jobs of one ``smlp tune``."""

from __future__ import annotations

from smlp.backends.base import TrainingJobSpec, TuningJobSpec
from smlp.config.tuning import IntegerRange
from smlp.stages.tune import MIN_SHARE_SECONDS, Budget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def job() -> TuningJobSpec:
    training = TrainingJobSpec("t", "xgboost", {"num_round": "100"}, {}, "/tmp/out", "3.2-0")
    return TuningJobSpec("t", training, {"max_depth": IntegerRange(min_value=2, max_value=8)},
                         "validation:rmse", timeout_seconds=None)


def test_each_job_gets_an_equal_share_of_what_is_left() -> None:
    clock = Clock()
    budget = Budget(90.0, clock)
    assert budget.share(job(), 3).timeout_seconds == 30.0
    clock.now += 10  # the first job used 10 s of its 30: the rest goes to the others
    assert budget.share(job(), 2).timeout_seconds == 40.0
    clock.now += 40
    assert budget.share(job(), 1).timeout_seconds == 40.0


def test_a_spent_budget_leaves_each_job_its_first_trial_only() -> None:
    clock = Clock()
    budget = Budget(5.0, clock)
    clock.now += 6
    assert budget.share(job(), 2).timeout_seconds == MIN_SHARE_SECONDS


def test_no_budget_leaves_jobs_unbounded() -> None:
    assert Budget(None).share(job(), 3).timeout_seconds is None
