"""The training scripts as classifiers, run as SageMaker runs them (job folder, string
hyperparameters, CloudWatch log lines read with the real regexes)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.test_training_scripts import load_script, run_job, sklearn_regex, xgb_regex


def classes(rows: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5))
    score = x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + 0.3 * rng.normal(size=rows)
    edges = np.quantile(score, np.linspace(0, 1, k + 1)[1:-1])
    return x, np.searchsorted(edges, score).astype(np.float64)


def channels(k: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    x, y = classes(1500, k)
    return {"train": (x[:1200], y[:1200]), "validation": (x[1200:], y[1200:])}


def test_xgboost_binary_logistic_logs_auc_and_stops_on_it_maximized(tmp_path) -> None:
    data = channels(2)
    hps = {"num_round": "300", "eta": "0.3", "objective": "binary:logistic",
           "eval_metric": "auc", "early_stopping_rounds": "5"}
    job = run_job(tmp_path, "xgboost_builtin.py", hps, data)
    assert job.returncode == 0, job.log
    auc = job.values(xgb_regex("validation", "auc"))
    assert 5 < len(auc) < 300  # stopped early ...
    module = load_script("xgboost_builtin")
    booster = module.model_fn(str(job.model_dir))
    best = int(booster.attributes()["best_iteration"])
    assert auc[best] == max(auc)  # ... keeping the round with the highest AUC
    probability = module.predict_fn(data["validation"][0], booster)
    assert probability.shape == (300,) and 0 <= probability.min() <= probability.max() <= 1
    assert module.batch_lines(probability[:2]) == [str(float(p)) for p in probability[:2]]


def test_xgboost_softprob_needs_num_class_and_gives_a_row_per_record(tmp_path) -> None:
    data = channels(3)
    bad = run_job(tmp_path / "bad", "xgboost_builtin.py",
                  {"num_round": "5", "objective": "multi:softprob"}, data)
    assert bad.returncode == 1
    assert bad.failure == "Require input for parameter 'num_class' for multi-classification"
    hps = {"num_round": "20", "objective": "multi:softprob", "num_class": "3",
           "eval_metric": "accuracy"}
    job = run_job(tmp_path / "ok", "xgboost_builtin.py", hps, data)
    assert job.returncode == 0, job.log
    assert len(job.values(xgb_regex("validation", "mlogloss"))) == 20  # the objective's own
    accuracy = job.values(xgb_regex("validation", "accuracy"))[-1]
    module = load_script("xgboost_builtin")
    rows = module.predict_fn(data["validation"][0], module.model_fn(str(job.model_dir)))
    assert rows.shape == (300, 3)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(rows.argmax(axis=1) == data["validation"][1]) == pytest.approx(accuracy,
                                                                                  abs=1e-5)
    line = module.batch_lines(rows[:1])[0]
    assert line.startswith("[") and line.count(",") == 2  # str() of the list, as served


def test_sklearn_classifier_prints_logloss_and_serves_probabilities(tmp_path) -> None:
    data = channels(3)
    hps = {"n_estimators": "15", "problem_type": "multiclass", "class_weight": "balanced"}
    job = run_job(tmp_path, "sklearn_gbm.py", hps, data)
    assert job.returncode == 0, job.log
    per_stage = job.values(sklearn_regex("validation", "logloss"))
    assert len(per_stage) == 16  # one per stage, then the final value
    assert per_stage[-1] == pytest.approx(per_stage[-2], rel=1e-9)
    module = load_script("sklearn_gbm")
    model = module.model_fn(str(job.model_dir))
    rows = module.predict_fn(data["validation"][0], model)
    assert rows.shape == (300, 3)
    accuracy = job.values(sklearn_regex("validation", "accuracy"))[-1]
    assert np.mean(rows.argmax(axis=1) == data["validation"][1]) == pytest.approx(accuracy)
    assert module.output_fn(rows[:2], "text/csv").count("\n") == 2
    assert module.output_fn(rows[:1], "text/csv").strip().count(",") == 2


def test_sklearn_rejects_class_weight_for_regression(tmp_path) -> None:
    job = run_job(tmp_path, "sklearn_gbm.py", {"n_estimators": "5", "class_weight": "balanced"},
                  channels(2))
    assert job.returncode == 1
    assert "class_weight is for binary or multiclass" in (job.failure or "")
