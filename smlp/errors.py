"""Every error smlp raises on purpose, so the CLI can turn each into one line and an exit code.

    SmlpError
    ├── ConfigError              bad YAML, unknown key, wrong type or value
    ├── DataError                input file missing/empty/unreadable, bad column
    │   └── SchemaMismatchError  transform input that does not fit the recorded schema
    ├── ManifestError
    │   ├── MissingStageError    a stage's inputs are not in the manifest yet
    │   └── IntegrityError       an artifact is unreadable or its hash does not match
    ├── StoreError               reading or writing the artifact store failed
    ├── BackendError             a job could not be run
    │   ├── JobFailedError       the job ran and failed (carries SageMaker's FailureReason)
    │   └── AwsError             an AWS API call failed (carries the AWS error code)
    └── MissingDependencyError   an optional extra is not installed

Messages say what was wrong and, where there is one, what to do next.
"""

from __future__ import annotations


class SmlpError(Exception):
    """Base of every deliberate smlp failure; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(SmlpError):
    exit_code = 2


class DataError(SmlpError):
    exit_code = 3


class SchemaMismatchError(DataError):
    pass


class ManifestError(SmlpError):
    exit_code = 4


class MissingStageError(ManifestError):
    def __init__(self, what: str, command: str) -> None:
        super().__init__(f"{what} is not in the manifest yet; run `{command}` first")
        self.command = command


class IntegrityError(ManifestError):
    pass


class StoreError(SmlpError):
    exit_code = 5


class BackendError(SmlpError):
    exit_code = 6


class JobFailedError(BackendError):
    def __init__(self, job_name: str, reason: str) -> None:
        super().__init__(f"job {job_name} failed: {reason}")
        self.job_name = job_name
        self.reason = reason


class AwsError(BackendError):
    def __init__(self, code: str, message: str, operation: str = "") -> None:
        where = f" in {operation}" if operation else ""
        super().__init__(f"AWS error {code}{where}: {message}")
        self.code = code
        self.operation = operation


class MissingDependencyError(SmlpError):
    exit_code = 2  # set-up, like a config error: the README's exit codes

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} requires `pip install 'smlp[{extra}]'`")
        self.extra = extra
