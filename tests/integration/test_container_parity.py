"""smlp's local runs against the SageMaker containers' own code (no AWS involved).

- scikit-learn: ``training_scripts/sklearn_gbm.py`` trains under the real ``sagemaker-training``
  toolkit with the hyperparameters ``smlp train|tune --dry-run`` would send, and its model is
  served through the container's ``model_fn``/``input_fn``/``predict_fn``/``output_fn``
  sequence by the real ``sagemaker-inference`` transformer;
- XGBoost: the built-in container's training and serving, mirrored in plain xgboost
  (``tests/reference/xgboost_container.py``), trains on the same files and serves smlp's
  artifact;
- Batch Transform's own side (splitting, mini-batches, filters, join) is the AWS-docs
  reference in ``tests/reference/batch_transform.py``, not smlp's batch engine.

Each test compares with what the real ``smlp`` commands write.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.data_paths import split_path
from tests.integration.cli_helpers import manifest, smlp, write_small_config
from tests.reference import batch_transform, xgboost_container
from tests.reference.sklearn_container import SklearnServing, lay_out, run_training, unpack

ROLE = "arn:aws:iam::123456789012:role/smlp-sagemaker"
# What `smlp transform` does to the test split by default (README, "Batch Transform
# semantics"), as a CreateTransformJob would say it. A small payload limit makes the
# reference platform split the file into several mini-batches.
TEST_SPLIT_JOB = {
    "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 1,
    "TransformInput": {"ContentType": "text/csv", "SplitType": "Line"},
    "TransformOutput": {"Accept": "text/csv", "AssembleWith": "Line"},
    "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input",
                       "OutputFilter": "$[0,-1]"},
}
SMALL_PAYLOAD = 2_000  # bytes: ~20 records a request


@pytest.fixture
def data(project: Path) -> Path:
    """Small synthetic splits written by ``smlp data generate``; returns the store folder."""
    write_small_config(project)
    smlp("data", "generate")
    return project / "smlp-artifacts"


@pytest.fixture
def dry_run(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``smlp <command> --dry-run`` against SageMaker: the exact request parameters, offline."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(project / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(project / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def plan(*args: str, extra_yaml: str = "") -> list[dict[str, Any]]:
        config = project / "sagemaker.yaml"
        config.write_text((project / "smlp.yaml").read_text() + extra_yaml
                          + f"backend: {{kind: sagemaker, region: us-east-1, role_arn: '{ROLE}'}}"
                          + "\nstore: s3://smlp-parity/demo\n")
        result = smlp(*args, "--dry-run", "--config", str(config))
        return [r["params"] for r in json.loads(result.stdout)["requests"]]

    return plan


def split_rows(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", ndmin=2)


def labelled_output(body: bytes) -> tuple[list[str], np.ndarray]:
    """``label,prediction`` lines: the label as written, the prediction as a number."""
    lines = body.decode().splitlines()
    return [line.split(",")[0] for line in lines], np.array(
        [float(line.split(",")[-1]) for line in lines])


def container_transform(store: Path, invoke: Any) -> bytes:
    """The test split through a Batch Transform job whose container answers with ``invoke``."""
    return batch_transform.transform_object(split_path(store, "test").read_bytes(),
                                            TEST_SPLIT_JOB, invoke, SMALL_PAYLOAD)


def smlp_transform(project: Path, model: str) -> bytes:
    out = project / f"transform-{model}"
    smlp("transform", "--model", model, "--output", str(out))
    return (out / "part-00000.csv.out").read_bytes()


def model_folder(project: Path, candidate: str, target: Path) -> Path:
    uri = manifest(project)["candidates"][candidate]["model"]["uri"]
    return unpack(Path(uri), target)


# -- scikit-learn script mode --------------------------------------------------------------------
def final_metrics(log: str, definitions: list[dict[str, str]]) -> dict[str, list[float]]:
    """Every value each MetricDefinition's regex finds, line by line, as SageMaker reads logs."""
    found: dict[str, list[float]] = {}
    for definition in definitions:
        pattern = re.compile(definition["Regex"])
        for line in log.splitlines():
            for match in pattern.finditer(line):
                found.setdefault(definition["Name"], []).append(float(match.group(1)))
    return found


