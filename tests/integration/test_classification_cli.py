"""Classification through the CLI: generate/prepare with --problem-type, and every bad input
of issue 11 as one clear line with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cli_helpers import assert_one_line_error, manifest, smlp, write_small_config


def schema_of(folder: Path) -> dict[str, object]:
    uri = manifest(folder)["data"]["schema"]["uri"]
    return json.loads(Path(uri).read_text())


def test_generate_binary_records_the_label_map(project: Path) -> None:
    write_small_config(project)
    result = smlp("data", "generate", "--problem-type", "binary")
    assert "problem type: binary (target 'Expensive', 2 classes: no, yes)" in result.output
    schema = schema_of(project)
    assert (schema["problem_type"], schema["classes"]) == ("binary", ["no", "yes"])


@pytest.mark.parametrize(
    ("content", "flag", "expected"),
    [
        ("x,y\n" + "1,a\n" * 30, "auto", "target column 'y' has one class ('a') in every row"),
        ("x,y\n" + "1,a\n2,b\n3,c\n" * 10, "binary",
         "problem type binary, but target column 'y' has 3 classes (a, b, c)"),
        ("x,y\n" + "1,a\n2,b\n" * 10, "regression",
         "target column 'y' must be numeric for regression"),
        ("x,y\n" + "1,a\n2,b\n" * 10 + "3,c\n", "auto",
         "class 'c' of target 'y' has 1 row; stratified splits need at least 3 per class"),
    ],
)
def test_bad_targets_are_one_line(project: Path, content: str, flag: str, expected: str) -> None:
    path = project / "in.csv"
    path.write_text(content)
    result = smlp("data", "prepare", "--input", str(path), "--target", "y", "--problem-type",
                  flag, ok=False)
    assert_one_line_error(result, f"{path}: {expected}", code=3)


def test_unknown_problem_type_is_a_config_error(project: Path) -> None:
    result = smlp("data", "generate", "--problem-type", "ordinal", ok=False)
    assert_one_line_error(result, "multiclass", code=2)  # names the choices


def test_sagemaker_requests_for_multiclass(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--dry-run`: the tuning requests SageMaker would get for multiclass data (rehearsed
    from the config, offline): softprob with num_class, mlogloss minimized, k-NN classifier
    on accuracy maximized; each checked against SageMaker's API model."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    for key in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(key, str(project / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    (project / "sm.yaml").write_text(
        "data: {rows: 1500, problem_type: multiclass}\n"
        "backend: {kind: sagemaker, region: us-east-1, "
        "role_arn: 'arn:aws:iam::123456789012:role/smlp-sagemaker'}\n"
        "store: s3://smlp-parity/demo\n")
    result = smlp("tune", "--algo", "xgboost", "--algo", "knn", "--dry-run", "--config",
                  str(project / "sm.yaml"))
    requests = [r["params"] for r in json.loads(result.stdout)["requests"]]
    tuning = {r["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"]
              .split("/")[-1].split(":")[0]: r for r in requests}
    xgb = tuning["sagemaker-xgboost"]
    static = xgb["TrainingJobDefinition"]["StaticHyperParameters"]
    assert (static["objective"], static["num_class"]) == ("multi:softprob", "4")
    assert xgb["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize", "MetricName": "validation:mlogloss"}
    knn = tuning["knn"]
    assert knn["TrainingJobDefinition"]["StaticHyperParameters"]["predictor_type"] == "classifier"
    assert knn["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize", "MetricName": "test:accuracy"}


def test_a_class_the_models_never_saw_stops_compare(project: Path) -> None:
    """New data with a class the candidates were not trained on: compare scores none of them
    (their label codes would mean other classes) and says what to run."""
    rows = "".join(f"{i},{i % 7},{'ab'[i % 2]}\n" for i in range(60))
    (project / "in.csv").write_text("x,z,y\n" + rows)
    smlp("data", "prepare", "--input", "in.csv", "--target", "y")
    smlp("train", "--algo", "knn", "--hp", "k=3")
    (project / "in.csv").write_text("x,z,y\n" + rows + "".join(f"{i},1,c\n" for i in range(9)))
    smlp("data", "prepare", "--input", "in.csv", "--target", "y")
    result = smlp("compare", ok=False)
    assert "skipping knn: trained on other data" in result.output
    assert_one_line_error(result, "a model trained on the current data is not in the manifest "
                          "yet; run `smlp train` first", code=4)
