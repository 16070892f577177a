"""``smlp tune/train --dry-run`` through the real CLI: Hyperband, spot k-NN and spot tuning send
what SageMaker accepts, and what it would refuse stops in one line before any request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.cli_helpers import SMALL_YAML, assert_one_line_error, smlp

ROLE = "arn:aws:iam::123456789012:role/smlp"
STORE = "s3://my-smlp-bucket/smlp"


def configure(project: Path, extra: str = "", backend: str = "") -> None:
    """The small config on SageMaker; k-NN may run 30 min, XGBoost and scikit-learn 1 h."""
    algorithms = SMALL_YAML.replace("algorithms:\n", "algorithms:\n  knn: {max_runtime_seconds: "
                                    "1800}\n").replace("    hyperparameters:",
                                                       "    max_runtime_seconds: 3600\n"
                                                       "    hyperparameters:")
    (project / "smlp.yaml").write_text(
        algorithms
        + f"backend: {{kind: sagemaker, region: eu-west-1, role_arn: '{ROLE}'{backend}}}\n"
        + f"store: {STORE}\n" + extra)


def plan(*args: str) -> dict[str, Any]:
    return json.loads(smlp(*args, "--dry-run").stdout)


def test_hyperband_dry_run_sends_the_resource(project: Path, no_credentials: None) -> None:
    configure(project, """\
tuning:
  strategy: Hyperband
  early_stopping: 'Off'
  max_jobs: 6
  algorithms:
    xgboost: {ranges: {num_round: {type: integer, min_value: 100, max_value: 2000}}}
    sklearn-gbm: {ranges: {n_estimators: {type: integer, min_value: 50, max_value: 400}}}
""")
    body = plan("tune", "--algo", "xgboost,sklearn-gbm")
    configs = {r["params"]["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"]
               .split("/")[-1].split(":")[0]: r["params"]["HyperParameterTuningJobConfig"]
               for r in body["requests"]}
    assert configs["sagemaker-xgboost"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 100, "MaxResource": 2000}}
    assert configs["sagemaker-scikit-learn"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 50, "MaxResource": 400}}
    assert {c["TrainingJobEarlyStoppingType"] for c in configs.values()} == {"Off"}


def test_hyperband_for_knn_stops_in_one_line(project: Path, no_credentials: None) -> None:
    configure(project, "tuning: {strategy: Hyperband, early_stopping: 'Off'}\n")
    assert_one_line_error(smlp("tune", "--algo", "knn", "--dry-run", ok=False),
                          "tuning.strategy: Hyperband needs a hyperparameter counting epochs, "
                          "and knn has none", 2)


def test_spot_knn_training_and_tuning(project: Path, no_credentials: None) -> None:
    configure(project, backend=", use_spot: true")
    train = plan("train", "--algo", "xgboost,knn")
    xgb, knn = (r["params"] for r in train["requests"])
    assert xgb["CheckpointConfig"]["S3Uri"] == f"{STORE}/checkpoints/{xgb['TrainingJobName']}"
    assert knn["EnableManagedSpotTraining"] is True and "CheckpointConfig" not in knn
    assert knn["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800,
                                        "MaxWaitTimeInSeconds": 1800}
    tune = plan("tune", "--algo", "xgboost,knn")
    definitions = [r["params"]["TrainingJobDefinition"] for r in tune["requests"]]
    assert [d["EnableManagedSpotTraining"] for d in definitions] == [True, True]
    assert not any("CheckpointConfig" in d for d in definitions)
    assert any("spot trials get no CheckpointConfig" in note for note in tune["notes"])


def test_impossible_spot_knn_stops_before_any_request(project: Path,
                                                      no_credentials: None) -> None:
    configure(project, backend=", use_spot: true, max_wait_seconds: 7200")
    assert_one_line_error(smlp("train", "--algo", "xgboost,knn", "--dry-run", ok=False),
                          "backend.max_wait_seconds: 7200 s, but knn does not checkpoint", 2)
    # Spot for the algorithms that can wait that long; k-NN on demand.
    configure(project, backend=", use_spot: [xgboost, sklearn-gbm], max_wait_seconds: 7200")
    xgb, knn = (r["params"] for r in plan("train", "--algo", "xgboost,knn")["requests"])
    assert xgb["StoppingCondition"]["MaxWaitTimeInSeconds"] == 7200
    assert "EnableManagedSpotTraining" not in knn
