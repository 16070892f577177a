"""``backend:``: where jobs run, a union discriminated on ``kind``."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from smlp.config.base import Strict


class LocalBackendConfig(Strict):
    kind: Literal["local"] = "local"
    work_dir: str = Field(".smlp/jobs", description="job folders (SageMaker's /opt/ml layout)")


class SageMakerBackendConfig(Strict):
    kind: Literal["sagemaker"] = "sagemaker"
    region: str | None = None
    role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    use_spot: bool = False
    max_wait_seconds: int | None = Field(None, ge=60)
    checkpoint_s3_uri: str | None = Field(None, pattern=r"^s3://")
    subnets: list[str] = []
    security_group_ids: list[str] = []
    volume_kms_key_id: str | None = None
    output_kms_key_id: str | None = None
    poll_seconds: float = Field(15.0, gt=0)
    download_outputs: bool = True
    tags: dict[str, str] = {}


BackendConfig = Annotated[
    Union[LocalBackendConfig, SageMakerBackendConfig], Field(discriminator="kind")
]
