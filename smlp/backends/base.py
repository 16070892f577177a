"""The backend interface: the few verbs the pipeline needs, each synchronous for the caller.

A backend runs jobs; it never decides what a result means. A failed job comes back as a
result with ``status == "Failed"`` and SageMaker's ``FailureReason``; stages decide whether
that is fatal (``smlp train``) or just a bad trial (``smlp tune``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from smlp.events import EventSink, ignore

if TYPE_CHECKING:
    from smlp.config.compare import TransformConfig
    from smlp.config.tuning import ParameterRange
    from smlp.data.schema import Schema

JobStatusName = Literal["InProgress", "Completed", "Failed", "Stopped"]


@dataclass(frozen=True)
class TrainingJobSpec:
    """What CreateTrainingJob needs, in smlp's terms."""

    name: str
    algorithm: str
    hyperparameters: dict[str, str]
    channels: dict[str, str]  # channel name -> URI of a folder/prefix of CSV files
    output_uri: str  # model lands at <output_uri>/<name>/output/model.tar.gz
    container_version: str
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime_seconds: int = 86_400


@dataclass
class TrainingResult:
    name: str
    status: JobStatusName
    model_uri: str | None = None
    model_sha256: str | None = None
    final_metrics: dict[str, float] = field(default_factory=dict)
    metric_series: dict[str, list[float]] = field(default_factory=dict)
    failure_reason: str | None = None
    seconds: float = 0.0
    log_uri: str | None = None


@dataclass(frozen=True)
class TransformJobSpec:
    """What CreateModel + CreateTransformJob need, in smlp's terms."""

    name: str
    algorithm: str
    model_uri: str
    container_version: str
    input_uri: str  # a CSV file or a folder/prefix of them
    output_uri: str  # folder/prefix; <input name>.out per input file
    n_features: int
    options: TransformConfig
    schema: Schema | None = None  # raw input with a header goes through it first
    model_sha256: str | None = None  # checked before the model is used


@dataclass
class TransformResult:
    name: str
    status: JobStatusName
    output_uri: str
    outputs: list[str] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    failure_reason: str | None = None
    # Streaming the rows (read, predict, write) without start-up and model load; None where
    # it is not measured apart (SageMaker: the job's time includes its instances' start-up).
    batch_seconds: float | None = None
    # Per column, categories of raw input the schema does not know (None: a missing cell).
    unseen_categories: dict[str, dict[str | None, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class TuningJobSpec:
    """What CreateHyperParameterTuningJob needs: a training job template plus the search."""

    name: str
    training: TrainingJobSpec  # static hyperparameters, channels, output, resources
    ranges: dict[str, ParameterRange]
    objective_metric: str
    objective_type: Literal["Minimize", "Maximize"] = "Minimize"
    strategy: Literal["Bayesian", "Random", "Grid", "Hyperband"] = "Bayesian"
    max_jobs: int = 20
    max_parallel_jobs: int = 2
    random_seed: int = 42
    early_stopping: Literal["Off", "Auto"] = "Off"
    timeout_seconds: float | None = None
    warm_start_parents: tuple[str, ...] = ()
    warm_start_type: str = "IDENTICAL_DATA_AND_ALGORITHM"
    # The parents' trials as the manifest recorded them. SageMaker looks its parents up by
    # name; the local backend seeds its search with these.
    parent_trials: tuple[TrialResult, ...] = ()
    resume: bool = False
    # The algorithm's untuned values (its configured hyperparameters, else its documented
    # defaults) for the ranged hyperparameters: the local search runs them first. SageMaker has
    # no request field for a first point; it starts from its own.
    first_trial: dict[str, str] | None = None


@dataclass
class TrialResult:
    """One training job of a tuning job, as ListTrainingJobsForHyperParameterTuningJob tells."""

    name: str
    hyperparameters: dict[str, str]
    status: JobStatusName
    objective: float | None = None
    final_metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    model_uri: str | None = None
    model_sha256: str | None = None
    failure_reason: str | None = None


@dataclass
class TuningResult:
    name: str
    status: JobStatusName
    trials: list[TrialResult] = field(default_factory=list)
    best: TrialResult | None = None
    seconds: float = 0.0
    failure_reason: str | None = None


@dataclass
class JobStatus:
    name: str
    status: JobStatusName
    failure_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """Runs training, tuning and transform jobs, reports a job's status, and serves endpoints."""

    name: str

    def train(self, job: TrainingJobSpec, events: EventSink = ignore) -> TrainingResult: ...

    def tune(self, job: TuningJobSpec, events: EventSink = ignore) -> TuningResult: ...

    def transform(self, job: TransformJobSpec, events: EventSink = ignore) -> TransformResult: ...

    def describe(self, job_name: str) -> JobStatus: ...

    # Real-time endpoints (smlp deploy / invoke / endpoint)
    def deploy(self, spec: EndpointSpec, events: EventSink = ignore) -> EndpointInfo:
        """Local: serve in the foreground until stopped. SageMaker: create, wait InService."""
        ...

    def list_endpoints(self) -> list[EndpointInfo]: ...

    def describe_endpoint(self, name: str) -> EndpointInfo: ...

    def update_endpoint_weights(self, name: str, weights: dict[str, float]) -> EndpointInfo: ...

    def delete_endpoint(self, name: str) -> list[str]:
        """Remove the endpoint, its config and the models it created; what was removed."""
        ...

    def endpoint_invoker(self, name: str) -> Any:
        """A callable sending one request to endpoint ``name`` (smlp.serving.client.Invoker)."""
        ...


# -- real-time endpoints -----------------------------------------------------------------------
@dataclass(frozen=True)
class VariantSpec:
    """One ProductionVariant: the model behind it, its weight and (on SageMaker) its hosts."""

    name: str
    candidate: str
    algorithm: str
    model_uri: str
    container_version: str
    weight: float = 1.0
    model_sha256: str | None = None
    instance_type: str = "ml.m5.large"
    instance_count: int = 1


@dataclass(frozen=True)
class EndpointSpec:
    """What CreateModel (per variant) + CreateEndpointConfig + CreateEndpoint need."""

    name: str
    variants: tuple[VariantSpec, ...]
    n_features: int
    schema: Schema | None = None  # raw rows with a header go through it
    capture_percentage: int = 0  # DataCaptureConfig.InitialSamplingPercentage; 0 = off
    capture_prefix: str = "datacapture"  # under the store
    capture_mode: str = "InputAndOutput"
    host: str = "127.0.0.1"  # local only
    port: int = 8080  # local only
    seed: int | None = None  # local only: routing and sampling draws


@dataclass
class EndpointInfo:
    """DescribeEndpoint, in smlp's terms; locally also the live per-variant counters."""

    name: str
    status: str  # Creating | InService | Updating | Failed | Deleting | OutOfService | Stopped
    backend: str
    url: str | None = None
    variants: list[dict[str, Any]] = field(default_factory=list)
    failure_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

