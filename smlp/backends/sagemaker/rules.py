"""What SageMaker would reject, or run differently from the local backend, checked before any
request is sent. Each rule names the AWS page it comes from and the smlp setting at fault.

Pure functions of job specs and settings: the request builders call them, and so does
:meth:`SageMakerBackend.preflight`, which checks every job of a command before the first one
is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smlp.errors import ConfigError

if TYPE_CHECKING:
    from smlp.algorithms.spec import AlgorithmSpec, MetricDefinition
    from smlp.backends.base import TrainingJobSpec, TuningJobSpec
    from smlp.backends.sagemaker.common import JobSettings

CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
# "Managed Spot Training" (model-managed-spot-training) and "Use checkpoints"
# (model-checkpoints): "SageMaker built-in algorithms and marketplace algorithms that do not
# checkpoint are currently limited to a MaxWaitTimeInSeconds of 3600 seconds".
SPOT_WAIT_WITHOUT_CHECKPOINTS = 3600
# API reference, HyperbandStrategyConfig: MinResource and MaxResource are integers >= 1, and
# "The maximum value is 20,000 epochs".
HYPERBAND_MAX_RESOURCE = 20_000

# -- clusters and input modes -------------------------------------------------------------------
# TrainingInputMode each algorithm's container accepts. XGBoost and k-NN: "File or Pipe" in
# "Parameters for Built-in Algorithms" (common-info-all-im-models); the XGBoost container's
# algorithm_mode/channel_validation.py registers only File and Pipe (each with ShardedByS3Key
# and FullyReplicated) and refuses any other channel configuration. scikit-learn (script mode):
# the script reads files from its channel folders, which File and FastFile ("provides file
# system access", API_AlgorithmSpecification) give it; Pipe gives it a FIFO it does not read.
INPUT_MODES: dict[str, tuple[str, ...]] = {
    "xgboost": ("File", "Pipe"),
    "knn": ("File", "Pipe"),
    "sklearn-gbm": ("File", "FastFile"),
}
# The channel split across instances by S3 key when instance_count > 1, per algorithm that
# trains on several instances ("Parallelizable: Yes" in the same table). XGBoost: each host
# trains on its own shard and rabit joins them (algorithm_mode/train.py, sagemaker_train:
# a host with no train or validation data is left out), so validation stays FullyReplicated.
# k-NN: each instance samples sample_size / instances points of its share of train
# (kNN_how-it-works, "Step 1: Sample"); its test channel only scores, replicated.
SHARDED_CHANNEL: dict[str, str] = {"xgboost": "train", "knn": "train"}


# -- managed spot training --------------------------------------------------------------------
def spot_enabled(settings: JobSettings, algorithm: str) -> bool:
    """``backend.use_spot``: true for every algorithm, or a list naming some of them."""
    if not settings.use_spot:
        return False
    return settings.spot_algorithms is None or algorithm in settings.spot_algorithms


def spot_wait_limit(spec: AlgorithmSpec) -> int | None:
    """The most MaxWaitTimeInSeconds SageMaker allows this algorithm under spot, if limited.

    The 3600 s limit is for built-in (and marketplace) algorithms that do not checkpoint. A
    script-mode job in a framework container is neither: without checkpoints an interrupted
    job starts again from the beginning, within its MaxWaitTimeInSeconds.
    """
    if spec.script_mode or spec.supports_checkpoints:
        return None
    return SPOT_WAIT_WITHOUT_CHECKPOINTS


def max_wait_seconds(spec: AlgorithmSpec, max_runtime: int, settings: JobSettings) -> int:
    """MaxWaitTimeInSeconds for a spot job of ``spec``; ConfigError naming the field at fault.

    API reference, StoppingCondition: it "must be equal to or greater than MaxRuntimeInSeconds".
    """
    limit = spot_wait_limit(spec)
    wait = settings.max_wait_seconds or max_runtime
    if limit is not None:
        fix = (f"or run {spec.name} on demand (leave it out of backend.use_spot, e.g. "
               f"use_spot: [{', '.join(_others(spec.name))}])")
        if settings.max_wait_seconds and settings.max_wait_seconds > limit:
            raise ConfigError(
                f"backend.max_wait_seconds: {settings.max_wait_seconds} s, but {spec.name} "
                f"does not checkpoint and SageMaker limits its managed spot training to "
                f"MaxWaitTimeInSeconds <= {limit}; lower it to {limit} {fix}")
        if max_runtime > limit:
            raise ConfigError(
                f"algorithms.{spec.name}.max_runtime_seconds: {max_runtime} s, but "
                f"{spec.name} does not checkpoint and SageMaker limits its managed spot "
                f"training to MaxWaitTimeInSeconds <= {limit} (which must cover the runtime); "
                f"lower it to {limit} {fix}")
    if wait < max_runtime:
        raise ConfigError(f"backend.max_wait_seconds ({wait}) must be at least the job's "
                          f"max_runtime_seconds ({max_runtime}) for spot training")
    return wait


def _others(name: str) -> list[str]:
    from smlp.algorithms import ALGORITHMS

    return [other for other in ALGORITHMS if other != name]


def checkpoint_config(spec: AlgorithmSpec, settings: JobSettings, job_name: str,
                      tuning: bool) -> dict[str, str] | None:
    """CheckpointConfig for a spot job of an algorithm that checkpoints, else None.

    Training jobs get ``<checkpoint base>/<job name>``: a path of their own, so a job never
    resumes from another one's checkpoint. Tuning definitions get none. SageMaker uses
    CheckpointConfig.S3Uri as given ("a single Amazon S3 location without additional suffixes
    or prefixes", "Use checkpoints", Considerations), so every trial of a tuning job would
    share it, and the XGBoost container resumes from the newest ``xgboost-checkpoint.<round>``
    it finds there (checkpointing.py, load_checkpoint): a trial would continue another
    trial's booster. An interrupted trial without checkpoints starts again from round 0.
    """
    if tuning or not spot_enabled(settings, spec.name) or not spec.supports_checkpoints:
        return None
    if not settings.checkpoint_s3_uri:
        return None
    return {"S3Uri": f"{settings.checkpoint_s3_uri.rstrip('/')}/{job_name}",
            "LocalPath": CHECKPOINT_LOCAL_PATH}


def input_mode(spec: AlgorithmSpec, settings: JobSettings) -> str:
    """``algorithms.<name>.input_mode``, if the algorithm's container accepts it."""
    mode = settings.input_modes.get(spec.name, "File")
    accepted = INPUT_MODES.get(spec.name, ("File",))
    if mode not in accepted:
        raise ConfigError(f"algorithms.{spec.name}.input_mode: {mode}, but {spec.name} reads "
                          f"its channels in {' or '.join(accepted)} mode only (SageMaker's "
                          "algorithm table); use one of those")
    return mode


def distribution(spec: AlgorithmSpec, channel: str, instance_count: int) -> str:
    """S3DataDistributionType of ``channel``: the sharded channel when there are several
    instances, every other channel (and every single-instance job) fully replicated."""
    if instance_count > 1 and SHARDED_CHANNEL.get(spec.name) == channel:
        return "ShardedByS3Key"
    return "FullyReplicated"


def check_cluster(job: TrainingJobSpec, spec: AlgorithmSpec) -> None:
    """Several instances only for algorithms that split their work across them."""
    if job.instance_count > 1 and spec.name not in SHARDED_CHANNEL:
        raise ConfigError(f"algorithms.{spec.name}.instance_count: {job.instance_count}, but "
                          f"{spec.name} trains on one instance (every other instance would "
                          "repeat the same work and be billed for it); set instance_count: 1 "
                          "and a larger instance_type instead")


def check_training(job: TrainingJobSpec, spec: AlgorithmSpec, settings: JobSettings) -> None:
    """Everything about one training job (or a tuning job's trials) SageMaker would refuse."""
    input_mode(spec, settings)
    check_cluster(job, spec)
    if spot_enabled(settings, spec.name):
        max_wait_seconds(spec, job.max_runtime_seconds, settings)
    check_classification(job.hyperparameters, spec)


# -- classification ---------------------------------------------------------------------------
_MULTI = ("multi:softprob", "multi:softmax")


def problem_type(hyperparameters: dict[str, str], spec: AlgorithmSpec) -> str:
    """The problem a job's hyperparameters train for (XGBoost's objective, k-NN's
    predictor_type, the scikit-learn script's problem_type)."""
    if spec.name == "xgboost":
        objective = hyperparameters.get("objective", "reg:squarederror")
        return ("multiclass" if objective in _MULTI else
                "binary" if objective.startswith("binary:") else "regression")
    if spec.name == "knn":
        classifier = hyperparameters.get("predictor_type") == "classifier"
        return "multiclass" if classifier else "regression"
    return hyperparameters.get("problem_type", "regression")


def check_classification(hyperparameters: dict[str, str], spec: AlgorithmSpec) -> None:
    """The XGBoost container's objective rules (algorithm_mode/hyperparameter_validation.py:
    ``objective_validator`` for num_class, ``eval_metric_dep_validator`` for auc): a job that
    breaks them fails at its start, after the instance was paid for."""
    if spec.name != "xgboost":
        return
    where = "algorithms.xgboost.hyperparameters"
    objective = hyperparameters.get("objective", "reg:squarederror")
    if objective in _MULTI and "num_class" not in hyperparameters:
        raise ConfigError(f"{where}.num_class: objective {objective} needs num_class (the "
                          "container: \"Require input for parameter 'num_class' for "
                          "multi-classification\")")
    if objective not in _MULTI and "num_class" in hyperparameters:
        raise ConfigError(f"{where}.num_class: only with multi:softprob (the container refuses "
                          f"it for {objective})")
    metrics = hyperparameters.get("eval_metric", "") + "," + hyperparameters.get(
        "_tuning_objective_metric", "")
    if "auc" in metrics and not objective.startswith(("binary:", "rank:")):
        raise ConfigError(f"{where}.eval_metric: auc needs a binary objective, not {objective} "
                          "(the container: \"Metric 'auc' can only be applied for "
                          "classification and ranking problems.\")")


# -- tuning -----------------------------------------------------------------------------------
def objective(tuning: TuningJobSpec, spec: AlgorithmSpec) -> MetricDefinition:
    """The tuning objective, if SageMaker can tune on it in that direction.

    Built-in algorithms accept only their SupportedTuningJobObjectiveMetrics, each with its
    optimization direction (metric tables of "Tune an XGBoost Model" and "Tune a k-NN Model";
    XGBoost container, algorithm_mode/metrics.py): XGBoost's train:* lines are no objective.
    Script mode tunes on any of its MetricDefinitions, in either direction.
    """
    where = f"tuning.algorithms.{spec.name}"
    try:
        metric = spec.objective(tuning.objective_metric)
    except KeyError as exc:
        raise ConfigError(f"{where}.objective_metric: {exc.args[0]}") from None
    if not spec.script_mode and tuning.objective_type != metric.direction:
        raise ConfigError(f"{where}.objective_type: {spec.name}'s {metric.name} is tuned with "
                          f"{metric.direction}, not {tuning.objective_type}")
    from smlp.algorithms.problems import objective_fits

    problem = problem_type(tuning.training.hyperparameters, spec)
    if spec.name == "knn" and problem != "regression":
        problem = "binary"  # k-NN's classifier metric is accuracy, whatever the class count
    if not objective_fits(spec.name, problem, metric.name):
        raise ConfigError(f"{where}.objective_metric: {metric.name} is not emitted (or means "
                          f"nothing) when {spec.name} trains for {problem}")
    return metric


def strategy_config(tuning: TuningJobSpec, spec: AlgorithmSpec) -> dict[str, Any] | None:
    """StrategyConfig: Hyperband's MinResource/MaxResource, None for the other strategies.

    API reference, HyperbandStrategyConfig: without MaxResource, SageMaker infers it only from
    a static hyperparameter named epochs, numepochs, n-epochs, n_epochs or num_epochs, and
    fails validation otherwise: XGBoost's num_round and scikit-learn's n_estimators must be
    sent. HyperParameterTuningJobConfig: TrainingJobEarlyStoppingType "must be OFF to use
    Hyperband". Hyperband "uses the final and intermediate results of a training job", so the
    resource must be a hyperparameter whose rounds each log the objective (k-NN logs it once).
    """
    if tuning.strategy != "Hyperband":
        return None
    where = f"tuning.algorithms.{spec.name}"
    if tuning.early_stopping != "Off":
        raise ConfigError("tuning.early_stopping: Hyperband stops trials itself; SageMaker "
                          "needs TrainingJobEarlyStoppingType Off with it")
    if spec.resource is None:
        raise ConfigError(f"tuning.strategy: Hyperband needs a hyperparameter counting epochs, "
                          f"and {spec.name} has none (it logs its metric once, at the end); "
                          f"use Bayesian or Random for {spec.name}, or leave it out "
                          f"({where}.enabled: false)")
    bounds = spec.hyperband_resources(tuning.ranges, tuning.training.hyperparameters)
    if bounds is None:
        raise ConfigError(f"{where}: Hyperband needs {spec.resource} as a range or a static "
                          "hyperparameter (its MaxResource)")
    least, most = bounds
    if most > HYPERBAND_MAX_RESOURCE:
        field = "ranges" if spec.resource in tuning.ranges else "static_hyperparameters"
        raise ConfigError(f"{where}.{field}.{spec.resource}: {most:,} epochs, but Hyperband's "
                          f"MaxResource is at most {HYPERBAND_MAX_RESOURCE:,}")
    return {"HyperbandStrategyConfig": {"MinResource": least, "MaxResource": most}}


def check_tuning(tuning: TuningJobSpec, spec: AlgorithmSpec, settings: JobSettings) -> None:
    """Everything about one tuning job SageMaker would refuse, before any request."""
    objective(tuning, spec)
    strategy_config(tuning, spec)
    check_training(tuning.training, spec, settings)
