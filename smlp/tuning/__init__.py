"""Backend-neutral hyperparameter tuning pieces.

- ``space``: SageMaker parameter ranges (with their scaling) as optuna distributions.
- ``strategies``: a sampler and a pruner per strategy; SageMaker's median stopping rule.

The local tuning job itself (study, worker pool, search) is the local backend's:
``smlp.backends.local.tuning``.
"""
