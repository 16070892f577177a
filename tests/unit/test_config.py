from __future__ import annotations

from pathlib import Path

import pytest

from smlp.config import Config, load_config, read_yaml
from smlp.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smlp.yaml"
    path.write_text(text)
    return path


def test_shipped_default_file_equals_packaged_defaults() -> None:
    assert load_config(ROOT / "configs" / "default.yaml") == Config()
    assert read_yaml(ROOT / "configs" / "default.yaml")["algorithms"]["xgboost"][
        "hyperparameters"] == {"num_round": 1000, "max_depth": 5, "eta": 0.2, "subsample": 0.8,
                               "colsample_bytree": 0.8, "objective": "reg:squarederror",
                               "early_stopping_rounds": 30}


def test_every_shipped_config_is_valid() -> None:
    for path in (ROOT / "configs").glob("*.yaml"):
        load_config(path)


def test_file_holds_only_differences_and_flags_win(tmp_path: Path) -> None:
    path = write(tmp_path, "data: {rows: 500}\nalgorithms: {xgboost: {hyperparameters: "
                           "{max_depth: 3}}}\n")
    config = load_config(path, {"data.seed": 7, "data.rows": 800})
    assert config.data.rows == 800 and config.data.seed == 7
    assert config.algorithms.xgboost.hyperparameters["max_depth"] == 3
    assert config.algorithms.xgboost.hyperparameters["eta"] == 0.2  # default kept
    assert config.data.splits.train == 0.7


def test_local_smlp_yaml_is_read_by_default(project: Path) -> None:
    (project / "smlp.yaml").write_text("data: {rows: 321}\n")
    assert load_config().data.rows == 321


def test_backend_flag_switches_kind_without_local_settings(tmp_path: Path) -> None:
    config = load_config(None, {"backend.kind": "sagemaker"})
    assert config.backend.kind == "sagemaker"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data: [1", ": YAML syntax error: did not find expected ',' or ']'"),
        ("dataa: {rows: 5}", "dataa: unknown key"),
        ("data: {rowz: 5}", "data.rowz: unknown key"),
        ("data: {rows: many}", "data.rows: Input should be a valid integer"),
        ("data: {rows: 5}", "data.rows: Input should be greater than or equal to 100"),
        ("data: {splits: {train: 0.9}}", "data.splits: train + validation + test must be 1.0"),
        ("compare: {metric: rmsle}", "compare.metric: expected one of rmse, mse, mae, r2"),
        ("algorithms: {xgboost: {hyperparameters: {max_dpeth: 3}}}",
         "algorithms.xgboost.hyperparameters: max_dpeth: not a xgboost hyperparameter"),
        ("algorithms: {xgboost: {hyperparameters: {eta: 2}}}",
         "algorithms.xgboost.hyperparameters: eta: expected <= 1, got 2"),
        ("algorithms: {knn: {hyperparameters: {k: 0}}}",
         "algorithms.knn.hyperparameters: k: expected >= 1"),
        ("algorithms: {catboost: {enabled: true}}", "algorithms.catboost: unknown key"),
        ("backend: {kind: cloud}", "backend: expected one of local, sagemaker, got 'cloud'"),
        ("tuning: {max_jobs: 2, max_parallel_jobs: 4}",
         "tuning: max_parallel_jobs (4) exceeds max_jobs (2)"),
        ("- a\n- b", "expected a mapping of sections"),
        ("data: {source: file}", "source 'file' needs both data.input and data.target"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert expected in message
    assert message.startswith(str(path))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_algorithm_section_lookup_by_cli_name() -> None:
    config = Config()
    assert config.algorithms.get("sklearn-gbm").container_version == "1.9-0"
    assert config.algorithms.enabled() == ["xgboost", "knn", "sklearn-gbm"]
