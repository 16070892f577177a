"""The sagemaker backend against moto (``mock_aws``): what SageMaker receives, and what smlp
makes of what SageMaker's side returns.

The stand-in (see ``sagemaker_fixtures``) plays SageMaker's side with references that are not
smlp: the scikit-learn container's real training toolkit and serving transformer, the XGBoost
container's code mirrored in xgboost, an independent k-NN, and Batch Transform's platform
behaviour from the AWS docs. smlp's metrics, scores and outputs are checked against those.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smlp.backends.sagemaker import SageMakerBackend
from smlp.backends.sagemaker.session import AwsSession
from smlp.errors import BackendError, ConfigError
from smlp.events import Event
from tests.conftest import SMALL
from tests.data_paths import schema_key, split_key
from tests.integration.sagemaker_fixtures import (
    REGION,
    ROLE,
    STORE,
    SageMakerTraffic,
    build_in_moto,
    prepare_data,
    record_sagemaker,
    restore_bucket,
    sagemaker_config,
)


@pytest.fixture
def sm_store(make_store: Any) -> Any:
    """The moto-backed S3 store (bucket ``smlp-test``, prefix ``projects/demo``)."""
    return make_store("s3")


@pytest.fixture
def traffic(sm_store: Any, project: Path, monkeypatch: pytest.MonkeyPatch) -> SageMakerTraffic:
    return record_sagemaker(sm_store, project / ".emulator", monkeypatch)


@pytest.fixture(scope="module")
def prepared_objects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Any]]:
    """Synthetic data prepared into an S3 store once for the module: its record and objects."""
    from smlp.config import load_config

    return build_in_moto(tmp_path_factory.mktemp("prepared"),
                         lambda store: prepare_data(load_config(None, SMALL), store))


@pytest.fixture
def prepared(sm_store: Any, prepared_objects: tuple[Any, list[Any]]) -> Any:
    """The module's prepared data in this test's own moto bucket; its DataRecord."""
    record, objects = prepared_objects
    restore_bucket(sm_store.client, objects)
    return record.model_copy(deep=True)


def backend_for(config: Any, store: Any, **kwargs: Any) -> SageMakerBackend:
    return SageMakerBackend(config, store, session=AwsSession(REGION, 3), **kwargs)


def untar(data: bytes, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(target, filter="data")
    return target


def test_train_compare_transform_on_sagemaker(small_config, sm_store, prepared, traffic):
    """Every stage through the sagemaker backend against the reference containers: smlp's
    numbers must be theirs, and the XGBoost and scikit-learn models SageMaker trained must
    serve locally exactly as their containers serve them."""
    from smlp.backends.local import LocalBackend
    from smlp.stages.compare import compare
    from smlp.stages.train import train
    from smlp.stages.transform import transform

    config = sagemaker_config(small_config)
    backend = backend_for(config, sm_store)
    events: list[Event] = []
    candidates = {c.name: c for c in train(config, sm_store, backend, None, None,
                                           events.append)}
    check_training_requests(traffic, len(prepared.features), prepared)
    check_candidates(traffic, candidates, events)
    check_split_layout(sm_store, len(prepared.features))

    remote = compare(config, sm_store, backend)
    result = transform(config, sm_store, backend)
    check_transform_requests(traffic, prepared.splits["test"].shards[0].uri)
    assert result.outputs == [f"{STORE}/transform/{result.name}/part-00000.csv.out"]
    assert result.rows == prepared.rows["test"]

    # compare scored what the containers answered for the test split, as a reference would.
    from sklearn import metrics

    labels_text = [line.split(",", 1)[0] for line in
                   sm_store.read_bytes(split_key(sm_store, "test")).decode().splitlines()]
    labels = np.array([float(v) for v in labels_text])
    answered = {name: container_answers(traffic, c.model.uri)[0]
                for name, c in candidates.items()}
    assert {c.name for c in remote.candidates} == set(candidates)
    for scored in remote.candidates:
        predicted = answered[scored.name]
        mse = metrics.mean_squared_error(labels, predicted)
        assert scored.metrics == pytest.approx({
            "rmse": np.sqrt(mse), "mse": mse, "r2": metrics.r2_score(labels, predicted),
            "mae": metrics.mean_absolute_error(labels, predicted)}, rel=1e-6), scored.name
        kept_labels, kept = labelled_lines(sm_store.read_bytes(
            f"compare/{scored.name}/part-00000.csv.out"))
        assert kept_labels == labels_text, scored.name  # smlp joined k-NN's JSON answers itself
        np.testing.assert_allclose(kept, predicted, rtol=1e-6, err_msg=scored.name)

    # XGBoost and scikit-learn artifacts are interchangeable: the models SageMaker trained,
    # served by smlp's local backend, answer what their containers answered.
    local_config = small_config.model_copy(update={"store": STORE})
    for name in ("xgboost", "sklearn-gbm"):
        served = transform(local_config, sm_store, LocalBackend(local_config, sm_store),
                           model=name)
        served_labels, ours = labelled_lines(sm_store.read_bytes(sm_store.key(
            served.outputs[0])))
        assert served_labels == labels_text
        if name == "xgboost":  # float32 predictions either way
            np.testing.assert_array_equal(ours.astype(np.float32),
                                          answered[name].astype(np.float32))
        else:
            np.testing.assert_array_equal(ours, answered[name])
    # k-NN's are not: knn:1's artifact is its own format, so the local backend refuses it (and
    # a compare that would need it) before any job.
    local = LocalBackend(local_config, sm_store)
    for attempt in (lambda: transform(local_config, sm_store, local, model="knn"),
                    lambda: compare(local_config, sm_store, local)):
        with pytest.raises(BackendError, match="candidate knn: its knn model was trained by "
                                               "the sagemaker backend"):
            attempt()


def labelled_lines(body: bytes) -> tuple[list[str], np.ndarray]:
    """``label,prediction`` lines: the label as written, the prediction as a number."""
    lines = body.decode().splitlines()
    return [line.split(",")[0] for line in lines], np.array(
        [float(line.split(",")[-1]) for line in lines])


def container_answers(traffic: SageMakerTraffic, model_uri: str) -> list[np.ndarray]:
    """The predictions each transform job of this model got from its container, in order."""
    answers = []
    for request in traffic.requests("CreateTransformJob"):
        model = traffic.models[request["ModelName"]]["PrimaryContainer"]
        if model["ModelDataUrl"] != model_uri:
            continue
        for body in traffic.transformed[request["TransformJobName"]].outputs.values():
            values = []
            for line in body.decode().splitlines():
                text = line.strip()
                values.append(json.loads(text)["predicted_label"] if text.startswith("{")
                              else float(text.split(",")[-1]))
            answers.append(np.array(values, dtype=np.float64))
    return answers


def reference_objective(trained: Any) -> float:
    """The objective metric SageMaker would report for a job the stand-in ran, found without
    smlp: the container's own regex over its log (XGBoost, ``algorithm_mode/metrics.py``), or
    the saved model scored on the channel (scikit-learn's validation, k-NN's test)."""
    import joblib
    from sklearn.metrics import mean_squared_error

    if trained.algorithm == "xgboost":
        pattern = re.compile(r".*\[[0-9]+\].*#011validation-rmse:(\S+)")
        values = [m.group(1) for line in trained.log if (m := pattern.match(line))]
        return float(values[-1])
    channel = "test" if trained.algorithm == "knn" else "validation"
    rows = np.concatenate([np.loadtxt(p, delimiter=",", ndmin=2) for p in
                           sorted((trained.base / "input/data" / channel).iterdir())])
    if trained.algorithm == "knn":
        from tests.reference.knn import KnnServing

        model: Any = KnnServing(trained.base / "model")
        return float(mean_squared_error(rows[:, 0], model.predict(rows[:, 1:])))
    model = joblib.load(trained.base / "model" / "model.joblib")
    return float(np.sqrt(mean_squared_error(rows[:, 0], model.predict(rows[:, 1:]))))


def test_container_trained_xgboost_at_its_best_round_serves_locally(small_config, sm_store,
                                                                     prepared, traffic):
    """The reverse of the artifact check: a booster the container's training saved at its best
    round (early stopping with save_best) serves through smlp's local transform as the
    container's serving code serves it, and smlp reports the metric SageMaker would."""
    from smlp.backends.local import LocalBackend
    from smlp.stages.train import train
    from smlp.stages.transform import transform
    from tests.reference import batch_transform
    from tests.reference.xgboost_container import XGBoostServing

    config = sagemaker_config(small_config)
    [candidate] = train(config, sm_store, backend_for(config, sm_store), ["xgboost"],
                        ["num_round=300", "eta=0.6", "early_stopping_rounds=3"])
    trained = traffic.trained[candidate.job_name]
    container = XGBoostServing(trained.base / "model")
    rounds = container.model.num_boosted_rounds()
    assert rounds == int(container.model.attributes()["best_iteration"]) + 1 < 300
    assert candidate.training_metrics["validation:rmse"] == pytest.approx(
        reference_objective(trained))

    local_config = small_config.model_copy(update={"store": STORE})
    served = transform(local_config, sm_store, LocalBackend(local_config, sm_store),
                       model="xgboost")
    labels, ours = labelled_lines(sm_store.read_bytes(sm_store.key(served.outputs[0])))
    request = {"BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6,
               "TransformInput": {"ContentType": "text/csv", "SplitType": "Line"},
               "TransformOutput": {"Accept": "text/csv", "AssembleWith": "Line"},
               "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input",
                                  "OutputFilter": "$[0,-1]"}}
    theirs = batch_transform.transform_object(sm_store.read_bytes(split_key(sm_store, "test")),
                                              request, container.invoke)
    their_labels, their_predictions = labelled_lines(theirs)
    assert labels == their_labels
    np.testing.assert_array_equal(ours.astype(np.float32),
                                  their_predictions.astype(np.float32))


