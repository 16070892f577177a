"""A fake backend for unit tests of the stages. It never ships results to users."""

from __future__ import annotations

from dataclasses import dataclass, field

from smlp.backends.base import (
    JobStatus,
    TrainingJobSpec,
    TrainingResult,
    TransformJobSpec,
    TransformResult,
    TuningJobSpec,
    TuningResult,
)
from smlp.events import EventSink, ignore


@dataclass
class FakeBackend:
    """Records every job; fails the algorithms named in ``fail``."""

    fail: set[str] = field(default_factory=set)
    trained: list[TrainingJobSpec] = field(default_factory=list)
    name: str = "fake"
    max_parallel_jobs: int = 1

    def train(self, job: TrainingJobSpec, events: EventSink = ignore) -> TrainingResult:
        self.trained.append(job)
        if job.algorithm in self.fail:
            return TrainingResult(name=job.name, status="Failed",
                                  failure_reason="AlgorithmError: fake failure")
        return TrainingResult(name=job.name, status="Completed",
                              model_uri=f"{job.output_uri}/{job.name}/output/model.tar.gz",
                              model_sha256="0" * 64, final_metrics={"validation:rmse": 1.0})

    def tune(self, job: TuningJobSpec, events: EventSink = ignore) -> TuningResult:
        raise NotImplementedError("the fake backend does not tune")

    def transform(self, job: TransformJobSpec, events: EventSink = ignore) -> TransformResult:
        raise NotImplementedError("the fake backend does not transform")

    def describe(self, job_name: str) -> JobStatus:
        return JobStatus(job_name, "Completed")
