"""The ``tuning:`` section: every range SageMaker would reject is one config line, up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlp.config import Config, load_config
from smlp.config.tuning import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    TuningConfig,
    check_algorithm,
)
from smlp.errors import ConfigError


def load_yaml(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "smlp.yaml"
    path.write_text(text)
    return load_config(path)


def test_defaults_cover_every_algorithm_and_pass_their_own_checks() -> None:
    config = TuningConfig()
    # scikit-learn's gradient boosting is tuned only when asked for (see _default_ranges).
    assert config.enabled() == ["xgboost", "knn"]
    for name in ("xgboost", "knn", "sklearn-gbm"):
        tuning = check_algorithm(config, name)
        assert tuning.ranges and tuning.objective_type == "Minimize"
    # early_stopping_rounds comes from algorithms.xgboost.hyperparameters, as for `smlp train`,
    # so that the first trial is the untuned model.
    assert config.for_algorithm("xgboost").static_hyperparameters == {}
    assert config.early_stopping == "Off"


def test_hyperband_turns_the_median_rule_off() -> None:
    assert TuningConfig(strategy="Hyperband").early_stopping == "Off"
    assert TuningConfig(strategy="Hyperband", early_stopping="Auto").early_stopping == "Off"


@pytest.mark.parametrize(("yaml", "expected"), [
    ("tuning: {algorithms: {xgboost: {ranges: {eta: {type: continuous, min_value: 0.5, "
     "max_value: 0.1}}}}}",
     "tuning.algorithms.xgboost.ranges.eta: min_value 0.5 is greater than max_value 0.1"),
    ("tuning: {algorithms: {xgboost: {ranges: {eta: {type: continuous, min_value: 0, "
     "max_value: 0.1, scaling: Logarithmic}}}}}",
     "ranges.eta: Logarithmic scaling needs min_value > 0, got 0.0"),
    ("tuning: {algorithms: {knn: {ranges: {index_metric: {type: categorical, values: []}}}}}",
     "ranges.index_metric.values: a categorical range needs at least one value"),
    ("tuning: {algorithms: {xgboost: {ranges: {depth: {type: integer, min_value: 1, "
     "max_value: 3}}}}}",
     "algorithms.xgboost.ranges.depth: not a hyperparameter of xgboost; known: alpha"),
    ("tuning: {algorithms: {knn: {static_hyperparameters: {colour: red}}}}",
     "algorithms.knn.static_hyperparameters.colour: not a hyperparameter of knn"),
    ("tuning: {max_jobs: 2, max_parallel_jobs: 4}",
     "tuning: max_parallel_jobs (4) exceeds max_jobs (2)"),
    ("tuning: {algorithms: {knn: {objective_metric: 'validation:rmse'}}}",
     "algorithms.knn.objective_metric: knn does not emit metric 'validation:rmse'; it emits "
     "test:mse"),
    ("tuning: {algorithms: {xgboost: {ranges: {max_depth: {type: continuous, min_value: 1, "
     "max_value: 5}}}}}", "ranges.max_depth: max_depth is an integer; give an integer range"),
    ("tuning: {algorithms: {xgboost: {ranges: {eta: {type: continuous, min_value: 0.1, "
     "max_value: 3}}}}}", "ranges.eta: expected <= 1, got 3"),
    ("tuning: {algorithms: {knn: {ranges: {feature_dim: {type: integer, min_value: 1, "
     "max_value: 3}}}}}", "feature_dim is set by smlp or fixed for the job; it cannot be tuned"),
    ("tuning: {algorithms: {knn: {ranges: {k: {type: categorical, values: [3, 0]"
     "}}}}}", "ranges.k: value 0: expected >= 1"),
    ("tuning: {algorithms: {sklearn-gbm: {ranges: {loss: {type: integer, min_value: 1, "
     "max_value: 2}}}}}", "loss takes str values; give a categorical range"),
    # Only the AWS "Tunable ... Hyperparameters" tables' rows can be tuned on SageMaker.
    ("tuning: {algorithms: {knn: {ranges: {index_type: {type: categorical, values: [faiss.Flat]"
     "}}}}}", "ranges.index_type: index_type is set by smlp or fixed for the job"),
    ("tuning: {algorithms: {xgboost: {ranges: {max_bin: {type: integer, min_value: 16, "
     "max_value: 256}}}}}", "ranges.max_bin: max_bin is set by smlp or fixed for the job"),
    ("tuning: {algorithms: {xgboost: {objective_metric: 'train:rmse'}}}",
     "objective_metric: xgboost emits 'train:rmse' but SageMaker does not tune on it; tunable "
     "objectives: validation:rmse, validation:mse, validation:mae"),
    ("tuning: {algorithms: {xgboost: {ranges: {max_depth: {type: integer, min_value: 1, "
     "max_value: 5, scaling: ReverseLogarithmic}}}}}",
     "ReverseLogarithmic scaling is for continuous ranges only"),
    ("tuning: {algorithms: {xgboost: {ranges: {subsample: {type: continuous, min_value: 0.5, "
     "max_value: 1.0, scaling: ReverseLogarithmic}}}}}",
     "ReverseLogarithmic scaling needs 0 <= min_value <= max_value < 1"),
    ("tuning: {algorithms: {lightgbm: {}}}", "algorithms.lightgbm: unknown algorithm"),
    ("tuning: {algorithms: {xgboost: {static_hyperparameters: {max_depth: -1}}}}",
     "algorithms.xgboost.static_hyperparameters.max_depth: expected >= 0, got -1"),
])
def test_bad_tuning_config_is_one_clear_line(tmp_path: Path, yaml: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml(tmp_path, yaml)
    message = str(caught.value)
    assert expected in message, message
    assert len(message.splitlines()) == 1, message


def test_a_file_replaces_or_drops_a_default_range(tmp_path: Path) -> None:
    config = load_yaml(tmp_path, """\
