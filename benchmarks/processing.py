"""Processing prepare: processing_scripts/prepare.py run locally under the Processing contract.

The input of ``benchmarks/scale.py`` (8 numeric + 2 categorical columns, some cells missing)
cut into ``--objects`` CSV objects; the fit step on one host, then the apply step on each of
``--hosts`` hosts given whole objects (ShardedByS3Key), one host after the other here (on
SageMaker they run side by side: the job's time is its slowest host's). Each step runs in a
child process under ``/usr/bin/time`` for its peak RSS. The floor is pyarrow reading and
writing the same CSV, as in scale.py.

    python benchmarks/processing.py [--rows 1000000] [--objects 4] [--hosts 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import ARROW_FLOOR, MIB, Measured, run_child, write_raw  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "processing_scripts" / "prepare.py"


def cut(raw: Path, folder: Path, objects: int) -> list[Path]:
    """``objects`` CSV files of about equal rows, each with the header."""
    lines = raw.read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    step = -(-len(body) // objects)
    paths = []
    for number in range(objects):
        path = folder / f"part-{number:03d}.csv"
        path.write_text(header + "".join(body[number * step:(number + 1) * step]))
        paths.append(path)
    return paths


def host_base(root: Path, name: str, host: str, hosts: int) -> Path:
    base = root / name / host / "opt" / "ml"
    (base / "config").mkdir(parents=True)
    (base / "config" / "resourceconfig.json").write_text(json.dumps(
        {"current_host": host, "hosts": [f"algo-{i + 1}" for i in range(hosts)]}))
    return base


def link_into(paths: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        (folder / path.name).hardlink_to(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=4)
    parser.add_argument("--hosts", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smlp-processing-") as tmp:
        root = Path(tmp)
        raw = root / "raw.csv"
        write_raw(raw, args.rows)
        size = raw.stat().st_size / MIB
        (root / "objects").mkdir()
        objects = cut(raw, root / "objects", args.objects)
        floor = run_child([sys.executable, "-c", ARROW_FLOOR, str(raw), str(root / "copy.csv")])
        fit_base = host_base(root, "fit", "algo-1", 1)
        link_into(objects, fit_base / "processing" / "input" / "data")
        fit = run_child([sys.executable, str(SCRIPT), "fit", "--target", "y", "--id-column",
                         "id", "--base-dir", str(fit_base)])
        applied: list[Measured] = []
        for number in range(args.hosts):
            host = f"algo-{number + 1}"
            base = host_base(root, "apply", host, args.hosts)
            link_into(objects[number::args.hosts], base / "processing" / "input" / "data")
            shutil.copytree(fit_base / "processing" / "output" / "schema",
                            base / "processing" / "input" / "schema")
            applied.append(run_child([sys.executable, str(SCRIPT), "apply", "--base-dir",
                                      str(base)]))
        slowest = max(m.seconds for m in applied)
        print(f"processing prepare {args.rows:,} rows ({size:.0f} MiB CSV, {args.objects} "
              f"objects): fit {fit.seconds:.2f} s, {fit.peak_mib:.0f} MiB peak; apply on "
              f"{args.hosts} hosts {', '.join(f'{m.seconds:.2f} s' for m in applied)} "
              f"(slowest {slowest:.2f} s, peak {max(m.peak_mib for m in applied):.0f} MiB); "
              f"fit + slowest apply {fit.seconds + slowest:.2f} s; pyarrow read+write "
              f"{floor.seconds:.2f} s (ratio {(fit.seconds + slowest) / floor.seconds:.2f})")


if __name__ == "__main__":
    main()
