"""The training entry points run as SageMaker (and smlp's local backend) runs them.

Each test builds an ``/opt/ml``-shaped job folder on small synthetic data, runs a script in a
subprocess with the environment the backend sets, and checks what a job leaves behind: exit
code, ``model/`` artifact, metric log lines (matched with the real regexes after the tab ->
``#011`` rewrite CloudWatch does) and ``output/failure``. Models are then loaded through the
scripts' own ``model_fn``/``predict_fn``, as batch transform does.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "training_scripts"
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def xgb_regex(channel: str, metric: str) -> str:
    return rf".*\[[0-9]+\].*#011{channel}-{metric}:{NUMBER}.*"


def sklearn_regex(channel: str, metric: str) -> str:
    return rf"{channel}:{metric}={NUMBER};"


KNN_MSE = rf"#test_score \(algo-1\) : \('mse', {NUMBER}\)"
KNN_ACCURACY = rf"#test_score \(algo-1\) : \('accuracy', {NUMBER}\)"


# ------------------------------------------------------------------------------------- helpers


def make_data(rows: int, features: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth nonlinear target that trees and k-NN can both learn, plus a little noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    y = 3 * np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * x[:, 3] ** 2 + x[:, 4:].sum(axis=1)
    return x, y + rng.normal(scale=0.2, size=rows)


@dataclass
class Job:
    """What a finished training job leaves: exit code, log (as CloudWatch shows it), folder."""

    root: Path
    returncode: int
    log: str

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def failure(self) -> str | None:
        path = self.root / "output" / "failure"
        return path.read_text().strip() if path.exists() else None

    def values(self, regex: str) -> list[float]:
        """Every value the metric regex extracts, line by line, as SageMaker does."""
        pattern = re.compile(regex)
        return [float(m.group(1)) for line in self.log.splitlines()
                if (m := pattern.search(line))]


def write_csv(path: Path, y: np.ndarray, x: np.ndarray, header: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([y, x]), delimiter=",", fmt="%.17g",
               header=header or "", comments="")
    if header is None:  # np.savetxt writes an empty first line for header=""
        path.write_text(path.read_text().lstrip("\n"))


def prepare_job(
    root: Path,
    hyperparameters: dict[str, str],
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, str]:
    """Lay out ``root`` like ``/opt/ml``; return the environment the local backend sets."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: {"ContentType": "text/csv"} for name in channels})
    )
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    for name, (x, y) in channels.items():
        write_csv(root / "input" / "data" / name / f"{name}.csv", y, x)
    (root / "model").mkdir()
    (root / "output" / "data").mkdir(parents=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "OPT_ML"))}
    env.update(
        OPT_ML=str(root),
        SM_MODEL_DIR=str(root / "model"),
        SM_CHANNELS=json.dumps(sorted(channels)),
        SM_OUTPUT_DATA_DIR=str(root / "output" / "data"),
        SM_OUTPUT_DIR=str(root / "output"),
        SM_INPUT_DIR=str(root / "input"),
        SM_INPUT_CONFIG_DIR=str(config),
        SM_HPS=json.dumps(hyperparameters),
        SM_NUM_CPUS=str(os.cpu_count() or 1),
        SM_HOSTS=json.dumps(["algo-1"]),
        SM_CURRENT_HOST="algo-1",
        # One OpenMP thread (xgboost, faiss): on 2,000 rows threads buy nothing, and busy-waiting
        # OpenMP threads slow 2-6x when the rest of the suite competes for the same cores.
        OMP_NUM_THREADS="1",
    )
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = str(root / "input" / "data" / name)
    return env


