"""Scale: ``smlp data prepare`` time and peak memory, and ``smlp transform``'s fixed cost.

Targets (issue 14), each against a floor measured in the same run:

- prepare at 1 M and 3 M rows (8 numeric + 2 categorical columns, some cells missing): time
  within 2x of pyarrow reading and writing the same CSV, peak RSS under 1 GiB;
- ``smlp transform`` of a 10-row file: wall time within 2x of ``python -c "import xgboost"``
  with scikit-learn kept out (the least a Python process that predicts with XGBoost costs).

Every command runs in a child process; its peak RSS is read from ``/usr/bin/time -f %M`` when
present, else from ``getrusage(RUSAGE_CHILDREN)`` (one child per measuring process, so the
maximum is that child's). Timings are the best of ``--repeat`` runs: the machine is shared
(and the first transform writes the bytecode cache). Set ``PYTHONPATH`` to another checkout to
measure it with the same script (how the "before" numbers were taken).

Prepare runs alternate with their floor's (a busy neighbour slows both alike); each run's time
is printed, the ratio of each run to the floor run just before it (on a busy machine the two
fastest runs may not be neighbours; the median pair is the steadier figure), the fastest runs'
CPU time (user + system, all threads) and the load average:
on a machine whose cores are all busy the time ratio tends to the CPU ratio, as neither
process gets more than its share of the cores. Prepare also prints the shards each split was
written as (``--shard-mb`` sets ``data.shard_mb``).

    python benchmarks/scale.py [--rows 1000000,3000000] [--repeat 2] [--skip-prepare]
                               [--shard-mb 64]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
SMLP = str(BIN / "smlp")
CHUNK_ROWS = 250_000
MIB = 1 << 20
TIME = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
FLOOR_CODE = ("import sys; sys.modules['sklearn'] = None; import xgboost")


@dataclass
class Measured:
    seconds: float
    peak_mib: float
    cpu_seconds: float = 0.0  # user + system, every thread (with /usr/bin/time only)


def write_raw(path: Path, rows: int, seed: int = 0) -> None:
    """A deterministic raw table with a header: id, 8 numbers, 2 categories, target."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=8)
    cities = np.array(["north", "south", "east", "west", "centre"], dtype=object)
    kinds = np.array([f"k{i:02d}" for i in range(20)], dtype=object)
    names = ["id", *[f"x{i}" for i in range(8)], "city", "kind", "y"]
    schema = pa.schema([("id", pa.int64()), *[(f"x{i}", pa.float64()) for i in range(8)],
                        ("city", pa.string()), ("kind", pa.string()), ("y", pa.float64())])
    with pcsv.CSVWriter(path, schema) as writer:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            x = rng.normal(size=(n, 8)).round(4)
            city = rng.integers(0, len(cities), n)
            kind = rng.integers(0, len(kinds), n)
            y = x @ weights + city * 0.5 - kind * 0.05 + rng.normal(scale=0.3, size=n)
            columns = [pa.array(np.arange(start, start + n))]
            for i in range(8):
                missing = rng.random(n) < 0.02
                columns.append(pa.array(x[:, i], mask=missing))
            columns.append(pa.array(cities[city], pa.string(), mask=rng.random(n) < 0.02))
            columns.append(pa.array(kinds[kind], pa.string(), mask=rng.random(n) < 0.01))
            columns.append(pa.array(y.round(4)))
            writer.write_table(pa.Table.from_arrays(columns, names=names))


def child_env() -> dict[str, str]:
    """Bytecode cached as an installed package has it (in a prefix of our own): with
    ``PYTHONDONTWRITEBYTECODE`` every run would compile smlp's sources again, a cost no
    installed copy pays and the floor (site-packages, cached) does not pay either."""
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "smlp-scale-pycache")
    return env


