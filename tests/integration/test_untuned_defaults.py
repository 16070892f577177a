"""The untuned XGBoost of the default config stops early on validation and keeps its best round:
num_round is a ceiling (configs/default.yaml; measured in benchmarks/tuning.py)."""

from __future__ import annotations

import tarfile
from pathlib import Path

from tests.integration.cli_helpers import manifest, smlp


def test_default_xgboost_stops_at_its_best_validation_round(project: Path) -> None:
    import xgboost

    (project / "smlp.yaml").write_text("data: {rows: 1500}\n")  # hyperparameters as shipped
    smlp("data", "generate")
    smlp("train", "--algo", "xgboost")
    candidate = manifest(project)["candidates"]["xgboost"]
    hyperparameters = candidate["hyperparameters"]
    assert (hyperparameters["num_round"], hyperparameters["early_stopping_rounds"]) == (
        "1000", "30")
    assert (hyperparameters["max_depth"], hyperparameters["eta"]) == ("5", "0.2")
    with tarfile.open(candidate["model"]["uri"]) as archive:
        member = archive.extractfile("xgboost-model")
        assert member is not None
        booster = xgboost.Booster()
        booster.load_model(bytearray(member.read()))
    assert booster.num_boosted_rounds() == int(booster.attr("best_iteration")) + 1 < 1000
