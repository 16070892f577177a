"""`smlp report` against `smlp compare` on the default run (20,640 rows, three candidates).

Both are timed as whole commands (process start, imports, reading the store), alternately so
that both see the same load on a shared machine; medians of ``--repeat`` runs.
Target: report < 3x compare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _common import SMLP, report, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed([SMLP, "run"], cwd=folder, repeat=1)  # data, models, comparison (and a report)
        compares, reports = [], []
        for _ in range(args.repeat):
            compares.append(timed([SMLP, "compare"], cwd=folder, repeat=1))
            reports.append(timed([SMLP, "report"], cwd=folder, repeat=1))
    ours, baseline = statistics.median(reports), statistics.median(compares)
    report("report vs compare", ours, baseline, "< 3.0", ours / baseline < 3.0)


if __name__ == "__main__":
    main()