def run_script(root: Path, script: str, env: dict[str, str], argv: list[str]) -> Job:
    """``python <script> [--name value ...]`` in the job folder; the log as CloudWatch shows it."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *argv],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    return Job(root, proc.returncode, (proc.stdout + proc.stderr).replace("\t", "#011"))


def run_job(
    root: Path,
    script: str,
    hyperparameters: dict[str, str],
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
    argv: list[str] | None = None,
) -> Job:
    """Build a job folder and run ``script`` in it; script mode gets hyperparameters as flags."""
    env = prepare_job(root, hyperparameters, channels)
    if argv is None and script == "sklearn_gbm.py":
        argv = [part for name, value in hyperparameters.items() for part in (f"--{name}", value)]
    return run_script(root, script, env, argv or [])


def load_script(name: str, register: bool = False) -> ModuleType:
    """Import a script from its path, as batch transform does (not in sys.modules unless asked)."""
    spec = importlib.util.spec_from_file_location(f"_test_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if register:  # dataclasses look their module up in sys.modules
        sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return math.sqrt(float(np.mean((np.asarray(a, np.float64) - b) ** 2)))


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    x, y = make_data(2500)
    return {"train": (x[:2000], y[:2000]), "validation": (x[2000:], y[2000:])}


# ------------------------------------------------------------------------------------- xgboost


def test_xgboost_trains_logs_metrics_and_predicts(tmp_path: Path, data: dict) -> None:
    hps = {"num_round": "60", "max_depth": "4", "eta": "0.2", "eval_metric": "rmse,mse,mae"}
    job = run_job(tmp_path, "xgboost_builtin.py", hps, data)
    assert job.returncode == 0, job.log
    assert (job.model_dir / "xgboost-model").is_file()

    final = {}
    for channel in ("train", "validation"):
        for metric in ("rmse", "mse", "mae"):
            values = job.values(xgb_regex(channel, metric))
            assert len(values) == 60, (channel, metric)  # one per boosting round
            final[f"{channel}:{metric}"] = values[-1]
    x_val, y_val = data["validation"]
    assert final["validation:rmse"] < 0.4 * float(np.std(y_val))  # far better than the mean
    assert final["validation:mse"] == pytest.approx(final["validation:rmse"] ** 2, abs=1e-3)

    module = load_script("xgboost_builtin")
    predicted = module.predict_fn(x_val, module.model_fn(str(job.model_dir)))
    assert predicted.dtype == np.float32 and predicted.shape == (len(y_val),)
    # The log prints 5 decimals; xgboost evaluates against float32 labels.
    y32 = y_val.astype(np.float32).astype(np.float64)
    assert rmse(predicted, y32) == pytest.approx(final["validation:rmse"], abs=2e-5)
    assert float(np.mean((predicted - y32) ** 2)) == pytest.approx(
        final["validation:mse"], abs=2e-5)
    assert float(np.mean(np.abs(predicted - y32))) == pytest.approx(
        final["validation:mae"], abs=2e-5)

    import xgboost

    booster = xgboost.Booster()
    with warnings.catch_warnings():  # xgboost warns it guesses the format of an extension-less file
        warnings.simplefilter("ignore")
        booster.load_model(str(job.model_dir / "xgboost-model"))
    assert np.array_equal(booster.inplace_predict(x_val), predicted)


def test_xgboost_hyperparameters_change_the_model(tmp_path: Path, data: dict) -> None:
    scores = {}
    for rounds in ("5", "100"):
        job = run_job(tmp_path / rounds, "xgboost_builtin.py",
                      {"num_round": rounds, "eta": "0.1", "max_depth": "4"}, data)
        assert job.returncode == 0, job.log
        scores[rounds] = job.values(xgb_regex("validation", "rmse"))
        assert len(scores[rounds]) == int(rounds)
    assert scores["100"][-1] < 0.5 * scores["5"][-1]


def test_xgboost_early_stopping_keeps_the_best_round(tmp_path: Path, data: dict) -> None:
    hps = {"num_round": "2000", "eta": "0.6", "max_depth": "6", "early_stopping_rounds": "3",
           "_tuning_objective_metric": "validation:mse"}
    job = run_job(tmp_path, "xgboost_builtin.py", hps, data)
    assert job.returncode == 0, job.log
    assert "Setting up HPO optimized metric to be : mse" in job.log  # the container's line
    mse = job.values(xgb_regex("validation", "mse"))
    assert 3 < len(mse) < 2000  # stopped early, watching the objective it was given
    assert len(job.values(xgb_regex("validation", "rmse"))) == len(mse)  # default still shown

    module = load_script("xgboost_builtin")
    booster = module.model_fn(str(job.model_dir))
    best = int(booster.attr("best_iteration"))  # xgboost's own record of the best round
    assert mse[best] == min(mse)
    assert len(mse) == best + 1 + 3  # the log runs 3 rounds past the best, as it does on AWS
    # save_best, as the container sets it: the model ends at the best round, not the last.
    assert booster.num_boosted_rounds() == best + 1
    x_val, y_val = data["validation"]
    predicted = module.predict_fn(x_val, booster)
    y32 = y_val.astype(np.float32).astype(np.float64)
    assert float(np.mean((predicted - y32) ** 2)) == pytest.approx(mse[best], abs=2e-5)

    # The same rounds trained with plain xgboost give the same predictions.
    import xgboost

    (x_train, y_train) = data["train"]
    reference = xgboost.train({"eta": 0.6, "max_depth": 6, "objective": "reg:squarederror",
                               "nthread": 1}, xgboost.DMatrix(x_train, label=y_train),
                              num_boost_round=best + 1)
    np.testing.assert_allclose(predicted, reference.inplace_predict(x_val), rtol=1e-6)


# When the container early-stops (algorithm_mode/train.py train_job, callback.py
# get_callbacks): a validation channel, early_stopping_rounds, and a metric to watch (the tuning
# objective's, else eval_metric's last); otherwise it trains every round, without an error.
# eta=0 never improves on round 0, so a job that stops early logs 1 + 2 rounds and keeps one.
@pytest.mark.parametrize(
    ("extra", "channels", "logged", "kept"),
    [
        ({"eval_metric": "rmse"}, ("train", "validation"), 3, 1),
        ({"_tuning_objective_metric": "validation:mae"}, ("train", "validation"), 3, 1),
        ({}, ("train", "validation"), 10, 10),  # no metric named: early stopping is ignored
        ({"eval_metric": "rmse"}, ("train",), 10, 10),  # no validation: no early stopping
    ],
    ids=["eval_metric", "tuning_objective", "no_metric", "no_validation"],
)
def test_xgboost_early_stopping_runs_when_the_container_would(
    tmp_path: Path, data: dict, extra: dict, channels: tuple[str, ...], logged: int, kept: int
) -> None:
    hps = {"num_round": "10", "eta": "0", "early_stopping_rounds": "2", **extra}
    job = run_job(tmp_path, "xgboost_builtin.py", hps, {c: data[c] for c in channels})
    assert job.returncode == 0, job.log
    assert len(job.values(xgb_regex("train", "rmse"))) == logged
    module = load_script("xgboost_builtin")
    assert module.model_fn(str(job.model_dir)).num_boosted_rounds() == kept


@pytest.mark.parametrize(
    ("hps", "metrics", "watched"),
    [
        ({}, [], None),
        ({"early_stopping_rounds": 5}, [], None),
        ({"eval_metric": "mae,rmse", "early_stopping_rounds": 5}, ["mae", "rmse"], "rmse"),
        ({"eval_metric": "rmse,mae"}, ["rmse", "mae"], None),
        ({"eval_metric": "rmse", "_tuning_objective_metric": "validation:mae",
          "early_stopping_rounds": 5}, ["mae", "rmse"], "mae"),
        ({"eval_metric": "rmse,mse", "_tuning_objective_metric": "validation:mae"},
         ["mae", "mse", "rmse"], None),
        ({"_tuning_objective_metric": "validation:mse", "early_stopping_rounds": 5},
         ["mse"], "mse"),
    ],
)
def test_xgboost_metric_plan_follows_the_container(
    monkeypatch: pytest.MonkeyPatch, hps: dict, metrics: list[str], watched: str | None
) -> None:
    """The container's rule (train_utils.get_eval_metrics_and_feval, train.train_job): the
    union of eval_metric and the objective's metric, sorted when both are given; early stopping
    watches the objective's metric, else eval_metric's last entry."""
    monkeypatch.syspath_prepend(str(SCRIPTS))  # the script imports _sm_io from its folder
    module = load_script("xgboost_builtin")
    assert module._metric_plan(hps) == (metrics, watched)


def test_xgboost_without_validation_reports_train_only(tmp_path: Path, data: dict) -> None:
    job = run_job(tmp_path, "xgboost_builtin.py", {"num_round": "3"}, {"train": data["train"]})
    assert job.returncode == 0, job.log
    assert len(job.values(xgb_regex("train", "rmse"))) == 3
    assert job.values(xgb_regex("validation", "rmse")) == []


@pytest.mark.parametrize(
    ("case", "hps", "expected"),
    [
        ("header", {"num_round": "5"},
         "train/train.csv line 1: non-numeric value 'MedHouseVal'; "
         "SageMaker CSV input has no header"),
        ("bad_cell", {"num_round": "5"}, "train/train.csv line 4: non-numeric value 'oops'"),
        ("no_train", {"num_round": "5"}, "Missing required channel: train"),
        ("ok", {"num_round": "5", "max_deep": "3"}, "unknown hyperparameter 'max_deep'"),
        ("ok", {"eta": "0.1"}, "missing required hyperparameter: num_round"),
        ("ok", {"num_round": "five"}, "hyperparameter num_round: expected a number"),
        ("ok", {"num_round": "5", "eval_metric": "rmse,auc"}, "'auc' is not one of"),
        ("ok", {"num_round": "5", "_tuning_objective_metric": "train:rmse"},
         "_tuning_objective_metric: 'train:rmse' is not one of validation:rmse"),
    ],
)
def test_xgboost_bad_input_fails_the_job(
    tmp_path: Path, data: dict, case: str, hps: dict[str, str], expected: str
) -> None:
    channels = {"validation": data["validation"]} if case == "no_train" else data
    env = prepare_job(tmp_path, hps, channels)
    if case in {"header", "bad_cell"}:
        path = tmp_path / "input" / "data" / "train" / "train.csv"
        lines = path.read_text().splitlines()
        if case == "header":
            lines.insert(0, "MedHouseVal,MedInc,HouseAge,AveRooms,AveBedrms,Population,"
                            "AveOccup,Latitude,Longitude")
        else:
            cells = lines[3].split(",")
            lines[3] = ",".join([cells[0], "oops", *cells[2:]])
        path.write_text("\n".join(lines) + "\n")
    job = run_script(tmp_path, "xgboost_builtin.py", env, [])
    assert job.returncode == 1, job.log
    assert job.failure is not None and expected in job.failure
    assert "\n" not in job.failure
    assert not (job.model_dir / "xgboost-model").exists()


# ----------------------------------------------------------------------------------------- knn


def _brute_force(train_x: np.ndarray, train_y: np.ndarray, query: np.ndarray, k: int,
                 classifier: bool) -> np.ndarray:
    """Textbook k-NN in float64: stable sort of squared distances, ties to the earlier row."""
    distances = ((query[:, None, :] - train_x[None, :, :]) ** 2).sum(axis=2)
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
    labels = train_y[nearest]
    if not classifier:
        return labels.mean(axis=1)
    out = np.empty(len(query))
    for i, row in enumerate(labels):
        values, counts = np.unique(row, return_counts=True)
        out[i] = values[np.argmax(counts)]
    return out


@pytest.mark.parametrize("predictor_type", ["regressor", "classifier"])
def test_knn_flat_is_exact_brute_force(tmp_path: Path, data: dict, predictor_type: str) -> None:
    # Large offsets make float32 distances (faiss) lose the order of near-ties; Flat must not.
    shift = 1000.0
    (tx, ty), (vx, vy) = data["train"], data["validation"]
    classifier = predictor_type == "classifier"
    if classifier:
        ty, vy = np.digitize(ty, [-1.0, 1.0]).astype(float), np.digitize(vy, [-1.0, 1.0])
    channels = {"train": (tx + shift, ty), "test": (vx + shift, vy.astype(float))}
    hps = {"feature_dim": "8", "k": "7", "predictor_type": predictor_type,
           "sample_size": "5000"}
    job = run_job(tmp_path, "knn_builtin.py", hps, channels)
    assert job.returncode == 0, job.log
    assert (job.model_dir / "knn-model.npz").is_file()

    expected = _brute_force(tx + shift, ty, vx + shift, 7, classifier)
    module = load_script("knn_builtin")
    predicted = module.predict_fn(vx + shift, module.model_fn(str(job.model_dir)))
    if classifier:
        assert np.array_equal(predicted, expected)
        (accuracy,) = job.values(KNN_ACCURACY)
        assert accuracy == pytest.approx(float(np.mean(predicted == vy)), rel=1e-12)
        assert accuracy > 0.6
    else:
        np.testing.assert_allclose(predicted, expected, rtol=1e-12, atol=0)
        (mse,) = job.values(KNN_MSE)
        assert mse == pytest.approx(float(np.mean((predicted - vy) ** 2)), rel=1e-12)
        assert mse < 0.6 * float(np.var(vy))


@pytest.mark.parametrize(
    "extra",
    [
        {"index_type": "faiss.IVFFlat"},
        {"index_type": "faiss.IVFFlat", "faiss_index_ivf_nlists": "16",
         "index_metric": "INNER_PRODUCT"},
        {"index_type": "faiss.IVFPQ", "faiss_index_pq_m": "4"},
        {"index_type": "faiss.IVFPQ"},
        {"dimension_reduction_type": "sign", "dimension_reduction_target": "6"},
        {"dimension_reduction_type": "fjlt", "dimension_reduction_target": "6"},
        {"index_metric": "COSINE"},
        {"sample_size": "800", "mini_batch_size": "64"},
    ],
    ids=lambda extra: "+".join(f"{k}={v}" for k, v in extra.items()),
)
def test_knn_variants_train_and_reload(tmp_path: Path, data: dict, extra: dict) -> None:
    (tx, ty), (vx, vy) = data["train"], data["validation"]
    hps = {"feature_dim": "8", "k": "10", "predictor_type": "regressor",
           "sample_size": "5000", **extra}
    job = run_job(tmp_path, "knn_builtin.py", hps, {"train": (tx, ty), "test": (vx, vy)})
    assert job.returncode == 0, job.log
    (mse,) = job.values(KNN_MSE)
    # Exact Flat k-NN scores about 0.16 x var here; approximate indexes barely lose to it. A
    # sign projection of 8 informative features onto 6 random non-orthogonal directions loses
    # real information (about 0.8 x var); FJLT's orthogonal columns lose less.
    limit = 0.9 if extra.get("dimension_reduction_type") == "sign" else 0.4
    assert mse < limit * float(np.var(vy)), job.log

    is_ivf = "IVF" in extra.get("index_type", "")
    assert (job.model_dir / "index.faiss").is_file() == is_ivf
    module = load_script("knn_builtin")
    model = module.model_fn(str(job.model_dir))
    assert len(model.labels) == min(int(hps["sample_size"]), len(ty))
    predicted = module.predict_fn(vx, model)
    assert float(np.mean((predicted - vy) ** 2)) == pytest.approx(mse, rel=1e-9)


def test_knn_projections_are_seeded_and_preserve_distances(tmp_path: Path) -> None:
    module = load_script("knn_builtin")
    x = np.random.default_rng(1).normal(size=(200, 64))
    for kind in ("sign", "fjlt"):
        first = module._projection(kind, 64, 48, np.random.default_rng(3))
        again = module._projection(kind, 64, 48, np.random.default_rng(3))
        assert np.array_equal(first, again)
        assert np.allclose(np.abs(first), 1 / math.sqrt(48))  # +-1 entries, scaled
        ratio = np.linalg.norm(x @ first, axis=1) / np.linalg.norm(x, axis=1)
        assert 0.8 < float(np.median(ratio)) < 1.2
    # FJLT's columns are orthogonal (distinct Hadamard columns): an isometry on the span.
    fjlt = module._projection("fjlt", 64, 48, np.random.default_rng(3))
    np.testing.assert_allclose(fjlt.T @ fjlt * 48 / 64, np.eye(48), atol=1e-12)


@pytest.mark.parametrize(
    ("hps", "expected"),
    [
        ({"feature_dim": "9"}, "feature_dim is 9 but the train channel has 8"),
        ({"index_type": "faiss.IVFPQ", "index_metric": "COSINE"},
         "COSINE is not supported with faiss.IVFPQ"),
        ({"index_type": "faiss.IVFPQ", "faiss_index_pq_m": "5"},
         "faiss_index_pq_m: expected one of 1, 2, 3, 4, 8, 12"),
        ({"dimension_reduction_type": "sign", "dimension_reduction_target": "8"},
         "expected 0 < target < feature_dim"),
        ({"k": "0"}, "hyperparameter k: expected >= 1"),
        ({"k": None}, "missing required hyperparameter: k"),
    ],
)
def test_knn_bad_input_fails_the_job(tmp_path: Path, data: dict, hps: dict, expected: str) -> None:
    base = {"feature_dim": "8", "k": "5", "predictor_type": "regressor", "sample_size": "500"}
    merged = {k: v for k, v in {**base, **hps}.items() if v is not None}
    job = run_job(tmp_path, "knn_builtin.py", merged, {"train": data["train"]})
    assert job.returncode == 1, job.log
    assert job.failure is not None and expected in job.failure


# ----------------------------------------------------------------------------------- sklearn


def test_sklearn_gbm_script_mode(tmp_path: Path, data: dict) -> None:
    hps = {"n_estimators": "40", "max_depth": "3", "learning_rate": "0.2", "random_state": "0"}
    job = run_job(tmp_path, "sklearn_gbm.py", hps, data)
    assert job.returncode == 0, job.log
    assert (job.model_dir / "model.joblib").is_file()

    stages = job.values(r"\[stage [0-9]+\] " + sklearn_regex("validation", "rmse"))
    assert len(stages) == 40
    final = {f"{c}:{m}": job.values(sklearn_regex(c, m))[-1]
             for c in ("train", "validation") for m in ("rmse", "mse", "mae")}
    # SageMaker searches each line, so stage lines feed the series and the final line ends it;
    # a line-start match (smlp's local backend) sees the final line only: same final value.
    assert job.values(sklearn_regex("validation", "rmse"))[-2] == stages[-1]
    at_start = [float(m.group(1)) for line in job.log.splitlines()
                if (m := re.match(sklearn_regex("validation", "rmse"), line))]
    assert at_start == [final["validation:rmse"]]
    (x_train, y_train), (x_val, y_val) = data["train"], data["validation"]
    assert final["validation:rmse"] < 0.5 * float(np.std(y_val))

    module = load_script("sklearn_gbm")
    model = module.model_fn(str(job.model_dir))
    predicted = module.predict_fn(x_val, model)
    assert rmse(predicted, y_val) == pytest.approx(final["validation:rmse"], rel=1e-12)
    assert float(np.mean((predicted - y_val) ** 2)) == pytest.approx(
        final["validation:mse"], rel=1e-12)
    assert float(np.mean(np.abs(predicted - y_val))) == pytest.approx(
        final["validation:mae"], rel=1e-12)
    assert rmse(module.predict_fn(x_train, model), y_train) == pytest.approx(
        final["train:rmse"], rel=1e-12)
    # The per-stage trace printed during fit is what staged_predict gives afterwards.
    staged = [rmse(p, y_val) for p in model.staged_predict(x_val)]
    np.testing.assert_allclose(stages, staged, rtol=1e-9)

    body = "\n".join(",".join(repr(float(v)) for v in row) for row in x_val[:3])
    parsed = module.input_fn(body.encode(), "text/csv")
    assert np.array_equal(parsed, x_val[:3])
    lines = module.output_fn(module.predict_fn(parsed, model), "text/csv").splitlines()
    assert [float(v) for v in lines] == pytest.approx(list(predicted[:3]), rel=1e-15)


def test_sklearn_gbm_hyperparameters_change_the_model(tmp_path: Path, data: dict) -> None:
    job = run_job(tmp_path, "sklearn_gbm.py",
                  {"n_estimators": "3", "learning_rate": "0.2", "random_state": "0"}, data)
    assert job.returncode == 0, job.log
    assert len(job.values(r"\[stage [0-9]+\] " + sklearn_regex("validation", "rmse"))) == 3
    baseline = float(np.std(data["validation"][1]))
    assert job.values(sklearn_regex("validation", "rmse"))[-1] > 0.6 * baseline


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--n_estimators", "5", "--max_deep", "3"], "unknown argument(s) --max_deep"),
        (["--n_estimators", "abc"], "argument --n_estimators: invalid integer value: 'abc'"),
        (["--loss", "hinge"], "GradientBoostingRegressor: The 'loss' parameter"),
        (["--n_estimators", "5", "--train", "/nonexistent/train"], "No data in train channel"),
    ],
)
def test_sklearn_gbm_bad_input_fails_the_job(
    tmp_path: Path, data: dict, argv: list[str], expected: str
) -> None:
    job = run_job(tmp_path, "sklearn_gbm.py", {}, {"train": data["train"]}, argv=argv)
    assert job.returncode == 1, job.log
    assert job.failure is not None and expected in job.failure, job.failure


def test_sklearn_gbm_rejects_a_header_row(tmp_path: Path, data: dict) -> None:
    env = prepare_job(tmp_path, {}, {"train": data["train"]})
    path = tmp_path / "input" / "data" / "train" / "train.csv"
    path.write_text("target,a,b,c,d,e,f,g,h\n" + path.read_text())
    job = run_script(tmp_path, "sklearn_gbm.py", env, ["--n_estimators", "2"])
    assert job.returncode == 1, job.log
    assert job.failure == ("train/train.csv line 1: non-numeric value 'target'; "
                           "SageMaker CSV input has no header")


# ------------------------------------------------------------------------------ shared CSV I/O


def test_a_channel_of_shards_is_read_in_name_order_into_one_array(tmp_path: Path) -> None:
    """A split's shards (issue 14): read in name order whatever order they were written in,
    a blank line skipped, each shard parsed straight into the result: the peak of what numpy
    and Python allocate is the result plus a 1 MiB read buffer, where reading each shard
    whole and concatenating needed twice the result."""
    import tracemalloc

    sm_io = load_script("_sm_io", register=True)
    x, y = make_data(40_000, features=8, seed=5)
    folder = tmp_path / "train"
    bounds = [0, 12_000, 24_000, 40_000]
    for index in (2, 0, 1):  # written out of order
        part = slice(bounds[index], bounds[index + 1])
        write_csv(folder / f"part-{index:05d}.csv", y[part], x[part])
    with open(folder / "part-00001.csv", "a") as handle:
        handle.write("\n")  # a blank last line: not a row
    target, features = sm_io.read_channel("train", required=True, folder=folder)
    np.testing.assert_array_equal(target, y)
    np.testing.assert_array_equal(features, x)
    assert features.flags.c_contiguous and target.flags.c_contiguous

    tracemalloc.start()
    try:
        sm_io.read_channel("train", required=True, folder=folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result_bytes = target.nbytes + features.nbytes
    assert peak < result_bytes + 1.5 * (1 << 20), (peak, result_bytes)


def test_csv_readers_agree_and_channels_concatenate(tmp_path: Path) -> None:
    sm_io = load_script("_sm_io", register=True)
    x, y = make_data(50, features=5, seed=4)
    x[5, 1] = np.nan  # an empty field is a missing value
    folder = tmp_path / "train"
    write_csv(folder / "part-0.csv", y[:20], x[:20])
    write_csv(folder / "part-1.csv", y[20:], x[20:])
    text = (folder / "part-0.csv").read_text().replace("nan", "")
    (folder / "part-0.csv").write_text(text)
    (folder / ".hidden").write_text("not,data\n")

    target, features = sm_io.read_channel("train", required=True, folder=folder)
    np.testing.assert_array_equal(target, y)
    np.testing.assert_array_equal(features, x)  # NaN in the same place
    path = folder / "part-1.csv"
    expected = np.column_stack([y[20:], x[20:]])
    for reader in (sm_io._read_pyarrow, sm_io._read_pandas, sm_io._read_numpy):
        np.testing.assert_array_equal(reader(path, x.shape[1] + 1), expected)
