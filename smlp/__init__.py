"""smlp: tabular data to a tuned, compared, batch-deployed model, locally or on SageMaker."""

__version__ = "0.1.0"