tuning:
  algorithms:
    xgboost:
      ranges:
        max_depth: {type: categorical, values: [3, 5, 5]}
        eta: {min_value: 0.05, max_value: 0.2}
        lambda: null
""")
    ranges = config.tuning.for_algorithm("xgboost").ranges
    assert ranges["max_depth"] == CategoricalRange(values=[3, 5])  # merged keys dropped, deduped
    assert ranges["eta"] == ContinuousRange(min_value=0.05, max_value=0.2, scaling="Logarithmic")
    assert "lambda" not in ranges and "subsample" in ranges


def test_a_static_hyperparameter_replaces_the_range_of_that_name(tmp_path: Path) -> None:
    config = load_yaml(tmp_path, "tuning: {algorithms: {xgboost: {static_hyperparameters: "
                                 "{num_round: 50}}}}")
    tuning = config.tuning.for_algorithm("xgboost")
    assert "num_round" not in tuning.ranges
    assert tuning.static_hyperparameters == {"num_round": 50}


def test_grid_needs_categorical_ranges_of_the_algorithms_tuned(tmp_path: Path) -> None:
    config = load_yaml(tmp_path, """\
tuning:
  strategy: Grid
  algorithms:
    knn:
      ranges:
        k: {type: categorical, values: [1, 3, 5]}
        sample_size: {type: categorical, values: [500, 1000]}
""")
    assert check_algorithm(config.tuning, "knn").grid_size() == 6
    with pytest.raises(ValueError, match="Grid search takes categorical ranges only; eta"):
        check_algorithm(config.tuning, "xgboost")


def test_grid_rejects_more_parallel_jobs_than_combinations() -> None:
    config = TuningConfig(strategy="Grid", algorithms={"knn": {
        "ranges": {"k": {"type": "categorical", "values": [1]}}}})
    with pytest.raises(ValueError, match=r"max_parallel_jobs \(2\) exceeds the 1 combinations"):
        check_algorithm(config, "knn")


def test_an_algorithm_without_ranges_has_nothing_to_tune() -> None:
    config = TuningConfig(algorithms={"knn": {"ranges": {"k": None}}})
    with pytest.raises(ValueError, match="nothing to tune"):
        check_algorithm(config, "knn")


def test_integer_range_bounds_are_integers() -> None:
    with pytest.raises(ValueError):
        IntegerRange(min_value=1.5, max_value=3)