def check_training_requests(traffic: Any, n_features: int, prepared: Any) -> None:
    data = prepared.splits["train"].uri.rsplit("/", 1)[0]  # the recorded data version
    requests = {r["TrainingJobName"].split("-")[1]: r
                for r in traffic.requests("CreateTrainingJob")}
    assert set(requests) == {"xgboost", "knn", "sklearn"}
    xgb = requests["xgboost"]
    assert xgb["AlgorithmSpecification"] == {
        "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
        "TrainingInputMode": "File"}  # built-in: SageMaker's own metric definitions
    assert [(c["ChannelName"], c["ContentType"], c["DataSource"]["S3DataSource"]["S3Uri"])
            for c in xgb["InputDataConfig"]] == [
        ("train", "text/csv", f"{data}/train/"),
        ("validation", "text/csv", f"{data}/validation/")]
    assert xgb["HyperParameters"]["num_round"] == "20"
    assert xgb["RoleArn"] == ROLE
    assert xgb["OutputDataConfig"] == {"S3OutputPath": f"{STORE}/training"}

    knn = requests["knn"]
    assert knn["AlgorithmSpecification"]["TrainingImage"].endswith("/knn:1")
    assert [(c["ChannelName"], c["ContentType"]) for c in knn["InputDataConfig"]] == [
        ("train", "text/csv;label_size=1"), ("test", "text/csv;label_size=1")]
    assert knn["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"].endswith(
        f"{data}/validation/")  # the test split stays unseen
    assert knn["HyperParameters"]["feature_dim"] == str(n_features)

    sk = requests["sklearn"]
    hps = sk["HyperParameters"]
    assert json.loads(hps["sagemaker_program"]) == "sklearn_gbm.py"
    sourcedir = json.loads(hps["sagemaker_submit_directory"])
    assert sourcedir.startswith(f"{STORE}/code/") and sourcedir.endswith("/sourcedir.tar.gz")
    assert hps["n_estimators"] == "20"
    assert sk["AlgorithmSpecification"]["TrainingImage"].endswith(
        "/sagemaker-scikit-learn:1.9-0-cpu-py3")
    definitions = sk["AlgorithmSpecification"]["MetricDefinitions"]
    assert {d["Name"] for d in definitions} >= {"validation:rmse", "train:rmse"}
    for request in requests.values():
        assert all(isinstance(v, str) for v in request["HyperParameters"].values())


