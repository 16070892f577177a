"""smlp transform on classification data: labels back in their original values by default,
class probabilities under a header of class names on request, refused where there are none."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv

from smlp.data.synthetic import generate_for
from tests.integration.cli_helpers import assert_one_line_error, smlp

YAML = """\
data:
  rows: 1500
algorithms:
  xgboost:
    hyperparameters: {num_round: 20}
"""


def test_binary_transform_labels_probabilities_and_refusals(project: Path) -> None:
    (project / "smlp.yaml").write_text(YAML)
    smlp("data", "generate", "--problem-type", "binary")
    smlp("train", "--algo", "xgboost", "--algo", "knn")

    smlp("transform", "--model", "xgboost", "--output", "labels")
    lines = (project / "labels" / "part-00000.csv.out").read_text().splitlines()
    assert len(lines) == 225
    assert {field for line in lines for field in line.split(",")} == {"no", "yes"}

    smlp("transform", "--model", "xgboost", "--output", "probs", "--probabilities")
    header, *rows = (project / "probs" / "part-00000.csv.out").read_text().splitlines()
    assert header == "Expensive,no,yes"
    for line, labelled in zip(rows, lines, strict=True):
        truth, p_no, p_yes = line.split(",")
        assert abs(float(p_no) + float(p_yes) - 1) < 1e-6
        assert truth == labelled.split(",")[0]
        assert labelled.split(",")[1] == ("yes" if float(p_yes) > 0.5 else "no")

    raw = project / "new.csv"
    pacsv.write_csv(generate_for("binary", 20, 5).drop_columns(["Expensive"]), raw)
    smlp("transform", "--model", "knn", "--input", str(raw), "--output", "named")
    header, *predicted = (project / "named" / "new.csv.out").read_text().splitlines()
    assert header == "prediction" and len(predicted) == 20
    assert set(predicted) <= {"no", "yes"}

    bad = smlp("transform", "--model", "knn", "--probabilities", ok=False)
    assert_one_line_error(bad, "--probabilities: the knn model gives predicted labels only",
                          code=2)


def test_probabilities_of_a_regression_model_are_refused(project: Path) -> None:
    (project / "smlp.yaml").write_text(YAML)
    smlp("data", "generate")
    smlp("train", "--algo", "xgboost")
    bad = smlp("transform", "--model", "xgboost", "--probabilities", ok=False)
    assert_one_line_error(bad, "--probabilities: the data is regression; there are no classes",
                          code=2)
