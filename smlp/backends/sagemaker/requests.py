"""Pure builders of SageMaker API requests from smlp's job specs: no I/O, easy to test.

Shapes follow the SageMaker API reference; what is not obvious is written next to it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smlp.backends.sagemaker import rules
from smlp.backends.sagemaker.common import JobSettings
from smlp.errors import ConfigError

if TYPE_CHECKING:
    from smlp.algorithms.spec import AlgorithmSpec
    from smlp.backends.base import TrainingJobSpec, TransformJobSpec, TuningJobSpec

TUNING_NAME_MAX = 32  # HyperParameterTuningJobName is shorter than other job names
# Script-mode hyperparameters the SageMaker SDK adds; never user hyperparameters.
SCRIPT_MODE_KEYS = ("sagemaker_program", "sagemaker_submit_directory",
                    "sagemaker_container_log_level", "sagemaker_region", "sagemaker_job_name")
LOG_LEVEL_INFO = 20
# The SDK's (and smlp's config) names for warm start types -> the API's enum values.
WARM_START_TYPES = {"IDENTICAL_DATA_AND_ALGORITHM": "IdenticalDataAndAlgorithm",
                    "TRANSFER_LEARNING": "TransferLearning"}


# -- training ---------------------------------------------------------------------------------
def script_mode_value(value: str) -> str:
    """A hyperparameter as the SageMaker SDK sends it in script mode: JSON-encoded.

    The training toolkit ``json.loads`` each value before passing ``--name value`` to the
    script, so numbers go as they are and any other string is quoted.
    """
    return value if _is_number(value) else json.dumps(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in {"nan", "inf", "-inf", "infinity", "-infinity"}


def script_mode_hyperparameters(spec: AlgorithmSpec, job_name: str, region: str,
                                sourcedir_uri: str) -> dict[str, str]:
    """The ``sagemaker_*`` entries that tell the framework container what to run."""
    return {
        "sagemaker_program": json.dumps(spec.entry_point),
        "sagemaker_submit_directory": json.dumps(sourcedir_uri),
        "sagemaker_container_log_level": json.dumps(LOG_LEVEL_INFO),
        "sagemaker_region": json.dumps(region),
        "sagemaker_job_name": json.dumps(job_name),
    }


def training_hyperparameters(job: TrainingJobSpec, spec: AlgorithmSpec, region: str,
                             sourcedir_uri: str | None) -> dict[str, str]:
    if not spec.script_mode:
        return dict(job.hyperparameters)
    if sourcedir_uri is None:
        raise ValueError(f"{spec.name} runs in script mode and needs a sourcedir URI")
    values = {key: script_mode_value(value) for key, value in job.hyperparameters.items()}
    values.update(script_mode_hyperparameters(spec, job.name, region, sourcedir_uri))
    return values


def algorithm_specification(spec: AlgorithmSpec, image: str,
                            input_mode: str = "File") -> dict[str, Any]:
    """Built-in algorithms bring their own metric definitions and reject overrides
    ("You can't override the metric definitions for Amazon SageMaker algorithms"), so only
    script mode sends the regexes, which then must match what the script prints."""
    body: dict[str, Any] = {"TrainingImage": image, "TrainingInputMode": input_mode}
    if spec.script_mode:
        body["MetricDefinitions"] = [{"Name": m.name, "Regex": m.regex} for m in spec.metrics]
    return body


def s3_prefix(uri: str) -> str:
    """A channel folder as an S3 prefix that cannot match a sibling (``train`` vs ``train2``)."""
    return uri if uri.endswith("/") else uri + "/"


def input_data_config(job: TrainingJobSpec, spec: AlgorithmSpec,
                      input_mode: str = "File") -> list[dict[str, Any]]:
    """Channels as S3 prefixes; with several instances the algorithm's sharded channel (see
    ``rules.SHARDED_CHANNEL``) gives each instance its own share of the split's files."""
    channels = []
    for name, uri in sorted(job.channels.items(), key=lambda item: _channel_order(spec, item)):
        if not uri.startswith("s3://"):
            raise ConfigError(f"channel {name}: {uri} is not on S3; SageMaker reads channels "
                              "from the s3:// store only")
        channels.append({
            "ChannelName": name,
            "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": s3_prefix(uri),
                "S3DataDistributionType": rules.distribution(spec, name, job.instance_count),
            }},
            "ContentType": spec.content_type,
            "CompressionType": "None",
            "InputMode": input_mode,
        })
    return channels


