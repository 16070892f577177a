"""Hyperparameter tuning on this machine, as SageMaker's tuning jobs behave.

- ``space``: SageMaker parameter ranges (with their scaling) as optuna distributions.
- ``strategies``: a sampler and a pruner per strategy; SageMaker's median stopping rule.
- ``study``: the persistent optuna study of a tuning job: resume, warm start, trial records.
- ``pool`` / ``worker``: worker processes that each load the data once and run trials
  in-process under the training-job contract.
- ``search``: the loop that asks optuna for trials, hands them to workers and reports.
"""
