from __future__ import annotations

import pytest

from smlp.algorithms import ALGORITHMS, get_algorithm
from smlp.algorithms.hyperparameters import Hyperparameter, as_string
from smlp.algorithms.knn import check_combination


def test_coerce_and_string_form() -> None:
    depth = Hyperparameter("max_depth", "int", 0, 64)
    assert depth.coerce("6") == 6
    assert depth.coerce(6.0) == 6
    with pytest.raises(ValueError, match="expected an integer"):
        depth.coerce("6.5")
    with pytest.raises(ValueError, match="expected <= 64"):
        depth.coerce(65)
    assert as_string(True) == "true"
    assert as_string(0.2) == "0.2"
    assert as_string(100) == "100"


def test_choices_and_auto() -> None:
    nlists = ALGORITHMS["knn"].hyperparameters["faiss_index_ivf_nlists"]
    assert nlists.coerce("auto") == "auto"
    assert nlists.coerce("16") == 16
    with pytest.raises(ValueError, match="expected one of"):
        ALGORITHMS["knn"].hyperparameters["index_type"].coerce("annoy")


def test_validate_names_unknown_hyperparameter() -> None:
    with pytest.raises(KeyError, match="not a xgboost hyperparameter"):
        get_algorithm("xgboost").validate({"n_estimators": 5})


def test_seed_defaults_follow_the_contract() -> None:
    assert ALGORITHMS["xgboost"].defaults == {
        "num_round": 100, "max_depth": 5, "eta": 0.2, "subsample": 0.8,
        "colsample_bytree": 0.8, "objective": "reg:squarederror"}
    assert ALGORITHMS["knn"].content_type == "text/csv;label_size=1"
    assert ALGORITHMS["knn"].channels == {"train": "train", "test": "validation"}
    assert "test" not in ALGORITHMS["xgboost"].channels.values()


def test_knn_cross_rules() -> None:
    with pytest.raises(ValueError, match="0 < target < feature_dim"):
        check_combination({"dimension_reduction_type": "sign",
                           "dimension_reduction_target": 8, "feature_dim": 8})
    with pytest.raises(ValueError, match="not supported with IVFPQ"):
        check_combination({"index_type": "faiss.IVFPQ", "index_metric": "COSINE"})


def test_unknown_algorithm_lists_known() -> None:
    with pytest.raises(KeyError, match="expected one of xgboost, knn, sklearn-gbm"):
        get_algorithm("lightgbm")


def test_metric_regexes_match_container_log_lines() -> None:
    import re

    xgb = get_algorithm("xgboost").metric("validation:rmse")
    line = "[99]#011train-rmse:0.31245#011validation-rmse:0.43301"
    assert float(re.match(xgb.regex, line).group(1)) == pytest.approx(0.43301)
    knn = get_algorithm("knn").metric("test:mse")
    assert float(re.match(knn.regex, "#test_score (algo-1) : ('mse', 0.3561)").group(1)) == \
        pytest.approx(0.3561)
    gbm = get_algorithm("sklearn-gbm").metric("validation:mae")
    assert float(re.search(gbm.regex, "validation:mae=0.2875;").group(1)) == 0.2875


def test_open_minimum_and_numeric_choices() -> None:
    """The container's open intervals, e.g. subsample in (0, 1], and k-NN's listed pq_m."""
    subsample = Hyperparameter("subsample", "float", 0, 1, min_open=True)
    assert subsample.coerce("1") == 1.0 and subsample.coerce(1e-9) == 1e-9
    with pytest.raises(ValueError, match="expected > 0, got 0"):
        subsample.coerce(0)
    pq_m = Hyperparameter("faiss_index_pq_m", "int", choices=("1", "2", "96"))
    assert pq_m.coerce("96") == 96 and pq_m.coerce(2.0) == 2
    with pytest.raises(ValueError, match="expected one of 1, 2, 96, got 5"):
        pq_m.coerce(5)
