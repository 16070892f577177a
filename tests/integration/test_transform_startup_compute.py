"""A few rows' ``smlp transform`` does not import ``pyarrow.compute`` (~75 ms of its start-up,
issue 14): the lines are written and the schema encodes without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.test_transform_startup import _raw_rows, prepared  # noqa: F401

PROBE = """
import json, sys
from smlp.cli.main import app
app(sys.argv[1:], prog_name="smlp", standalone_mode=False)
print(json.dumps({"compute": "pyarrow.compute" in sys.modules}))
"""


def test_ten_row_transform_does_not_import_pyarrow_compute(prepared: Path) -> None:  # noqa: F811
    # Missing cells, categories and an unseen one ("moon"): the schema's encoder at work.
    (prepared / "new.csv").write_text(_raw_rows(10, 1, with_target=False))
    done = subprocess.run([sys.executable, "-c", PROBE, "transform", "--input", "new.csv",
                           "--output", "out"], cwd=prepared, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"compute": False}
    lines = (prepared / "out" / "new.csv.out").read_text().splitlines()
    assert lines[0] == "id,prediction"
    assert [line.split(",")[0] for line in lines[1:]] == [str(i) for i in range(10)]