def check_candidates(traffic: Any, candidates: dict[str, Any], events: list[Event]) -> None:
    """Each candidate is the model its job wrote, with the objective SageMaker would report:
    smlp's regexes over the streamed CloudWatch lines read the reference's number."""
    for name, candidate in candidates.items():
        job = candidate.job_name
        trained = traffic.trained[job]
        objective = "test:mse" if name == "knn" else "validation:rmse"
        assert candidate.training_metrics[objective] == pytest.approx(
            reference_objective(trained), rel=1e-9), name
        assert candidate.model.uri == trained.model_uri == (
            f"{STORE}/training/{job}/output/model.tar.gz")
        assert candidate.model.sha256 == trained.model_sha256, name
    assert any(e.kind == "log" and "validation:rmse=" in e.message for e in events)
    assert any(e.kind == "job" and e.data.get("status") == "Completed" for e in events)


def check_split_layout(store: Any, n_features: int) -> None:
    """What SageMaker reads: one folder per split, target first, no header."""
    keys = {split: split_key(store, split) for split in ("train", "validation", "test")}
    assert all(key.endswith(f"/{split}/part-00000.csv") for split, key in keys.items())
    assert set(keys.values()) <= set(store.list("data"))
    first = store.read_bytes(keys["train"]).split(b"\n", 1)[0].decode()
    assert len([float(v) for v in first.split(",")]) == n_features + 1  # a header won't parse


