"""``compare:`` and ``transform:`` sections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from smlp.config.base import Strict

Metric = Literal["rmse", "mse", "mae", "r2", "accuracy", "balanced_accuracy", "f1_macro",
                 "roc_auc", "log_loss"]


class CompareConfig(Strict):
    metric: Metric | None = Field(
        None, description="default: rmse for regression, accuracy for binary and multiclass")
    split: Literal["test", "validation"] = "test"


class TransformConfig(Strict):
    """Batch Transform options, named as in CreateTransformJob, plus smlp's output shape.

    Filters left unset mean: for the prepared test split (label first), drop the label on the
    way in and keep label + prediction on the way out; for input with a header, smlp's named
    output (a header, the ID column recorded at prepare, the prediction); for headerless
    input, the prediction alone. ``raw`` or any filter gives SageMaker's output shape instead.
    """

    model: str = Field("best", description="'best' (from compare) or a candidate name")
    input: str | None = Field(None, description="CSV file or folder; default: the test split")
    output: str | None = Field(None, description="folder; default: <store>/transform/<job>/")
    content_type: Literal["text/csv"] = "text/csv"
    accept: Literal["text/csv"] = "text/csv"
    split_type: Literal["Line", "None"] = "Line"
    batch_strategy: Literal["MultiRecord", "SingleRecord"] = "MultiRecord"
    max_payload_mb: int = Field(6, ge=0, le=100)
    input_filter: str | None = None
    join_source: Literal["None", "Input"] | None = None
    output_filter: str | None = None
    instance_type: str = Field("ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(1, ge=1, le=100)
    # CreateTransformJob.MaxConcurrentTransforms: requests in flight per instance; 0 leaves it
    # unset (SageMaker asks the container's execution-parameters, else sends one at a time).
    max_concurrent_transforms: int = Field(0, ge=0, le=1000)
    raw: bool = Field(False, description="SageMaker's output shape for input with a header "
                      "too: no header, no ID column unless the filters select it")
    unseen_categories: Literal["warn", "error"] = Field(
        "warn", description="a category not seen in training: count and report it (warn), or "
        "refuse the input (error)")