def _channel_order(spec: AlgorithmSpec, item: tuple[str, str]) -> int:
    order = list(spec.channels)
    return order.index(item[0]) if item[0] in order else len(order)


def resource_config(instance_type: str, instance_count: int, volume_gb: int,
                    settings: JobSettings) -> dict[str, Any]:
    body: dict[str, Any] = {"InstanceType": instance_type, "InstanceCount": instance_count,
                            "VolumeSizeInGB": volume_gb}
    if settings.volume_kms_key_id:
        body["VolumeKmsKeyId"] = settings.volume_kms_key_id
    return body


def stopping_condition(max_runtime: int, spec: AlgorithmSpec,
                       settings: JobSettings) -> dict[str, int]:
    body = {"MaxRuntimeInSeconds": max_runtime}
    if rules.spot_enabled(settings, spec.name):
        body["MaxWaitTimeInSeconds"] = rules.max_wait_seconds(spec, max_runtime, settings)
    return body


def _common(settings: JobSettings, spec: AlgorithmSpec, job_name: str,
            tuning: bool) -> dict[str, Any]:
    """Spot, checkpoints and VPC: per algorithm, for a training job or a tuning definition."""
    body: dict[str, Any] = {}
    if rules.spot_enabled(settings, spec.name):
        body["EnableManagedSpotTraining"] = True
    checkpoints = rules.checkpoint_config(spec, settings, job_name, tuning)
    if checkpoints is not None:
        body["CheckpointConfig"] = checkpoints
    if settings.subnets:
        body["VpcConfig"] = {"SecurityGroupIds": list(settings.security_group_ids),
                             "Subnets": list(settings.subnets)}
    return body


def output_data_config(output_uri: str, settings: JobSettings) -> dict[str, str]:
    body = {"S3OutputPath": output_uri.rstrip("/")}
    if settings.output_kms_key_id:
        body["KmsKeyId"] = settings.output_kms_key_id
    return body


def tags(settings: JobSettings) -> list[dict[str, str]]:
    """The user's tags, then ``smlp:managed=true`` last: the notebook role's permissions are
    scoped by that tag, so a user tag of the same name must not change it."""
    merged = {**settings.tags, "smlp:managed": "true"}
    return [{"Key": key, "Value": value} for key, value in merged.items()]


def training_job_request(job: TrainingJobSpec, spec: AlgorithmSpec, image: str,
                         settings: JobSettings, sourcedir_uri: str | None = None
                         ) -> dict[str, Any]:
    """CreateTrainingJob: channels as S3 prefixes, every hyperparameter a string."""
    request: dict[str, Any] = {
        "TrainingJobName": job.name,
        "HyperParameters": training_hyperparameters(job, spec, settings.region, sourcedir_uri),
        **_training_definition(job, spec, image, settings, job.name, tuning=False),
        "Tags": tags(settings),
    }
    return request


def _training_definition(job: TrainingJobSpec, spec: AlgorithmSpec, image: str,
                         settings: JobSettings, name: str, tuning: bool) -> dict[str, Any]:
    """What a training job and a tuning job's TrainingJobDefinition share."""
    rules.check_training(job, spec, settings)
    mode = rules.input_mode(spec, settings)
    return {
        "AlgorithmSpecification": algorithm_specification(spec, image, mode),
        "RoleArn": settings.role_arn,
        "InputDataConfig": input_data_config(job, spec, mode),
        "OutputDataConfig": output_data_config(job.output_uri, settings),
        "ResourceConfig": resource_config(job.instance_type, job.instance_count,
                                          job.volume_size_gb, settings),
        "StoppingCondition": stopping_condition(job.max_runtime_seconds, spec, settings),
        **_common(settings, spec, name, tuning),
    }


