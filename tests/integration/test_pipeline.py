"""Each command, and ``smlp run``, on small real data through the real local backend."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tests.data_paths import split_path
from tests.integration.cli_helpers import manifest, smlp, write_small_config


@pytest.fixture
def prepared(project: Path) -> Path:
    write_small_config(project)
    smlp("data", "generate")
    return project


def test_commands_one_by_one(prepared: Path) -> None:
    project = prepared
    store = project / "smlp-artifacts"
    lines = split_path(store, "train").read_text().splitlines()
    assert len(lines[0].split(",")) == 9 and not lines[0][0].isalpha()  # no header

    smlp("train", "--algo", "all")
    state = manifest(project)
    assert set(state["candidates"]) == {"xgboost", "knn", "sklearn-gbm"}
    xgb = state["candidates"]["xgboost"]
    assert xgb["hyperparameters"]["max_depth"] == "5"  # strings, as SageMaker sends them
    assert xgb["training_metrics"]["validation:rmse"] > 0
    assert state["candidates"]["knn"]["hyperparameters"]["feature_dim"] == "8"
    assert "test:mse" in state["candidates"]["knn"]["training_metrics"]
    assert {name: (c["backend"], c["artifact_format"]) for name, c in
            state["candidates"].items()} == {"xgboost": ("local", "xgboost-ubj"),
                                             "knn": ("local", "smlp-knn-npz-1"),
                                             "sklearn-gbm": ("local", "sklearn-joblib")}
    with tarfile.open(xgb["model"]["uri"]) as archive:
        assert archive.getnames() == ["xgboost-model"]
    assert "/training/smlp-xgboost-" in xgb["model"]["uri"]
    assert xgb["model"]["uri"].endswith("/output/model.tar.gz")

    result = smlp("compare", "--metric", "mae", "--json")
    comparison = json.loads(result.stdout)
    assert comparison["metric"] == "mae"
    maes = [c["metrics"]["mae"] for c in comparison["candidates"]]
    assert maes == sorted(maes) and comparison["best"] == comparison["candidates"][0]["name"]
    for candidate in comparison["candidates"]:
        assert set(candidate["metrics"]) == {"rmse", "mse", "mae", "r2"}
        assert candidate["model_uri"].endswith("model.tar.gz")
    stored = json.loads((store / "compare/comparison.json").read_text())
    assert stored == comparison
    assert manifest(project)["best"] == comparison["best"]

    result = smlp("transform")
    out = next((store / "transform").rglob("part-00000.csv.out"))
    rows = np.loadtxt(out, delimiter=",")
    test = np.loadtxt(split_path(store, "test"), delimiter=",")
    assert rows.shape == (len(test), 2)
    np.testing.assert_allclose(rows[:, 0], test[:, 0])  # label joined back, then prediction
    best = next(c for c in comparison["candidates"] if c["name"] == comparison["best"])
    rmse = float(np.sqrt(np.mean((rows[:, 1] - rows[:, 0]) ** 2)))
    assert rmse == pytest.approx(best["metrics"]["rmse"], rel=1e-5)

    status = smlp("status").stdout
    for word in ("data", "train", "compare", "transform", "completed", "xgboost"):
        assert word in status


def test_train_with_hyperparameter_override_changes_the_model(prepared: Path) -> None:
    smlp("train", "--algo", "xgboost", "--hp", "num_round=2")
    weak = manifest(prepared)["candidates"]["xgboost"]
    smlp("train", "--algo", "xgboost", "--hp", "xgboost.num_round=30")
    strong = manifest(prepared)["candidates"]["xgboost"]
    assert weak["hyperparameters"]["num_round"] == "2"
    assert strong["training_metrics"]["validation:rmse"] < weak["training_metrics"][
        "validation:rmse"]


def test_run_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.chdir(folder)
        write_small_config(folder)
        smlp("run", "--no-report")
        store = folder / "smlp-artifacts"
        comparison = json.loads((store / "compare/comparison.json").read_text())
        results.append((
            [split_path(store, s).read_bytes() for s in ("train", "validation", "test")],
            {c["name"]: c["metrics"] for c in comparison["candidates"]},
        ))
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]


def test_prepare_and_transform_raw_input_with_header(project: Path) -> None:
    rng = np.random.default_rng(0)
    n = 600
    city = rng.choice(["Oslo", "Lima", "Pune"], n)
    size = rng.normal(100, 20, n)
    price = size * 2 + (city == "Oslo") * 30 + rng.normal(0, 1, n)
    rows = zip(city, size, price, strict=True)
    raw = ["id,city,size,price"] + [f"r{i},{c},{s:.3f},{p:.3f}"
                                    for i, (c, s, p) in enumerate(rows)]
    raw[5] = "r4,,,77.0"  # missing values
    (project / "houses.csv").write_text("\n".join(raw) + "\n")
    write_small_config(project)
    smlp("data", "prepare", "--input", "houses.csv", "--target", "price", "--id-column", "id")
    smlp("train", "--algo", "xgboost")
    new = ["id,city,size"] + [f"n{i},{c},{s:.3f}" for i, (c, s) in
                              enumerate(zip(city[:50], size[:50], strict=True))]
    (project / "new.csv").write_text("\n".join(new) + "\n")
    smlp("transform", "--input", "new.csv", "--output", "preds", "--model", "xgboost")
    lines = (project / "preds" / "new.csv.out").read_text().splitlines()
    assert lines[0] == "id,prediction" and lines[1].startswith("n0,")  # README: the ID goes out
    predictions = np.array([float(line.split(",")[1]) for line in lines[1:]])
    assert predictions.shape == (50,)
    expected = size[:50] * 2 + (city[:50] == "Oslo") * 30
    assert np.sqrt(np.mean((predictions - expected) ** 2)) < 15


def test_transform_folder_with_filters(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = trained  # the small config, generated data, an XGBoost candidate
    test = split_path(prepared / "smlp-artifacts", "test").read_text().splitlines()
    folder = prepared / "batch"
    folder.mkdir()
    (folder / "a.csv").write_text("\n".join(f"id{i}," + line.split(",", 1)[1]
                                            for i, line in enumerate(test[:10])) + "\n")
    (folder / "b.csv").write_text("\n".join(f"id{i}," + line.split(",", 1)[1]
                                            for i, line in enumerate(test[10:15])) + "\n")
    (prepared / "smlp.yaml").write_text(
        (prepared / "smlp.yaml").read_text()
        + "transform: {input_filter: '$[1:]', join_source: Input, output_filter: '$[0,-1]'}\n")
    smlp("transform", "--input", "batch", "--output", "out", "--model", "xgboost")
    a = (prepared / "out/a.csv.out").read_text().splitlines()
    b = (prepared / "out/b.csv.out").read_text().splitlines()
    assert len(a) == 10 and len(b) == 5
    assert a[3].startswith("id3,") and len(a[3].split(",")) == 2


def test_early_stopping_keeps_the_best_round(prepared: Path) -> None:
    import xgboost

    smlp("train", "--algo", "xgboost", "--hp", "num_round=500", "--hp", "eta=0.6",
         "--hp", "early_stopping_rounds=3")
    candidate = manifest(prepared)["candidates"]["xgboost"]
    # The container early-stops only on a named metric (algorithm_mode/train.py train_job).
    assert candidate["hyperparameters"]["eval_metric"] == "rmse"
    with tarfile.open(candidate["model"]["uri"]) as archive:
        member = archive.extractfile("xgboost-model")
        assert member is not None
        booster = xgboost.Booster()
        booster.load_model(bytearray(member.read()))
    best = int(booster.attr("best_iteration"))
    assert booster.num_boosted_rounds() == best + 1 < 500  # cut back to the best round
    validation = np.loadtxt(split_path(prepared / "smlp-artifacts", "validation"),
                            delimiter=",")
    labels = validation[:, 0].astype(np.float32).astype(np.float64)
    predicted = booster.inplace_predict(validation[:, 1:])
    rmse = float(np.sqrt(np.mean((predicted - labels) ** 2)))
    # The job's final metric is its last logged round, as SageMaker reports it: 3 rounds past
    # the best, so no better than the model that was kept.
    assert rmse <= candidate["training_metrics"]["validation:rmse"] + 1e-5