def check_transform_requests(traffic: Any, test_uri: str) -> None:
    models = traffic.requests("CreateModel")
    env = {m["ModelName"].split("-")[1]: m["PrimaryContainer"] for m in models}
    assert env["sklearn"]["Environment"]["SAGEMAKER_PROGRAM"] == "sklearn_gbm.py"
    assert env["sklearn"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"].endswith(
        "sourcedir.tar.gz")
    assert "Environment" not in env["xgboost"] and "Environment" not in env["knn"]
    jobs = {j["TransformJobName"].split("-")[1]: j
            for j in traffic.requests("CreateTransformJob")}
    xgb = jobs["xgboost"]
    assert xgb["TransformInput"]["SplitType"] == "Line"
    assert xgb["TransformInput"]["ContentType"] == "text/csv"
    assert xgb["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == test_uri
    assert xgb["TransformOutput"]["AssembleWith"] == "Line"
    assert xgb["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input",
                                     "OutputFilter": "$[0,-1]"}
    # The scikit-learn container answers an absent or */* Accept in application/json, which
    # the script's output_fn refuses: the request must ask for text/csv.
    assert jobs["sklearn"]["TransformOutput"]["Accept"] == "text/csv"
    knn = jobs["knn"]  # JSON-only container: SageMaker predicts, smlp joins
    assert knn["TransformOutput"]["Accept"] == "application/jsonlines"
    assert knn["DataProcessing"] == {"InputFilter": "$[1:]"}
    assert traffic.operations().count("DeleteModel") == len(models)


def test_sourcedir_is_uploaded_once_and_serves_like_the_container(
        small_config, sm_store, prepared, traffic, tmp_path, monkeypatch):
    """sklearn artifact compatibility: the model the job wrote, with the code from the
    sourcedir SageMaker downloads, served by the container's transformer
    (model_fn, then input_fn/predict_fn/output_fn per request) predicts what the model does."""
    import joblib

    from smlp.stages.train import train
    from tests.reference.sklearn_container import SklearnServing

    config = sagemaker_config(small_config)
    train(config, sm_store, backend_for(config, sm_store), ["sklearn-gbm"])
    code_keys = sm_store.list("code")
    assert len(code_keys) == 1
    written: list[str] = []
    monkeypatch.setattr(type(sm_store), "write_bytes", lambda self, key, data: written.append(key))
    again = backend_for(config, sm_store).sourcedir()  # a new run, the same code
    assert again == sm_store.uri(code_keys[0]) and written == []  # content-addressed: no upload
    request = traffic.requests("CreateTrainingJob")[-1]
    code = untar(sm_store.read_bytes(code_keys[0]), tmp_path / "code")
    program = json.loads(request["HyperParameters"]["sagemaker_program"])
    assert (code / program).is_file() and (code / "_sm_io.py").is_file()
    job = request["TrainingJobName"]
    model_dir = untar(sm_store.read_bytes(f"training/{job}/output/model.tar.gz"),
                      tmp_path / "model")

    rows = sm_store.read_bytes(split_key(sm_store, "test")).decode().splitlines()[:5]
    payload = "".join(row.split(",", 1)[1] + "\n" for row in rows).encode()
    with SklearnServing(code, model_dir, program) as container:
        answer = container.invoke(payload, "text/csv", "text/csv")
        with pytest.raises(Exception, match="HTTP 500"):  # no Accept: application/json
            container.invoke(payload, "text/csv", "")
    features = np.loadtxt(io.StringIO(payload.decode()), delimiter=",", ndmin=2)
    expected = joblib.load(model_dir / "model.joblib").predict(features)
    np.testing.assert_array_equal([float(v) for v in answer.decode().split()], expected)


def test_transform_of_local_files_with_and_without_download(small_config, sm_store, prepared,
                                                           traffic, project):
    """Raw input with a header is encoded with the schema before upload and joined after;
    outputs for a local folder are downloaded, or left on S3 when the config says so."""
    from smlp.stages.compare import compare
    from smlp.stages.train import train
    from smlp.stages.transform import transform

    config = sagemaker_config(small_config)
    backend = backend_for(config, sm_store)
    train(config, sm_store, backend, ["xgboost"])
    compare(config, sm_store, backend)
    schema = json.loads(sm_store.read_bytes(schema_key(sm_store)))
    names = [f["name"] for f in schema["features"]]
    raw = project / "raw.csv"
    raw.write_text(",".join(names) + "\n" + "\n".join(
        ",".join(str(1.0 + i + j) for j in range(len(names))) for i in range(7)) + "\n")
    out = project / "predictions"
    result = transform(config, sm_store, backend, str(raw), str(out))
    job = traffic.requests("CreateTransformJob")[-1]
    assert "DataProcessing" not in job  # the uploaded file holds the features only
    uploaded = sm_store.read_bytes(f"transform-input/{result.name}/raw.csv").decode()
    assert len(uploaded.splitlines()) == 7
    assert len(uploaded.splitlines()[0].split(",")) == len(prepared.features)
    assert result.outputs == [str(out / "raw.csv.out")]
    lines = (out / "raw.csv.out").read_text().splitlines()
    assert lines[0] == "prediction"  # input with a header: output with a header
    assert len(lines) == 8 and result.rows == 7
    float(lines[1])
    assert traffic.operations().count("DeleteModel") == 2  # compare's and this one

    config = sagemaker_config(small_config, download_outputs=False, keep_models=True)
    events: list[Event] = []
    result = transform(config, sm_store, backend_for(config, sm_store),
                       output=str(project / "out"), events=events.append)
    assert result.outputs == [f"{STORE}/transform/{result.name}/part-00000.csv.out"]
    assert result.rows == prepared.rows["test"]
    assert not (project / "out").exists()
    assert any("left on S3" in e.message for e in events)
    assert traffic.operations().count("DeleteModel") == 2


def test_tuning_request_and_best_trial(small_config, sm_store, prepared, traffic):
    traffic.emulate = False  # requests only: no model needed
    from smlp.backends.base import TuningJobSpec
    from smlp.config.tuning import CategoricalRange, ContinuousRange, IntegerRange
    from smlp.stages.train import build_job, hyperparameters_for

    config = sagemaker_config(small_config)
    backend = backend_for(config, sm_store)
    job = build_job(config, sm_store, "xgboost", prepared,
                    hyperparameters_for(config, "xgboost", prepared), "smlp-xgboost-tuning-x")
    spec = TuningJobSpec(
        name="smlp-xgboost-tune-20250101-000000-abcd", training=job,
        ranges={"eta": ContinuousRange(min_value=0.01, max_value=0.3, scaling="Logarithmic"),
                "max_depth": IntegerRange(min_value=3, max_value=8),
                "tree_method": CategoricalRange(values=["hist", "approx"])},
        objective_metric="validation:rmse", strategy="Random", max_jobs=6,
        max_parallel_jobs=2, random_seed=7, early_stopping="Auto",
        warm_start_parents=("smlp-earlier-tuning",),
    )
    events: list[Event] = []
    result = backend.tune(spec, events.append)
    [request] = traffic.requests("CreateHyperParameterTuningJob")
    name = request["HyperParameterTuningJobName"]
    assert len(name) <= 32 and name == result.name
    tuning = request["HyperParameterTuningJobConfig"]
    assert tuning["Strategy"] == "Random" and tuning["RandomSeed"] == 7
    assert tuning["ResourceLimits"] == {"MaxParallelTrainingJobs": 2,
                                        "MaxNumberOfTrainingJobs": 6}
    assert tuning["TrainingJobEarlyStoppingType"] == "Auto"
    assert tuning["HyperParameterTuningJobObjective"] == {"Type": "Minimize",
                                                          "MetricName": "validation:rmse"}
    assert tuning["ParameterRanges"] == {
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "8",
                                    "ScalingType": "Auto"}],
        "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.01", "MaxValue": "0.3",
                                       "ScalingType": "Logarithmic"}],
        "CategoricalParameterRanges": [{"Name": "tree_method", "Values": ["hist", "approx"]}]}
    definition = request["TrainingJobDefinition"]
    assert "eta" not in definition["StaticHyperParameters"]
    assert definition["StaticHyperParameters"]["num_round"] == "20"
    assert "MetricDefinitions" not in definition["AlgorithmSpecification"]
    assert request["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName":
                                            "smlp-earlier-tuning"}],
        "WarmStartType": "IdenticalDataAndAlgorithm"}  # the API's name for it
    # moto: canned best job, no trial list, the best job cannot be described.
    assert result.status == "Completed"
    assert result.best is not None and result.best.name == "FakeTrainingJobName"
    assert result.best.model_uri == f"{STORE}/training/FakeTrainingJobName/output/model.tar.gz"
    assert result.best.hyperparameters["num_round"] == "20"
    assert result.trials == [result.best]
    assert any("could not be listed" in e.message for e in events)
    status = backend.describe(name)  # not a training or transform job: tried in turn
    assert (status.status, status.details["operation"]) == (
        "Completed", "DescribeHyperParameterTuningJob")
    with pytest.raises(BackendError, match="no SageMaker job named nothing-here"):
        backend.describe("nothing-here")


