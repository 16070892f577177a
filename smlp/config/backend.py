"""``backend:``: where jobs run, a union discriminated on ``kind``."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from smlp.config.base import Strict
from smlp.config.processing import ProcessingConfig

REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d$"
ROLE_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"


def known_region(value: str | None) -> str | None:
    """A region name botocore knows, else a ValueError with the closest names."""
    if value is None:
        return None
    from smlp.aws import region_problem

    problem = region_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class LocalBackendConfig(Strict):
    kind: Literal["local"] = "local"
    work_dir: str = Field(".smlp/jobs", description="job folders (SageMaker's /opt/ml layout)")
    max_parallel_jobs: int = Field(
        1, ge=1, le=64, description="training jobs side by side; the cores are split between them")


class SageMakerBackendConfig(Strict):
    """Everything CreateTrainingJob/CreateTransformJob take that is not per algorithm."""

    kind: Literal["sagemaker"] = "sagemaker"

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        return known_region(value)
    region: str | None = Field(None, description="default: the AWS CLI's configured region")
    role_arn: str | None = Field(None, pattern=ROLE_PATTERN,
                                 description="execution role SageMaker assumes for every job")
    use_spot: bool | list[str] = Field(
        False, description="managed spot training: true for every algorithm, or a list of "
        "algorithms (k-NN does not checkpoint: at most 3600 s with spot)")
    max_wait_seconds: int | None = Field(
        None, ge=60, description="spot only: runtime plus time waiting for capacity; "
        "default: each algorithm's max_runtime_seconds")
    checkpoint_s3_uri: str | None = Field(
        None, pattern=r"^s3://", description="spot only, for algorithms that checkpoint "
        "(XGBoost); each training job writes under <uri>/<job>; default: <store>/checkpoints")
    subnets: list[str] = []
    security_group_ids: list[str] = []
    volume_kms_key_id: str | None = None
    output_kms_key_id: str | None = None
    poll_seconds: float = Field(15.0, gt=0, description="first wait between status checks")
    max_poll_seconds: float = Field(60.0, gt=0, description="backoff cap between checks")
    stream_logs: bool = Field(True, description="follow the job's CloudWatch log lines")
    max_attempts: int = Field(10, ge=1, le=50, description="attempts per AWS call (first + "
                              "retries) on throttling and transient errors")
    max_parallel_jobs: int = Field(4, ge=1, le=100,
                                   description="training jobs run (and waited for) side by side")
    download_outputs: bool = Field(
        True, description="bring transform outputs to a local --output folder (else left on S3)")
    keep_models: bool = Field(False, description="keep the SageMaker Model after a transform")
    tags: dict[str, str] = {}
    dry_run: bool = Field(False, description="print the requests instead of sending them")
    estimate_training_minutes: float = Field(
        15.0, gt=0, description="assumed billed minutes per training job, for cost estimates")
    estimate_transform_minutes: float = Field(
        10.0, gt=0, description="assumed billed minutes per transform job, for cost estimates")
    processing: ProcessingConfig = Field(
        default_factory=ProcessingConfig,
        description="the Processing jobs of `smlp data prepare --backend sagemaker`")

    @model_validator(mode="after")
    def _check(self) -> SageMakerBackendConfig:
        if bool(self.subnets) != bool(self.security_group_ids):
            raise ValueError("subnets and security_group_ids go together (SageMaker's "
                             "VpcConfig needs both)")
        if self.max_poll_seconds < self.poll_seconds:
            raise ValueError(f"max_poll_seconds ({self.max_poll_seconds:g}) is below "
                             f"poll_seconds ({self.poll_seconds:g})")
        if isinstance(self.use_spot, list):
            from smlp.algorithms import ALGORITHMS

            unknown = [name for name in self.use_spot if name not in ALGORITHMS]
            if unknown:
                raise ValueError(f"use_spot: {', '.join(unknown)} is not an algorithm; expected "
                                 f"true, false or a list of {', '.join(ALGORITHMS)}")
        if not self.use_spot and (self.max_wait_seconds or self.checkpoint_s3_uri):
            raise ValueError("max_wait_seconds and checkpoint_s3_uri apply to spot training "
                             "only; set use_spot: true or remove them")
        return self


BackendConfig = Annotated[
    Union[LocalBackendConfig, SageMakerBackendConfig], Field(discriminator="kind")
]


def starter_config(kind: str, *, bucket: str | None = None, prefix: str | None = None,
                   role_arn: str | None = None, region: str | None = None) -> dict[str, Any]:
    """The few settings a new project needs for ``kind``; everything else stays default.

    ``prefix`` defaults to ``smlp`` unless ``bucket`` is given as ``s3://bucket/path``.

    Raises ValueError naming the missing or malformed option.
    """
    import re

    if kind == "local":
        return {"backend": {"kind": "local"}, "store": "smlp-artifacts"}
    if kind != "sagemaker":
        raise ValueError(f"--backend: expected local or sagemaker, got {kind!r}")
    if not bucket:
        raise ValueError("--bucket is required for the sagemaker backend (data, models and "
                         "the manifest live there)")
    bucket, _, extra = bucket.removeprefix("s3://").partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ValueError(f"--bucket: {bucket!r} is not a valid S3 bucket name")
    if not role_arn:
        raise ValueError("--role-arn is required for the sagemaker backend: the execution role "
                         "SageMaker assumes (`smlp infra deploy` creates one)")
    if not re.fullmatch(ROLE_PATTERN, role_arn):
        raise ValueError(f"--role-arn: {role_arn!r} is not an IAM role ARN "
                         "(arn:aws:iam::123456789012:role/NAME)")
    if not region:
        raise ValueError("--region is required: no default region is configured for the AWS "
                         "CLI on this machine")
    try:
        known_region(region)
    except ValueError as exc:
        raise ValueError(f"--region: {exc}") from None
    if prefix is None:  # --bucket s3://bucket/path names its own prefix
        prefix = "" if extra.strip("/") else "smlp"
    key_prefix = "/".join(p for p in (extra.strip("/"), prefix.strip("/")) if p)
    store = f"s3://{bucket}/{key_prefix}" if key_prefix else f"s3://{bucket}"
    return {"backend": {"kind": "sagemaker", "region": region, "role_arn": role_arn},
            "store": store}
