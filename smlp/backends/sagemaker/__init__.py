"""Run every stage on Amazon SageMaker (``backend.kind: sagemaker``), through boto3."""

from smlp.backends.sagemaker.backend import SageMakerBackend

__all__ = ["SageMakerBackend"]
