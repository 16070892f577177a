"""``data:``: where the dataset comes from and how it is split and encoded."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from smlp.config.base import Strict


class SplitFractions(Strict):
    train: float = Field(0.7, gt=0, lt=1)
    validation: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.15, gt=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1.0, got {total:g}")
        return self


class DataConfig(Strict):
    source: Literal["synthetic", "file"] = "synthetic"
    input: str | None = Field(None, description="CSV or Parquet file when source is 'file'")
    target: str | None = Field(None, description="target column when source is 'file'")
    id_column: str | None = Field(None, description="kept out of the features")
    rows: int = Field(20_640, ge=100, le=100_000_000, description="synthetic rows")
    seed: int = Field(42, ge=0)
    splits: SplitFractions = SplitFractions()
    standardize: bool = Field(True, description="scale numeric features (KNN needs it)")
    # Splits are written as shards of at most this size (whole rows), and the train split as
    # at least one shard per instance of the largest configured training job.
    shard_mb: float = Field(64, gt=0, le=1_048_576,
                            description="target size of a split's shard files, MiB")
    problem_type: Literal["auto", "regression", "binary", "multiclass"] = Field(
        "auto", description="auto: text/bool targets are classes (2: binary), numbers regression")

    @model_validator(mode="after")
    def _file_needs_input_and_target(self) -> DataConfig:
        if self.source == "file" and (not self.input or not self.target):
            raise ValueError("source 'file' needs both data.input and data.target")
        return self
