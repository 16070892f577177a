"""SageMaker's strategies and early stopping as optuna samplers and pruners.

- ``Bayesian``: TPE (with the constant liar, so that parallel trials spread out).
- ``Random``: uniform sampling in each range's scale.
- ``Grid``: every categorical combination, fed to optuna as enqueued points.
- ``Hyperband``: TPE proposes, optuna's Hyperband stops trials at its rungs (successive
  halving over boosting rounds).
- Early stopping ``Auto``: SageMaker's median rule (``MedianRulePruner``).
"""

from __future__ import annotations

import bisect
import statistics
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from smlp.backends.base import TuningJobSpec

# The hyperparameter that counts a job's epochs, per algorithm: what Hyperband allocates and
# what the per-round metric is reported against.
RESOURCE = {"xgboost": "num_round", "sklearn-gbm": "n_estimators"}
MAX_REPORTS = 100  # per trial: steps reported to optuna, however many rounds a trial runs


def make_sampler(job: TuningJobSpec, seed: int) -> optuna.samplers.BaseSampler:
    if job.strategy in {"Bayesian", "Hyperband"}:
        startup = min(10, max(4, job.max_jobs // 4))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup,
                                          constant_liar=True)
    return optuna.samplers.RandomSampler(seed=seed)  # Random, and Grid's enqueued points


def resource_limit(job: TuningJobSpec) -> int | None:
    """The most epochs any trial can run, from the ranges or the static hyperparameters."""
    name = RESOURCE.get(job.training.algorithm)
    if name is None:
        return None
    value = job.ranges.get(name)
    if value is not None:
        values = getattr(value, "values", None)
        return int(max(float(v) for v in values)) if values else int(value.max_value)
    static = job.training.hyperparameters.get(name)
    return int(float(static)) if static is not None else None


def report_every(job: TuningJobSpec) -> int:
    """Report every n-th epoch to optuna; 0 when nothing prunes (no reports at all).

    An algorithm without epochs (k-NN logs one final metric) is never stopped early: a stop at
    its only metric line would throw away a finished model.
    """
    if job.early_stopping == "Off" and job.strategy != "Hyperband":
        return 0
    if job.training.algorithm not in RESOURCE:
        return 0
    limit = resource_limit(job) or MAX_REPORTS
    return max(1, limit // MAX_REPORTS)


def make_pruner(job: TuningJobSpec) -> optuna.pruners.BasePruner:
    if job.strategy == "Hyperband":
        limit = resource_limit(job)
        if limit is None:
            return optuna.pruners.HyperbandPruner()
        # Rungs at 1/27, 1/9, 1/3 of the longest trial (reduction factor 3, as SageMaker).
        return optuna.pruners.HyperbandPruner(min_resource=max(1, limit // 27),
                                              max_resource=limit, reduction_factor=3)
    if job.early_stopping == "Auto":
        return MedianRulePruner(minimize=job.objective_type == "Minimize")
    return optuna.pruners.NopPruner()


RUNNING_AVERAGES = "running_averages"  # trial user attribute: {step: average of every round}


class MedianRulePruner(optuna.pruners.BasePruner):
    """SageMaker's ``Auto`` early stopping ("Stop Training Jobs Early", SageMaker developer
    guide): after each epoch, a trial stops when its objective value is worse than the median
    of the running averages of the objective, up to that epoch, of the earlier (here: completed)
    trials that got as far.

    A running average covers every epoch, not only the reported ones: workers report every
    n-th round with the average of all rounds so far, kept in the ``running_averages`` user
    attribute. Trials without it (recorded elsewhere) average their reported values.
    """

    def __init__(self, minimize: bool = True, min_trials: int = 3, warmup_steps: int = 1) -> None:
        self.minimize = minimize
        self.min_trials = min_trials
        self.warmup_steps = warmup_steps
        self._prefix: dict[int, tuple[list[int], list[float]]] = {}  # trial id -> averages

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.warmup_steps:
            return False
        averages = []
        for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            average = self._running_average(other, step)
            if average is not None:
                averages.append(average)
        if len(averages) < self.min_trials:
            return False
        median = statistics.median(averages)
        current = trial.intermediate_values[step]
        return current > median if self.minimize else current < median

    def _running_average(self, trial: FrozenTrial, step: int) -> float | None:
        cached = self._prefix.get(trial._trial_id)
        if cached is None:
            recorded = trial.user_attrs.get(RUNNING_AVERAGES)
            if recorded:
                pairs = sorted((int(s), float(v)) for s, v in recorded.items())
                cached = ([s for s, _ in pairs], [v for _, v in pairs])
            else:
                steps = sorted(trial.intermediate_values)
                total, means = 0.0, []
                for count, s in enumerate(steps, start=1):
                    total += trial.intermediate_values[s]
                    means.append(total / count)
                cached = (steps, means)
            self._prefix[trial._trial_id] = cached
        steps, means = cached
        if not steps or steps[-1] < step:
            return None  # this trial never got as far
        return means[bisect.bisect_right(steps, step) - 1]
