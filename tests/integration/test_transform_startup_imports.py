"""What a 10-row ``smlp transform`` leaves unimported (issue 14's fixed cost; benchmarks/scale.py
measures the time): pyarrow (the rows are read and written in Python), filelock (the manifest
lock is a plain flock), tarfile (the model is cached already), and the train stage and class
relabelling a regression transform does not use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.test_transform_startup import _raw_rows, prepared  # noqa: F401

KEPT_OUT = ("pyarrow", "pandas", "filelock", "tarfile", "smlp.stages.train",
            "smlp.stages.transform_labels")
PROBE = """
import json, sys
from smlp.cli.main import app
app(sys.argv[2:], prog_name="smlp", standalone_mode=False)
kept_out = json.loads(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in kept_out or m in kept_out)))
"""


def _transform(project: Path, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(KEPT_OUT), "transform",
                           *args], cwd=project, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ten_row_transform_imports_no_pyarrow_filelock_or_tarfile(
        prepared: Path) -> None:  # noqa: F811
    # Missing cells, categories and an unseen one ("moon"): the schema's encoder at work.
    (prepared / "new.csv").write_text(_raw_rows(10, 1, with_target=False))
    _transform(prepared, "--input", "new.csv", "--output", "warm")  # model cache filled
    assert _transform(prepared, "--input", "new.csv", "--output", "out") == []
    lines = (prepared / "out" / "new.csv.out").read_text().splitlines()
    assert lines[0] == "id,prediction"
    assert [line.split(",")[0] for line in lines[1:]] == [str(i) for i in range(10)]
    assert (prepared / "out" / "new.csv.out").read_bytes() == \
        (prepared / "warm" / "new.csv.out").read_bytes()
