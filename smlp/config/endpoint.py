"""``endpoint:``: real-time endpoints (``smlp deploy``), named as in CreateEndpointConfig."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from smlp.config.base import Strict

INSTANCE_PATTERN = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
# ProductionVariant.VariantName / CreateEndpoint.EndpointName
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


class VariantConfig(Strict):
    """One ProductionVariant: which candidate serves it, and its share of the traffic."""

    model: str = Field("best", description="'best' or a candidate name")
    name: str | None = Field(None, pattern=NAME_PATTERN,
                             description="variant name; default: the candidate's name")
    weight: float = Field(1.0, ge=0, description="InitialVariantWeight")
    instance_type: str | None = Field(None, pattern=INSTANCE_PATTERN)
    instance_count: int | None = Field(None, ge=1, le=100)


class DataCaptureSettings(Strict):
    """DataCaptureConfig: sampled requests and responses as JSON Lines into the store."""

    sampling_percentage: int = Field(0, ge=0, le=100, description="0 turns capture off")
    prefix: str = Field("datacapture", description="under the store")
    mode: Literal["Input", "Output", "InputAndOutput"] = "InputAndOutput"


class EndpointConfig(Strict):
    name: str | None = Field(None, pattern=NAME_PATTERN,
                             description="default: smlp-<first variant's candidate>")
    variants: list[VariantConfig] = Field(
        default_factory=list, description="default: one variant serving transform.model")
    instance_type: str = Field("ml.m5.large", pattern=INSTANCE_PATTERN)
    instance_count: int = Field(1, ge=1, le=100)
    data_capture: DataCaptureSettings = DataCaptureSettings()
    host: str = Field("127.0.0.1", description="local backend: the address to listen on")
    port: int = Field(8080, ge=0, le=65535, description="local backend (0: any free port)")
    seed: int | None = Field(None, description="local backend: seeds variant routing and "
                             "capture sampling, for reproducible traffic splits")
    estimate_hours: float = Field(730.0, gt=0, description="hours per month, for cost estimates")

    @model_validator(mode="after")
    def _check(self) -> EndpointConfig:
        names = [v.name or v.model for v in self.variants]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"variants: {name!r} appears twice; give each a distinct name")
        if self.variants and sum(v.weight for v in self.variants) <= 0:
            raise ValueError("variants: the weights add up to 0; at least one must be above 0")
        return self