def test_sklearn_tuning_sends_metric_definitions_and_encoded_categories(
        small_config, sm_store, prepared, traffic):
    traffic.emulate = False
    from smlp.backends.base import TuningJobSpec
    from smlp.config.tuning import CategoricalRange
    from smlp.stages.train import build_job, hyperparameters_for

    config = sagemaker_config(small_config)
    job = build_job(config, sm_store, "sklearn-gbm", prepared,
                    hyperparameters_for(config, "sklearn-gbm", prepared), "smlp-sk")
    spec = TuningJobSpec(name="smlp-sk-tune", training=job, strategy="Grid",
                         ranges={"loss": CategoricalRange(values=["squared_error", "huber"])},
                         objective_metric="validation:rmse", max_jobs=2, max_parallel_jobs=2)
    backend_for(config, sm_store).tune(spec)
    [request] = traffic.requests("CreateHyperParameterTuningJob")
    tuning = request["HyperParameterTuningJobConfig"]
    assert tuning["ResourceLimits"] == {"MaxParallelTrainingJobs": 2}  # Grid: no count
    assert tuning["ParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "loss", "Values": ['"squared_error"', '"huber"']}]
    definition = request["TrainingJobDefinition"]
    names = [d["Name"] for d in definition["AlgorithmSpecification"]["MetricDefinitions"]]
    assert "validation:rmse" in names
    assert "sagemaker_program" in definition["StaticHyperParameters"]
    assert "sagemaker_job_name" not in definition["StaticHyperParameters"]


def test_spot_vpc_kms_and_tags_reach_the_request(small_config, sm_store, prepared, traffic):
    traffic.emulate = False  # requests only: no model needed
    from smlp.stages.train import train

    config = sagemaker_config(
        small_config, use_spot=True, max_wait_seconds=90_000, subnets=["subnet-0abc"],
        security_group_ids=["sg-0abc"], volume_kms_key_id="alias/vol",
        output_kms_key_id="alias/out", tags={"team": "ml"})
    train(config, sm_store, backend_for(config, sm_store), ["xgboost"])
    [request] = traffic.requests("CreateTrainingJob")
    job = request["TrainingJobName"]
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86_400,
                                            "MaxWaitTimeInSeconds": 90_000}
    assert request["CheckpointConfig"] == {"S3Uri": f"{STORE}/checkpoints/{job}",
                                           "LocalPath": "/opt/ml/checkpoints"}
    assert request["VpcConfig"] == {"SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-0abc"]}
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == "alias/vol"
    assert request["OutputDataConfig"]["KmsKeyId"] == "alias/out"
    assert {"Key": "team", "Value": "ml"} in request["Tags"]