def reference_scores(model: Any, rows: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    predicted = model.predict(rows[:, 1:])
    mse = mean_squared_error(rows[:, 0], predicted)
    return {"rmse": float(np.sqrt(mse)), "mse": float(mse),
            "mae": float(mean_absolute_error(rows[:, 0], predicted))}


@pytest.mark.parametrize("trial", [False, True], ids=["training-job", "tuning-trial"])
def test_sklearn_gbm_runs_under_the_sagemaker_training_toolkit(data, project, tmp_path,
                                                               dry_run, trial):
    """The request smlp would send, written into /opt/ml as SageMaker writes it, run by the
    real toolkit: the job succeeds, saves the model, and the MetricDefinitions sent with the
    request read the script's metrics (as SageMaker would) with the right values."""
    import joblib

    from smlp.backends.sagemaker.sourcedir import training_scripts

    if trial:
        ranges = ("tuning:\n  algorithms:\n    sklearn-gbm:\n"
                  "      objective_metric: validation:mae\n      ranges:\n"
                  "        loss: {type: categorical, values: [huber, squared_error]}\n")
        [request] = dry_run("tune", "--algo", "sklearn-gbm", extra_yaml=ranges)
        tuning = request["HyperParameterTuningJobConfig"]
        definition = request["TrainingJobDefinition"]
        hyperparameters = dict(definition["StaticHyperParameters"])
        # What SageMaker writes for a trial: the static values, one value from each range
        # (as the strings the ranges hold), and the objective's name.
        for kind, ranges_of_kind in tuning["ParameterRanges"].items():
            for item in ranges_of_kind:
                hyperparameters[item["Name"]] = (item["Values"][0]
                                                 if kind.startswith("Categorical")
                                                 else item["MinValue"])
        objective = tuning["HyperParameterTuningJobObjective"]["MetricName"]
        hyperparameters["_tuning_objective_metric"] = objective
        metric_definitions = definition["AlgorithmSpecification"]["MetricDefinitions"]
    else:
        [request] = dry_run("train", "--algo", "sklearn-gbm")
        hyperparameters = dict(request["HyperParameters"])
        objective = "validation:rmse"
        metric_definitions = request["AlgorithmSpecification"]["MetricDefinitions"]

    # The sourcedir smlp uploads is content-addressed: the one built here is the one named.
    sourcedir = training_scripts()
    uploaded = json.loads(hyperparameters["sagemaker_submit_directory"])
    assert uploaded.endswith(sourcedir.key)
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(sourcedir.data)
    # Only the location changes: the toolkit downloads s3:// itself and takes a local tarball
    # the same way (sagemaker_training.files.download_and_extract).
    hyperparameters["sagemaker_submit_directory"] = json.dumps(str(archive))
    base = tmp_path / "opt" / "ml"
    lay_out(base, hyperparameters, {
        "train": (split_path(data, "train").parent, "text/csv"),
        "validation": (split_path(data, "validation").parent, "text/csv")})

    job = run_training(base)

    assert job.returncode == 0, job.stdout[-3000:]
    assert (base / "output/success").exists() and not (base / "output/failure").exists()
    model = joblib.load(base / "model/model.joblib")
    params = model.get_params()
    if trial:
        assert (params["loss"], params["n_estimators"]) == ("huber", 50)  # '"huber"' decoded
        assert params["learning_rate"] == pytest.approx(0.02)
    else:
        assert (params["loss"], params["n_estimators"]) == ("squared_error", 20)
    found = final_metrics(job.stdout, metric_definitions)
    assert set(found) == {f"{c}:{m}" for c in ("train", "validation")
                          for m in ("rmse", "mse", "mae")}
    # validation:rmse once per boosting stage (median early stopping needs a value per
    # epoch), then the final value; SageMaker keeps the last.
    assert len(found["validation:rmse"]) == params["n_estimators"] + 1
    for split in ("train", "validation"):
        expected = reference_scores(model, split_rows(split_path(data, split)))
        for metric, value in expected.items():
            assert found[f"{split}:{metric}"][-1] == pytest.approx(value, rel=1e-12), metric
    assert objective in found


def test_local_sklearn_model_serves_through_the_container_contract(data, project, tmp_path):
    """A model `smlp train` made, served as the scikit-learn container serves it, gives the
    rows `smlp transform` wrote, number for number."""
    from smlp.backends.sagemaker.sourcedir import training_scripts

    smlp("train", "--algo", "sklearn-gbm")
    ours = smlp_transform(project, "sklearn-gbm")
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(training_scripts().data)
    code = unpack(archive, tmp_path / "code")  # /opt/ml/code, as the container unpacks it
    model_dir = model_folder(project, "sklearn-gbm", tmp_path / "model")
    assert sorted(p.name for p in model_dir.iterdir()) == ["model.joblib"]

    with SklearnServing(code, model_dir, "sklearn_gbm.py") as container:
        theirs = container_transform(data, container.invoke)

    our_labels, our_predictions = labelled_output(ours)
    their_labels, their_predictions = labelled_output(theirs)
    assert our_labels == their_labels  # the joined input column, as written
    np.testing.assert_array_equal(our_predictions, their_predictions)


# -- built-in XGBoost ----------------------------------------------------------------------------
XGB_CASES = {
    "fixed-rounds": [],
    # Stops after a few rounds: the container keeps the best round (save_best).
    "early-stopping": ["--hp", "num_round=300", "--hp", "eta=0.6",
                       "--hp", "early_stopping_rounds=3"],
}


@pytest.mark.parametrize("case", list(XGB_CASES))
def test_local_xgboost_trains_and_serves_like_the_container(data, project, tmp_path, dry_run,
                                                            case):
    """smlp's XGBoost job and the container's training code, given the same hyperparameters
    (the ones SageMaker would receive) and files, build the same model; smlp's artifact is
    found, loaded and served by the container's code exactly as `smlp transform` serves it."""
    import xgboost

    smlp("train", "--algo", "xgboost", *XGB_CASES[case])
    candidate = manifest(project)["candidates"]["xgboost"]
    [request] = dry_run("train", "--algo", "xgboost", *XGB_CASES[case])
    assert request["HyperParameters"] == candidate["hyperparameters"]

    # Training: the container's code on the same channels and hyperparameters.
    base = tmp_path / "opt" / "ml"
    lay_out(base, request["HyperParameters"], {
        "train": (split_path(data, "train").parent, "text/csv"),
        "validation": (split_path(data, "validation").parent, "text/csv")})
    printed = xgboost_container.train(base)
    reference, _ = xgboost_container.load_booster(base / "model")
    model_dir = model_folder(project, "xgboost", tmp_path / "model")
    ours, model_format = xgboost_container.load_booster(model_dir)
    assert model_format == xgboost_container.XGB_FORMAT  # Booster.save_model, not a pickle
    assert sorted(p.name for p in model_dir.iterdir()) == ["xgboost-model"]  # no ensemble
    assert ours.num_boosted_rounds() == reference.num_boosted_rounds()
    assert ours.attributes().get("best_iteration") == reference.attributes().get(
        "best_iteration")
    if case == "early-stopping":
        assert reference.num_boosted_rounds() < 300
    # The last value the container prints is what SageMaker reports for the job.
    last = xgboost_container.cloudwatch(printed[-1])
    value = re.search(r".*\[[0-9]+\].*#011validation-rmse:(\S+)", last).group(1)
    assert candidate["training_metrics"]["validation:rmse"] == pytest.approx(float(value))
    # xgboost's own CSV reader (the container's) rounds about 1 % of the values one float32
    # ulp away from a correctly rounded parse, so the trees agree to a few 1e-7.
    test = split_rows(split_path(data, "test"))
    np.testing.assert_allclose(ours.predict(xgboost.DMatrix(test[:, 1:])),
                               reference.predict(xgboost.DMatrix(test[:, 1:])),
                               rtol=1e-5, atol=1e-5)

    # Serving: smlp's artifact through the container's invocations, vs `smlp transform`.
    served = xgboost_container.XGBoostServing(model_dir)
    theirs = container_transform(data, served.invoke)
    our_labels, our_predictions = labelled_output(smlp_transform(project, "xgboost"))
    their_labels, their_predictions = labelled_output(theirs)
    assert our_labels == their_labels
    # float32 predictions, written by smlp as the shortest float32 text and by the container
    # as Python's float of it: the same float32 values.
    np.testing.assert_array_equal(our_predictions.astype(np.float32),
                                  their_predictions.astype(np.float32))


def test_local_xgboost_feature_count_mismatch_fails_in_both(data, project, tmp_path):
    """A payload with the label still in it (no input filter): the container cannot score it
    with a model of fewer features, and smlp refuses it too rather than predicting."""
    smlp("train", "--algo", "xgboost")
    served = xgboost_container.XGBoostServing(model_folder(project, "xgboost", tmp_path / "m"))
    rows = split_path(data, "test").read_bytes().splitlines()[:3]
    with pytest.raises(Exception, match="(?i)feature|column"):
        served.invoke(b"\n".join(rows), "text/csv", "text/csv")
    raw = tmp_path / "with-label.csv"
    shutil.copy(split_path(data, "test"), raw)
    result = smlp("transform", "--model", "xgboost", "--input", str(raw), "--output",
                  str(tmp_path / "out"), ok=False)
    assert result.exit_code == 3 and "expected 8 feature columns" in result.output


# -- Batch Transform's platform side -------------------------------------------------------------
@pytest.mark.parametrize(("input_filter", "join", "output_filter"), [
    (None, None, None), ("$[1:]", None, None), ("$[1:]", "Input", None),
    ("$[1:]", "Input", "$[0,-1]"), ("$[2:]", "Input", "$[-1,0,1]"), ("$[1,3]", "Input", "$[2:]"),
])
@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_batch_engine_matches_the_documented_platform(tmp_path, input_filter, join,
                                                      output_filter, strategy):
    """smlp's batch engine (the local transform) and the AWS-docs Batch Transform over the
    same container answer: the same lines, fields kept as written, predictions equal."""
    from smlp.batch import BatchOptions, run_batch

    rng = np.random.default_rng(7)
    rows = [f"id-{i}," + ",".join(f"{v:.6g}" for v in rng.normal(size=4)) for i in range(60)]
    source = tmp_path / "in.csv"
    source.write_text("\n".join(rows) + "\n")
    width = len(batch_transform.select(input_filter, rows[0].split(",")))
    if input_filter is None:  # the id column is not a number: the model sees the rest only
        rows = [row.split(",", 1)[1] for row in rows]
        source.write_text("\n".join(rows) + "\n")
        width = 4

    def model(features: np.ndarray) -> np.ndarray:
        return np.asarray(features, dtype=np.float32).sum(axis=1, dtype=np.float32)

    def invoke(body: bytes, content_type: str, accept: str) -> bytes:
        features = np.loadtxt(body.decode().splitlines(), delimiter=",", ndmin=2)
        return "".join(f"{float(v)!r}\n" for v in model(features)).encode()

    run_batch(source, tmp_path / "out", model, width,
              BatchOptions(input_filter=input_filter, join_source=join,
                           output_filter=output_filter, batch_strategy=strategy))
    ours = (tmp_path / "out" / "in.csv.out").read_text().splitlines()
    request = {"BatchStrategy": strategy, "MaxPayloadInMB": 6,
               "TransformInput": {"ContentType": "text/csv", "SplitType": "Line"},
               "TransformOutput": {"Accept": "text/csv", "AssembleWith": "Line"},
               "DataProcessing": {k: v for k, v in {"InputFilter": input_filter,
                                                    "JoinSource": join,
                                                    "OutputFilter": output_filter}.items()
                                  if v is not None}}
    theirs = batch_transform.transform_object(source.read_bytes(), request, invoke,
                                              SMALL_PAYLOAD).decode().splitlines()
    assert len(ours) == len(theirs) == len(rows)
    for mine, reference in zip(ours, theirs, strict=True):
        a, b = mine.split(","), reference.split(",")
        assert len(a) == len(b), (mine, reference)
        for x, y in zip(a, b, strict=True):  # text kept as written; numbers compared as such
            assert x == y or np.float32(x) == np.float32(y), (mine, reference)
