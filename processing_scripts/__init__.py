"""Scripts SageMaker Processing jobs run (they import nothing from smlp)."""