# -- checks before any call ----------------------------------------------------------------------
def test_wrong_instance_type_fails_before_any_call(small_config, sm_store, prepared, traffic):
    from smlp.stages.train import train

    config = sagemaker_config(small_config)
    config.algorithms.get("sklearn-gbm").instance_type = "ml.t2.micro"
    with pytest.raises(ConfigError, match="does not offer ml.t2.micro for training jobs"):
        train(config, sm_store, backend_for(config, sm_store), ["sklearn-gbm"])
    assert traffic.calls == [] and sm_store.list("code") == []  # not even the code upload


def test_bucket_missing_or_in_another_region(small_config, make_store, project, traffic):
    import boto3

    from smlp.store import S3Store

    config = sagemaker_config(small_config)
    with pytest.raises(ConfigError, match="bucket nowhere-bucket does not exist"):
        backend_for(config, S3Store("s3://nowhere-bucket/x")).connect()
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="smlp-eu", CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    with pytest.raises(ConfigError, match="is in eu-west-1 but backend.region is us-east-1"):
        backend_for(config, S3Store("s3://smlp-eu/x")).connect()


def test_role_region_store_and_credentials_are_checked(small_config, sm_store, monkeypatch):
    from smlp.store import LocalStore

    with pytest.raises(ConfigError, match="role_arn is not set"):
        backend_for(sagemaker_config(small_config, role_arn=None), sm_store).prepare()
    with pytest.raises(ConfigError, match="needs|s3://"):
        SageMakerBackend(sagemaker_config(small_config), LocalStore(Path("x")))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError, match="no AWS region"):
        SageMakerBackend(sagemaker_config(small_config, region=None), sm_store)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError, match="no AWS credentials found"):
        backend_for(sagemaker_config(small_config), sm_store).prepare()