# -- tuning -----------------------------------------------------------------------------------
def tuning_job_name(name: str) -> str:
    """Tuning job names are capped at 32 characters; keep the start and a stable hash."""
    if len(name) <= TUNING_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: TUNING_NAME_MAX - 9].rstrip('-')}-{digest}"


def parameter_ranges(ranges: dict[str, Any], script_mode: bool, strategy: str
                     ) -> dict[str, list[dict[str, Any]]]:
    """smlp's range models as ParameterRanges; every bound and value is a string."""
    integer: list[dict[str, Any]] = []
    continuous: list[dict[str, Any]] = []
    categorical: list[dict[str, Any]] = []
    for name, spec in sorted(ranges.items()):
        kind = getattr(spec, "type", None)
        if kind == "categorical":
            values = [_range_value(v) for v in spec.values]
            if script_mode:
                values = [script_mode_value(v) for v in values]
            categorical.append({"Name": name, "Values": values})
            continue
        if strategy == "Grid":
            raise ConfigError(f"tuning: range {name} is {kind}, but the Grid strategy on "
                              "SageMaker takes categorical ranges only; list the values to try")
        item = {"Name": name, "MinValue": _range_value(spec.min_value),
                "MaxValue": _range_value(spec.max_value), "ScalingType": spec.scaling}
        (integer if kind == "integer" else continuous).append(item)
    result = {}
    if integer:
        result["IntegerParameterRanges"] = integer
    if continuous:
        result["ContinuousParameterRanges"] = continuous
    if categorical:
        result["CategoricalParameterRanges"] = categorical
    return result


def _range_value(value: Any) -> str:
    from smlp.algorithms.hyperparameters import as_string

    return as_string(value)


def tuning_job_request(tuning: TuningJobSpec, spec: AlgorithmSpec, image: str,
                       settings: JobSettings, sourcedir_uri: str | None = None
                       ) -> dict[str, Any]:
    """CreateHyperParameterTuningJob: the training job as a definition plus the search."""
    job = tuning.training
    name = tuning_job_name(tuning.name)
    static = {key: value for key, value in job.hyperparameters.items()
              if key not in tuning.ranges}
    static_job = _replace_hyperparameters(job, static)
    hyperparameters = training_hyperparameters(static_job, spec, settings.region, sourcedir_uri)
    hyperparameters.pop("sagemaker_job_name", None)  # trials are named by SageMaker
    objective = rules.objective(tuning, spec).name
    limits: dict[str, int] = {"MaxParallelTrainingJobs": tuning.max_parallel_jobs}
    if tuning.strategy != "Grid":  # Grid runs every combination; a count is rejected
        limits["MaxNumberOfTrainingJobs"] = tuning.max_jobs
    if tuning.timeout_seconds:
        limits["MaxRuntimeInSeconds"] = max(120, int(tuning.timeout_seconds))
    config: dict[str, Any] = {
        "Strategy": tuning.strategy,
        "HyperParameterTuningJobObjective": {"Type": tuning.objective_type,
                                             "MetricName": objective},
        "ResourceLimits": limits,
        "ParameterRanges": parameter_ranges(tuning.ranges, spec.script_mode, tuning.strategy),
        "TrainingJobEarlyStoppingType": tuning.early_stopping,
        "RandomSeed": tuning.random_seed,
    }
    strategy = rules.strategy_config(tuning, spec)
    if strategy is not None:
        config["StrategyConfig"] = strategy
    definition: dict[str, Any] = {
        "StaticHyperParameters": hyperparameters,
        **_training_definition(job, spec, image, settings, name, tuning=True),
    }
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
        "Tags": tags(settings),
    }
    if tuning.warm_start_parents:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": parent} for parent in tuning.warm_start_parents
            ],
            "WarmStartType": WARM_START_TYPES.get(tuning.warm_start_type,
                                                  tuning.warm_start_type),
        }
    return request


def _replace_hyperparameters(job: TrainingJobSpec, values: dict[str, str]) -> TrainingJobSpec:
    from dataclasses import replace

    return replace(job, hyperparameters=values)


