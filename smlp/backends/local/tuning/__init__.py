"""The local backend's tuning job: SageMaker's tuning jobs as they behave, on this machine.

- ``study``: the persistent optuna study of a tuning job: resume, warm start, trial records.
- ``pool`` / ``worker``: worker processes that each load the data once and run trials
  in-process under the training-job contract (``smlp.backends.local.jobs``).
- ``search``: the loop that asks optuna for trials, hands them to workers and reports.

The backend-neutral pieces (parameter ranges, strategies) stay in ``smlp.tuning``.
"""