def run_child(command: list[str], cwd: Path | None = None) -> Measured:
    """Wall time and peak RSS of one child process (and its own children)."""
    env = child_env()
    if TIME:
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
            started = time.perf_counter()
            subprocess.run([TIME, "-f", "%U %S %M", "-o", rss.name, *command], cwd=cwd,
                           env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - started
            user, system, kib = rss.read().split()[-3:]
            return Measured(seconds, int(kib) / 1024, float(user) + float(system))
    # Without /usr/bin/time: a fresh measuring interpreter per command, so RUSAGE_CHILDREN's
    # maximum is this one command's.
    probe = ("import json,resource,subprocess,sys,time\n"
             "t=time.perf_counter()\n"
             "subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL,"
             "stderr=subprocess.DEVNULL)\n"
             "s=time.perf_counter()-t\n"
             "print(json.dumps([s,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))")
    done = subprocess.run([sys.executable, "-c", probe, *command], cwd=cwd, env=env,
                          check=True, capture_output=True, text=True)
    seconds, kib = json.loads(done.stdout)
    return Measured(seconds, kib / 1024)


def best(command: list[str], repeat: int, cwd: Path | None = None,
         before: list[str] | None = None) -> Measured:
    """Best time and the largest peak RSS over ``repeat`` runs."""
    runs = []
    for _ in range(repeat):
        if before:
            subprocess.run(before, check=True, cwd=cwd, capture_output=True, env=child_env())
        runs.append(run_child(command, cwd))
    return Measured(min(r.seconds for r in runs), max(r.peak_mib for r in runs))


def fastest(runs: list[Measured]) -> Measured:
    """The fastest run's time and CPU, with the largest peak RSS of all runs."""
    quick = min(runs, key=lambda r: r.seconds)
    return Measured(quick.seconds, max(r.peak_mib for r in runs), quick.cpu_seconds)


ARROW_FLOOR = """
import sys
import pyarrow.csv as pcsv
table = pcsv.read_csv(sys.argv[1])
pcsv.write_csv(table, sys.argv[2])
"""


def shards_written(store: Path) -> str:
    """``train 2 x 61 MiB, ...``: each split's shards in the prepared store's manifest."""
    manifest = json.loads((store / "manifest.json").read_text())
    parts = []
    for name, split in manifest["data"]["splits"].items():
        shards = split.get("shards") or [split]  # a checkout from before shards: one file
        parts.append(f"{name} {len(shards)} x {max(s['size'] for s in shards) / MIB:.0f} MiB")
    return ", ".join(parts)


def bench_prepare(workdir: Path, rows: int, repeat: int,
                  shard_mb: float | None = None) -> tuple[Measured, Measured]:
    raw = workdir / f"raw-{rows}.csv"
    write_raw(raw, rows)
    size = raw.stat().st_size / MIB
    project = workdir / f"project-{rows}"
    project.mkdir(exist_ok=True)
    if shard_mb is not None:
        (project / "smlp.yaml").write_text(f"data: {{shard_mb: {shard_mb}}}\n")
    floor_command = [sys.executable, "-c", ARROW_FLOOR, str(raw), str(workdir / "copy.csv")]
    command = [SMLP, "data", "prepare", "--input", str(raw), "--target", "y", "--id-column",
               "id", "--store", str(project / "store")]
    floors, runs = [], []
    load = os.getloadavg()[0]
    for _ in range(repeat):  # interleaved: the shared machine's load hits both alike
        floors.append(run_child(floor_command))
        shutil.rmtree(project / "store", ignore_errors=True)
        runs.append(run_child(command, project))
    floor, ours = fastest(floors), fastest(runs)
    print(f"prepare {rows:,} rows ({size:.0f} MiB CSV): smlp {ours.seconds:.2f} s, "
          f"{ours.peak_mib:.0f} MiB peak; pyarrow read+write {floor.seconds:.2f} s, "
          f"{floor.peak_mib:.0f} MiB peak; time ratio {ours.seconds / floor.seconds:.2f} "
          f"(target <= 2) {'OK' if ours.seconds <= 2 * floor.seconds else 'MISSED'}; "
          f"peak {ours.peak_mib:.0f} MiB (target < 1024) "
          f"{'OK' if ours.peak_mib < 1024 else 'MISSED'}")
    pairs = sorted(r.seconds / f.seconds for r, f in zip(runs, floors, strict=True))
    print(f"  each run (s): smlp {', '.join(f'{r.seconds:.2f}' for r in runs)}; pyarrow "
          f"{', '.join(f'{r.seconds:.2f}' for r in floors)}; ratio of each run to the floor "
          f"run just before it: median {statistics.median(pairs):.2f} (of "
          f"{', '.join(f'{x:.2f}' for x in pairs)}); CPU (user+sys, fastest runs): smlp "
          f"{ours.cpu_seconds:.2f} s, pyarrow {floor.cpu_seconds:.2f} s; load average "
          f"{load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  shards (data.shard_mb {shard_mb or 64}, largest shown): "
          + shards_written(project / "store"))
    shutil.rmtree(project, ignore_errors=True)
    raw.unlink()
    return ours, floor


def bench_transform(workdir: Path, repeat: int) -> tuple[Measured, Measured]:
    project = workdir / "transform-project"
    project.mkdir(exist_ok=True)
    store = ["--store", str(project / "store")]
    env = child_env()
    for command in (["data", "generate", "--rows", "2000"],
                    ["train", "--algo", "xgboost", "--hp", "num_round=50"],
                    ["compare"]):
        subprocess.run([SMLP, *command, *store], cwd=project, check=True, env=env,
                       capture_output=True)
    rows = project / "rows.csv"
    header = "MedInc,HouseAge,AveRooms,AveBedrms,Population,AveOccup,Latitude,Longitude"
    rows.write_text(header + "\n" + "".join(
        f"{3 + i / 10},{20 + i},5.1,1.0,{1000 + i},2.5,{34 + i / 10},-118.2\n"
        for i in range(10)))
    out = project / "out"
    command = [SMLP, "transform", "--input", str(rows), "--output", str(out), *store]
    run_child(command, project)  # writes the bytecode cache
    floors, runs = [], []
    for _ in range(repeat + 2):  # interleaved: the shared machine's load hits both alike
        floors.append(run_child([sys.executable, "-c", FLOOR_CODE]))
        runs.append(run_child(command, project))
    floor = Measured(min(r.seconds for r in floors), max(r.peak_mib for r in floors))
    ours = Measured(min(r.seconds for r in runs), max(r.peak_mib for r in runs))
    ratio = ours.seconds / floor.seconds
    print(f"transform 10 rows: smlp {ours.seconds:.3f} s, {ours.peak_mib:.0f} MiB peak; "
          f"floor (python -c 'import xgboost', no sklearn) {floor.seconds:.3f} s; "
          f"ratio {ratio:.2f} (target <= 2) {'OK' if ratio <= 2 else 'MISSED'}")
    return ours, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,3000000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-prepare", action="store_true")
    parser.add_argument("--shard-mb", type=float, help="data.shard_mb for prepare (default 64)")
    parser.add_argument("--skip-transform", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="smlp-scale-") as tmp:
        workdir = Path(tmp)
        if not args.skip_transform:
            ours, floor = bench_transform(workdir, args.repeat)
            results["transform_10_rows"] = {"seconds": ours.seconds, "floor": floor.seconds,
                                            "ratio": ours.seconds / floor.seconds}
        if not args.skip_prepare:
            for rows in (int(r) for r in args.rows.split(",")):
                ours, floor = bench_prepare(workdir, rows, args.repeat, args.shard_mb)
                results[f"prepare_{rows}"] = {
                    "seconds": ours.seconds, "peak_mib": ours.peak_mib,
                    "floor_seconds": floor.seconds, "floor_peak_mib": floor.peak_mib,
                    "ratio": ours.seconds / floor.seconds}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