def decode_hyperparameters(values: dict[str, str], script_mode: bool) -> dict[str, str]:
    """A trial's hyperparameters back in smlp's plain-string form (no ``sagemaker_*``)."""
    result = {}
    for key, value in values.items():
        if key in SCRIPT_MODE_KEYS or key.startswith("_tuning_objective"):
            continue
        if script_mode:
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = value
            value = decoded if isinstance(decoded, str) else value
        result[key] = value
    return result


# -- batch transform --------------------------------------------------------------------------
def model_request(name: str, spec: AlgorithmSpec, image: str, model_data: str,
                  settings: JobSettings, sourcedir_uri: str | None = None) -> dict[str, Any]:
    """CreateModel: built-in images load model.tar.gz themselves; script mode also needs the
    entry point (``model_fn``) and where its code lives, in the container environment."""
    container: dict[str, Any] = {"Image": image, "ModelDataUrl": model_data}
    if spec.script_mode:
        if sourcedir_uri is None:
            raise ValueError(f"{spec.name} serves in script mode and needs a sourcedir URI")
        container["Environment"] = {
            "SAGEMAKER_PROGRAM": spec.entry_point,
            "SAGEMAKER_SUBMIT_DIRECTORY": sourcedir_uri,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": str(LOG_LEVEL_INFO),
            "SAGEMAKER_REGION": settings.region,
        }
    request: dict[str, Any] = {
        "ModelName": name,
        "PrimaryContainer": container,
        "ExecutionRoleArn": settings.role_arn,
        "Tags": tags(settings),
    }
    if settings.subnets:
        request["VpcConfig"] = {"SecurityGroupIds": list(settings.security_group_ids),
                                "Subnets": list(settings.subnets)}
    return request


@dataclass(frozen=True)
class TransformIO:
    """Where a transform job reads and writes on S3, and what the container speaks."""

    input_s3: str  # a key (one file) or a prefix ending in "/"
    output_s3: str
    accept: str = "text/csv"
    # "full": SageMaker filters and joins; "input": input filter only, smlp joins afterwards;
    # "none": the input is already the model's features (smlp encoded it).
    data_processing: str = "full"


def transform_job_request(job: TransformJobSpec, model_name: str, io: TransformIO,
                          settings: JobSettings) -> dict[str, Any]:
    """CreateTransformJob: CSV split on lines, one prediction per line, filters as configured."""
    options = job.options
    request: dict[str, Any] = {
        "TransformJobName": job.name,
        "ModelName": model_name,
        "BatchStrategy": options.batch_strategy,
        "MaxPayloadInMB": options.max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": io.input_s3}},
            "ContentType": options.content_type,
            "SplitType": options.split_type,
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": io.output_s3.rstrip("/"),
            "Accept": io.accept,
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": options.instance_type,
                               "InstanceCount": options.instance_count},
        "Tags": tags(settings),
    }
    concurrent = getattr(options, "max_concurrent_transforms", 0)
    if concurrent:  # unset: SageMaker asks the container (execution-parameters), else 1
        request["MaxConcurrentTransforms"] = concurrent
    if settings.output_kms_key_id:
        request["TransformOutput"]["KmsKeyId"] = settings.output_kms_key_id
    if settings.volume_kms_key_id:
        request["TransformResources"]["VolumeKmsKeyId"] = settings.volume_kms_key_id
    processing = data_processing(options, io.data_processing)
    if processing:
        request["DataProcessing"] = processing
    return request


def data_processing(options: Any, mode: str = "full") -> dict[str, str]:
    """DataProcessing with only the filters that differ from SageMaker's defaults (see
    :class:`TransformIO` for ``mode``)."""
    body: dict[str, str] = {}
    if mode == "none":
        return body
    if options.input_filter not in (None, "", "$"):
        body["InputFilter"] = options.input_filter
    if mode == "full" and options.join_source not in (None, "None"):
        body["JoinSource"] = options.join_source
    if mode == "full" and options.output_filter not in (None, "", "$"):
        body["OutputFilter"] = options.output_filter
    return body
