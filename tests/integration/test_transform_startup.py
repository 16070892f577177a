"""``smlp transform``'s fixed cost: no pandas or scikit-learn on the predict path, no thread
for an input that fits in one block (issue 14; benchmarks/scale.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.integration.cli_helpers import smlp

# Runs the real CLI in a fresh interpreter (the test process has pandas imported already) and
# reports what the transform imported and which threads it started.
PROBE = """
import json, sys, threading
started = []
_start = threading.Thread.start
def start(self):
    started.append(self.name)
    _start(self)
threading.Thread.start = start
from smlp.cli.main import app
app(sys.argv[1:], prog_name="smlp", standalone_mode=False)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"pandas", "sklearn"})
print(json.dumps({"heavy": heavy, "threads": started}))
"""


def _raw_rows(rows: int, seed: int, with_target: bool = True) -> str:
    rng = np.random.default_rng(seed)
    lines = ["id,x0,x1,city" + (",y" if with_target else "")]
    for i in range(rows):
        x0 = "" if i % 13 == 0 else f"{rng.normal():.4f}"
        city = ["north", "south", "east", "", "moon"][i % (5 if not with_target else 4)]
        line = f"{i},{x0},{rng.normal():.4f},{city}"
        if with_target:
            line += f",{rng.normal() + (city == 'north'):.4f}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture
def prepared(project: Path) -> Path:
    (project / "raw.csv").write_text(_raw_rows(400, 0))
    smlp("data", "prepare", "--input", "raw.csv", "--target", "y", "--id-column", "id")
    smlp("train", "--algo", "xgboost", "--hp", "num_round=5")
    smlp("compare")
    return project


def _transform(project: Path, *args: str) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, "transform", *args], cwd=project,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", ["raw input", "test split"])
def test_transform_predicts_without_pandas_sklearn_or_a_reader_thread(prepared: Path,
                                                                       case: str) -> None:
    if case == "raw input":  # the schema encodes: missing cells, categories, an unseen one
        (prepared / "new.csv").write_text(_raw_rows(10, 1, with_target=False))
        seen = _transform(prepared, "--input", "new.csv", "--output", "out")
        lines = (prepared / "out" / "new.csv.out").read_text().splitlines()
        assert lines[0] == "id,prediction"
        assert len(lines) == 11
        assert all(float(line.split(",")[1]) == float(line.split(",")[1]) for line in lines[1:])
    else:  # headerless, label first: the reader's own float path and the join/filters
        seen = _transform(prepared, "--output", "out")
        assert len((prepared / "out").glob("*.out").__next__().read_text().splitlines()) > 10
    assert seen["heavy"] == []
    assert "smlp-batch-reader" not in seen["threads"]
