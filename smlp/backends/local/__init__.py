"""The local backend: SageMaker's job contract on this machine, without containers.

- ``backend``: ``LocalBackend``, training, tuning and batch transform jobs.
- ``jobs``: the job-folder contract (``/opt/ml`` layout, ``SM_*`` variables, model.tar.gz).
- ``model_cache``: the verified, bounded cache of extracted models.
- ``tuning``: the local tuning job (optuna search over worker processes).
"""

from smlp.backends.local.backend import LocalBackend
from smlp.backends.local.jobs import (
    STATUS_FILE,
    cloudwatch_line,
    job_environment,
    lay_out,
    link_files,
    script_arguments,
    tar_model,
    write_status,
)

__all__ = ["STATUS_FILE", "LocalBackend", "cloudwatch_line", "job_environment", "lay_out",
           "link_files", "script_arguments", "tar_model", "write_status"]
