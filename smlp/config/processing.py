"""``backend.processing:``: the SageMaker Processing jobs of ``smlp data prepare --backend
sagemaker`` (processing_scripts/prepare.py in the scikit-learn container)."""

from __future__ import annotations

from pydantic import Field, field_validator

from smlp.config.base import Strict

PYARROW_VERSIONS = ("1.4-2", "1.4-2-py312", "1.9-0")


class ProcessingConfig(Strict):
    """CreateProcessingJob's ClusterConfig and StoppingCondition (shards: data.shard_mb).

    Limits: API reference, ProcessingClusterConfig (InstanceCount 1-100, VolumeSizeInGB
    1-16384) and ProcessingStoppingCondition (MaxRuntimeInSeconds 1-777600).
    """

    instance_type: str = Field("ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
                               description="instance type of both processing jobs")
    instance_count: int = Field(1, ge=1, le=100, description="instances of the apply job; "
                                "the input's objects are sharded among them (ShardedByS3Key)")
    volume_size_gb: int = Field(30, ge=1, le=16_384,
                                description="storage per instance: holds its input and shards")
    max_runtime_seconds: int = Field(86_400, ge=1, le=777_600, description="per job")
    container_version: str = Field("1.9-0", description="scikit-learn container version "
                                   "(one that ships pyarrow: 1.4-2, 1.4-2-py312, 1.9-0)")
    estimate_minutes: float = Field(15.0, gt=0, description="assumed billed minutes per "
                                    "processing job, for dry-run cost estimates")

    @field_validator("container_version")
    @classmethod
    def _ships_pyarrow(cls, value: str) -> str:
        """processing_scripts/prepare.py needs numpy and pyarrow: the scikit-learn container's
        requirements.txt lists pyarrow from 1.4-2 on (branch v1.4-2: pyarrow==17.0.0; master,
        1.9-0: pyarrow==25.0.0); 1.2-1 and older ship none."""
        if value not in PYARROW_VERSIONS:
            raise ValueError(f"{value!r}: the processing script needs pyarrow, which the "
                             "scikit-learn container ships from 1.4-2 on; use one of "
                             + ", ".join(PYARROW_VERSIONS))
        return value

    @field_validator("instance_type")
    @classmethod
    def _offered(cls, value: str) -> str:
        """An instance type SageMaker Processing offers (botocore's ProcessingInstanceType)."""
        try:
            import botocore.session
        except ImportError:  # pragma: no cover - boto3 is a dependency
            return value
        shape = botocore.session.get_session().get_service_model("sagemaker").shape_for(
            "ProcessingInstanceType")
        if value not in shape.enum:
            family = value.rsplit(".", 1)[0] + "."
            near = [v for v in shape.enum if v.startswith(family)][:6] or [
                "ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge"]
            raise ValueError(f"SageMaker Processing does not offer {value}; e.g. "
                             + ", ".join(near))
        return value
