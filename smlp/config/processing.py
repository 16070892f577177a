"""``backend.processing:``: the SageMaker Processing jobs of ``smlp data prepare --backend
sagemaker`` (processing_scripts/prepare.py in the scikit-learn container)."""

from __future__ import annotations

from pydantic import Field, field_validator

from smlp.config.base import Strict


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
    container_version: str = Field("1.9-0", description="scikit-learn container version")
    estimate_minutes: float = Field(15.0, gt=0, description="assumed billed minutes per "
                                    "processing job, for dry-run cost estimates")

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
