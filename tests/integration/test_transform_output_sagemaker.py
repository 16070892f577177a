"""The same transform output from SageMaker as from the local backend, through the CLI.

SageMaker's side is the moto stand-in (``sagemaker_fixtures``): the XGBoost container's
serving code behind the AWS-docs Batch Transform platform. Raw input with a header is
encoded before upload and SageMaker's predictions are joined to the IDs here, so the file a
user gets must not depend on the backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.integration.cli_helpers import assert_one_line_error, smlp
from tests.integration.sagemaker_fixtures import REGION, ROLE, STORE, record_sagemaker

COMMON = f"""store: {STORE}
algorithms:
  xgboost:
    hyperparameters: {{num_round: 20}}
"""
SAGEMAKER = COMMON + f"""backend: {{kind: sagemaker, region: {REGION}, role_arn: '{ROLE}',
  poll_seconds: 0.01, max_poll_seconds: 0.02, max_attempts: 3}}
"""


def write_project(folder: Path) -> None:
    rng = np.random.default_rng(0)
    city = rng.choice(["Oslo", "Lima", "Pune"], 400)
    size = rng.normal(100, 20, 400)
    price = size * 2 + (city == "Oslo") * 30 + rng.normal(0, 1, 400)
    rows = [f"h{i},{c},{s:.3f},{p:.3f}"
            for i, (c, s, p) in enumerate(zip(city, size, price, strict=True))]
    (folder / "houses.csv").write_text("id,city,size,price\n" + "\n".join(rows) + "\n")
    (folder / "sagemaker.yaml").write_text(SAGEMAKER)
    (folder / "local.yaml").write_text(COMMON)
    (folder / "new.csv").write_text(
        "size,city,id\n101.5,Oslo,n1\n87.25,Rome,n2\n120,Lima,n3\n95,,n4\n110,\"Pune\",n5\n")


def test_sagemaker_and_local_write_the_same_file(project: Path, make_store: Any,
                                                  monkeypatch: Any) -> None:
    make_store("s3")
    traffic = record_sagemaker(None, project / ".emulator", monkeypatch)
    write_project(project)
    on_sagemaker = ("-c", "sagemaker.yaml", "--model", "xgboost", "-i", "new.csv")
    locally = ("-c", "local.yaml", "--model", "xgboost", "-i", "new.csv")
    smlp("data", "prepare", "-c", "sagemaker.yaml", "--input", "houses.csv", "--target",
         "price", "--id-column", "id")
    smlp("train", "-c", "sagemaker.yaml", "--algo", "xgboost")  # the container's training

    remote = smlp("transform", *on_sagemaker, "-o", "sm")
    assert traffic.requests("CreateTransformJob")  # SageMaker predicted
    local = smlp("transform", *locally, "-o", "local")
    ours = (project / "sm" / "new.csv.out").read_text()
    assert ours == (project / "local" / "new.csv.out").read_text()
    assert [line.split(",")[0] for line in ours.splitlines()] == [
        "id", "n1", "n2", "n3", "n4", "n5"]
    for result in (remote, local):  # the unseen 'Rome' and the missing city, on both
        assert "column city: 2 rows" in result.output
        assert "'Rome' (1 row)" in result.output
    assert "rows/s" not in remote.stdout  # SageMaker's time includes its instances' start-up

    smlp("transform", *on_sagemaker, "-o", "sm-raw", "--raw")
    smlp("transform", *locally, "-o", "local-raw", "--raw")
    raw = (project / "sm-raw" / "new.csv.out").read_text()
    assert raw == (project / "local-raw" / "new.csv.out").read_text()
    assert raw.splitlines() == [line.split(",")[1] for line in ours.splitlines()[1:]]

    # Refused before anything is uploaded or any job is sent.
    jobs = len(traffic.requests("CreateTransformJob"))
    (project / "strict.yaml").write_text(SAGEMAKER + "transform: {unseen_categories: error}\n")
    result = smlp("transform", "-c", "strict.yaml", "--model", "xgboost", "-i", "new.csv",
                  "-o", "strict", ok=False)
    assert_one_line_error(result, "column city: categories the model was not trained on: "
                                  "'Rome' (1 row), missing (1 row)", 3)
    assert len(traffic.requests("CreateTransformJob")) == jobs


def test_a_classifier_on_sagemaker_writes_the_local_file(project: Path, make_store: Any,
                                                          monkeypatch: Any) -> None:
    """Raw input with a header through the scikit-learn container's serving stack: each
    record's row of class probabilities is one prediction, so labels and probabilities come
    back as the local backend writes them (before, only the first probability was kept)."""
    make_store("s3")
    record_sagemaker(None, project / ".emulator", monkeypatch)
    rng = np.random.default_rng(1)
    city = rng.choice(["Oslo", "Lima", "Pune"], 300)
    size = rng.normal(100, 20, 300)
    band = np.where(size > 110, "dear", np.where(size < 90, "cheap", "mid"))
    rows = [f"h{i},{c},{s:.3f},{b}" for i, (c, s, b) in enumerate(zip(city, size, band,
                                                                      strict=True))]
    (project / "houses.csv").write_text("id,city,size,band\n" + "\n".join(rows) + "\n")
    gbm = "  sklearn-gbm:\n    hyperparameters: {n_estimators: 20}\n"
    (project / "sagemaker.yaml").write_text(COMMON + gbm + SAGEMAKER[len(COMMON):])
    (project / "local.yaml").write_text(COMMON + gbm)
    (project / "new.csv").write_text(
        "size,city,id\n131.5,Oslo,n1\n70.25,Lima,n2\n100,Pune,n3\n")
    smlp("data", "prepare", "-c", "sagemaker.yaml", "--input", "houses.csv", "--target",
         "band", "--id-column", "id")
    smlp("train", "-c", "sagemaker.yaml", "--algo", "sklearn-gbm")

    for extra in ((), ("--probabilities",)):
        smlp("transform", "-c", "sagemaker.yaml", "--model", "sklearn-gbm", "-i", "new.csv",
             "-o", "sm", *extra)
        smlp("transform", "-c", "local.yaml", "--model", "sklearn-gbm", "-i", "new.csv",
             "-o", "local", *extra)
        ours = (project / "sm" / "new.csv.out").read_text()
        assert ours == (project / "local" / "new.csv.out").read_text()
        lines = ours.splitlines()
        assert len(lines) == 4 and [line.split(",")[0] for line in lines[1:]] == [
            "n1", "n2", "n3"]
        if extra:
            assert lines[0].split(",")[1:] == ["cheap", "dear", "mid"]
        else:
            assert [line.split(",")[1] for line in lines[1:]] == ["dear", "cheap", "mid"]