# -- the CLI: config init and --dry-run ----------------------------------------------------------
def test_config_init_writes_a_ready_config_once(project, no_credentials):
    from tests.integration.cli_helpers import assert_one_line_error, smlp

    args = ["config", "init", "--backend", "sagemaker", "--bucket", "my-smlp-bucket",
            "--role-arn", ROLE, "--region", "eu-west-1"]
    smlp(*args)
    text = (project / "smlp.yaml").read_text()
    assert "kind: sagemaker" in text and "store: s3://my-smlp-bucket/smlp" in text
    assert "smlp.yaml: valid" in smlp("config", "validate").output
    assert_one_line_error(smlp(*args, ok=False), "exists already; pass --force", 2)
    smlp(*args[:-1], "us-west-2", "--force")
    assert "region: us-west-2" in (project / "smlp.yaml").read_text()
    assert_one_line_error(smlp("config", "init", "--backend", "sagemaker", "--bucket", "b-1-2",
                               "--role-arn", ROLE, "--force", ok=False),
                          "--region is required", 2)
    assert [p.name for p in project.iterdir() if p.name.startswith(".smlp.yaml")] == []


def test_dry_run_prints_validated_requests_and_cost_without_credentials(project,
                                                                        no_credentials):
    from tests.integration.cli_helpers import smlp, write_small_config

    write_small_config(project)
    common = ["--backend", "sagemaker", "--store", "s3://my-smlp-bucket/smlp",
              "--config", str(project / "smlp.yaml")]
    with open(project / "smlp.yaml", "a") as handle:
        handle.write(f"backend: {{kind: sagemaker, region: eu-west-1, role_arn: '{ROLE}'}}\n")
    result = smlp("train", "--dry-run", "--algo", "xgboost,knn", *common)
    plan = json.loads(result.stdout)
    assert [r["operation"] for r in plan["requests"]] == ["CreateTrainingJob"] * 2
    knn = plan["requests"][1]["params"]
    assert knn["HyperParameters"]["feature_dim"] == "8"
    assert knn["AlgorithmSpecification"]["TrainingImage"].startswith(
        "438346466558.dkr.ecr.eu-west-1.amazonaws.com/knn:1")
    assert plan["validated_against"].startswith("botocore service model sagemaker")
    cost = plan["estimated_cost"]
    from smlp.backends.sagemaker.pricing import hourly_price

    rate = hourly_price("eu-west-1", "ml.m5.xlarge")[0]  # the table's eu-west-1 rate
    assert cost["total"] == pytest.approx(2 * rate * 0.25, abs=1e-4)
    assert any("dated" in a for a in cost["assumptions"])
    assert any("no AWS credentials" in n and "no prepared data" in n for n in plan["notes"])
    assert [w["uri"] for w in plan["s3_writes"]] == ["s3://my-smlp-bucket/smlp/manifest.json"]
    assert not (project / "smlp-artifacts").exists()

    plan = json.loads(smlp("compare", "--dry-run", *common).stdout)
    assert [r["operation"] for r in plan["requests"]] == ["CreateModel",
                                                          "CreateTransformJob"] * 3
    plan = json.loads(smlp("run", "--dry-run", *common).stdout)
    operations = [r["operation"] for r in plan["requests"]]
    assert operations.count("CreateTrainingJob") == 3
    assert operations.count("CreateTransformJob") == 4  # compare 3, then the final transform
    assert any(w["uri"].endswith("/train/part-00000.csv") for w in plan["s3_writes"])


def test_dry_run_errors_are_one_line(project, no_credentials):
    from tests.integration.cli_helpers import assert_one_line_error, smlp

    assert_one_line_error(smlp("train", "--dry-run", ok=False), "add --backend sagemaker", 2)
    assert_one_line_error(
        smlp("train", "--dry-run", "--backend", "sagemaker", ok=False),
        "the sagemaker backend keeps data, models and the manifest on S3", 2)
    (project / "smlp.yaml").write_text(
        "backend: {kind: sagemaker, region: eu-west-1}\nstore: s3://my-smlp-bucket/x\n"
        "algorithms: {xgboost: {instance_type: ml.t2.micro}}\n")
    assert_one_line_error(smlp("train", "--dry-run", "--algo", "xgboost", ok=False),
                          "does not offer ml.t2.micro for training jobs", 2)
