"""Training entry points. Each runs standalone in its SageMaker container: no smlp imports."""
