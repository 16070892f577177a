"""The console script pauses the cyclic collector while the CLI starts (tens of thousands of
long-lived objects made at once, ~4 % of a small transform) and resumes it, with those
objects frozen, when the command is invoked; in-process callers keep theirs untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import gc, json, sys
import smlp.cli.main as main
during = []
invoke = main.SmlpGroup.invoke
def spy(self, ctx):
    during.append(gc.isenabled())
    return invoke(self, ctx)
main.SmlpGroup.invoke = spy
before = (gc.isenabled(), gc.get_freeze_count())
how, sys.argv = sys.argv[1], ["smlp", *sys.argv[2:]]
if how == "entry":
    from smlp.cli.entry import run
else:
    def run():
        main.app(sys.argv[1:], prog_name="smlp", standalone_mode=False)
try:
    run()
except SystemExit:
    pass
print(json.dumps({"before": before, "during": during,
                  "after": [gc.isenabled(), gc.get_freeze_count()]}))
"""


def _probe(tmp_path: Path, how: str, *args: str) -> dict[str, list[object]]:
    done = subprocess.run([sys.executable, "-c", PROBE, how, *args], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_console_script_resumes_the_collector_with_start_up_frozen(tmp_path: Path) -> None:
    seen = _probe(tmp_path, "entry", "status", "--store", str(tmp_path / "store"))
    assert seen["before"] == [True, 0]
    assert seen["during"] == [False]  # paused through parsing; invoke turns it back on
    enabled, frozen = seen["after"]
    assert enabled and isinstance(frozen, int) and frozen > 10_000


def test_help_leaves_the_collector_on(tmp_path: Path) -> None:
    assert _probe(tmp_path, "entry", "--help")["after"][0] is True


def test_in_process_callers_keep_their_collector(tmp_path: Path) -> None:
    seen = _probe(tmp_path, "app", "status", "--store", str(tmp_path / "store"))
    assert seen["during"] == [True]
    assert seen["after"] == [True, 0]
