"""Samplers and pruners per strategy, SageMaker's median stopping rule, and the trial log."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import optuna
import pytest

from smlp.backends.base import TrainingJobSpec, TuningJobSpec
from smlp.backends.local.tuning.worker import LogCapture, TrialStopped, _matcher
from smlp.config.tuning import CategoricalRange, IntegerRange
from smlp.tuning.strategies import (
    MedianRulePruner,
    make_pruner,
    make_sampler,
    report_every,
    resource_limit,
)


def job(**changes: object) -> TuningJobSpec:
    training = TrainingJobSpec("t", "xgboost", {"num_round": "100"}, {}, "/tmp/out", "3.2-0")
    settings: dict = {"name": "t", "training": training, "objective_metric": "validation:rmse",
                      "ranges": {"max_depth": IntegerRange(min_value=2, max_value=8)}}
    settings.update(changes)
    return TuningJobSpec(**settings)  # type: ignore[arg-type]


def test_each_strategy_gets_its_sampler_and_pruner() -> None:
    assert isinstance(make_sampler(job(), 1), optuna.samplers.TPESampler)
    assert isinstance(make_sampler(job(strategy="Random"), 1), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler(job(strategy="Grid"), 1), optuna.samplers.RandomSampler)
    assert isinstance(make_pruner(job()), optuna.pruners.NopPruner)
    assert isinstance(make_pruner(job(early_stopping="Auto")), MedianRulePruner)
    assert isinstance(make_pruner(job(strategy="Hyperband")), optuna.pruners.HyperbandPruner)


def test_reports_are_sized_from_the_epoch_hyperparameter() -> None:
    assert report_every(job()) == 0  # nothing prunes: no reports at all
    assert report_every(job(early_stopping="Auto")) == 1
    ranged = job(early_stopping="Auto", ranges={
        "num_round": IntegerRange(min_value=100, max_value=1500)})
    assert resource_limit(ranged) == 1500 and report_every(ranged) == 15
    listed = job(ranges={"num_round": CategoricalRange(values=[50, 400])})
    assert resource_limit(listed) == 400
    knn = job(training=TrainingJobSpec("t", "knn", {}, {}, "/tmp", "1"), early_stopping="Auto")
    assert resource_limit(knn) is None and report_every(knn) == 0


def study_with(curves: list[list[float]]) -> optuna.Study:
    study = optuna.create_study(pruner=MedianRulePruner(min_trials=3))
    for curve in curves:
        study.add_trial(optuna.trial.create_trial(
            value=curve[-1], intermediate_values=dict(enumerate(curve, start=1))))
    return study


def test_median_rule_stops_a_trial_worse_than_the_running_averages() -> None:
    study = study_with([[1.0, 0.8, 0.6, 0.5], [1.2, 0.9, 0.7, 0.6], [1.1, 0.7, 0.5, 0.4]])
    bad = study.ask()
    for step, value in enumerate([1.5, 1.4, 1.3], start=1):
        bad.report(value, step)
    assert bad.should_prune()  # best 1.3 vs median running average ~0.85 at step 3
    good = study.ask()
    for step, value in enumerate([1.0, 0.8, 0.7], start=1):
        good.report(value, step)
    assert not good.should_prune()  # running averages are lenient with slow starters


def test_median_rule_averages_every_round_not_only_the_reported_ones() -> None:
    # Completed trials reported rounds 10 and 20 only; their early rounds were far worse.
    study = optuna.create_study(pruner=MedianRulePruner(min_trials=3))
    for _ in range(3):
        study.add_trial(optuna.trial.create_trial(
            value=0.5, intermediate_values={10: 0.6, 20: 0.5},
            user_attrs={"running_averages": {"10": 2.0, "20": 1.2}}))
    slow = study.ask()
    slow.report(1.5, 10)
    assert not slow.should_prune()  # 1.5 is better than the median running average, 2.0
    slow.report(1.3, 20)
    assert slow.should_prune()  # 1.3 is worse than 1.2: its current value counts, as AWS says


def test_median_rule_waits_for_enough_finished_trials() -> None:
    study = study_with([[0.1, 0.1], [0.1, 0.1]])
    trial = study.ask()
    trial.report(9.0, 1)
    assert not trial.should_prune()


def test_median_rule_only_compares_trials_that_got_as_far() -> None:
    study = study_with([[1.0, 0.5], [1.0, 0.5], [1.0, 0.5]])
    trial = study.ask()
    for step in range(1, 5):
        trial.report(5.0, step)
    assert not trial.should_prune()  # no finished trial reached step 4


@pytest.fixture
def pipe() -> tuple:
    parent, child = multiprocessing.Pipe(duplex=True)
    yield parent, child
    parent.close()
    child.close()


def capture(tmp_path: Path, conn: object, every: int = 0, deadline: float | None = None,
            ) -> LogCapture:
    patterns = [(name, _matcher(rf".*\[[0-9]+\].*#011{name.replace(':', '-')}:"
                                r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"))
                for name in ("train:rmse", "validation:rmse")]
    return LogCapture(tmp_path / "logs.txt", patterns, "validation:rmse", every, conn, "job-1",
                      deadline)


def test_log_lines_look_like_cloudwatch_and_feed_metrics(tmp_path: Path, pipe: tuple) -> None:
    parent, child = pipe
    log = capture(tmp_path, child, every=2)
    for step in range(4):
        log.write(f"[{step}]\ttrain-rmse:{1 - step / 10}\tvalidation-rmse:")
        log.write(f"{2 - step / 10}\n")
    log.write("no newline at the end")
    log.close()
    lines = (tmp_path / "logs.txt").read_text().splitlines()
    assert lines[0] == "[0]#011train-rmse:1.0#011validation-rmse:2.0"
    assert lines[-1] == "no newline at the end"
    assert log.final == {"train:rmse": 0.7, "validation:rmse": 1.7}
    reports = []
    while parent.poll():
        reports.append(parent.recv())
    # Every second round is reported, with the running average of all rounds so far.
    assert reports == [("metric", ("job-1", 2, 1.9, pytest.approx(1.95))),
                       ("metric", ("job-1", 4, 1.7, pytest.approx(1.85)))]


def test_a_stop_request_or_the_deadline_stops_the_trial(tmp_path: Path, pipe: tuple) -> None:
    parent, child = pipe
    log = capture(tmp_path, child)
    parent.send(("stop", ("another-job", "not me")))
    log.write("line\n")  # a stale stop for another trial is ignored
    log._next_poll = 0.0
    parent.send(("stop", ("job-1", "Stopped early")))
    with pytest.raises(TrialStopped, match="Stopped early"):
        log.write("line\n")
    log.close()
    late = capture(tmp_path, child, deadline=time.time() - 1)
    with pytest.raises(TrialStopped, match="MaxRuntimeExceeded"):
        late.write("line\n")
    late.close()
