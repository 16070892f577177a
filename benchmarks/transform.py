"""How fast local Batch Transform is against the model alone, and how much memory it needs.

Acceptance targets (see smlp/batch): ``run_batch`` reaches at least half the rows/s of
``Booster.inplace_predict`` on the same rows already in memory, with peak RSS under 1 GiB
that does not grow with the input size. Each transform runs in a child process so its peak
RSS is its own; timings are the best of ``--repeat`` runs because the machine is shared.

    python benchmarks/transform.py [--rows 1000000] [--scale-rows 3000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

N_FEATURES = 8
TRAIN_ROWS = 20_000
TREES = 200
DEPTH = 6
CHUNK_ROWS = 250_000
MIB = 1 << 20

CASES: dict[str, dict[str, Any]] = {
    "plain": {"file": "features.csv", "options": {}},
    "filtered": {
        "file": "labelled.csv",
        "options": {"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"},
    },
}
TITLES = {
    "plain": "(b) no filters",
    "filtered": "(c) input_filter $[1:], join_source Input, output_filter $[0,-1]",
}


@dataclass
class Run:
    """One transform measured in a child process."""

    rows: int
    seconds: float
    peak_rss_mib: float
    base_rss_mib: float  # after imports and model load, before run_batch

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def _weights() -> Any:
    import numpy as np

    return np.random.default_rng(42).normal(size=N_FEATURES).astype(np.float32)


def write_data(folder: Path, rows: int, seed: int = 0) -> None:
    """Write ``features.csv`` (8 floats) and ``labelled.csv`` (label first), no header."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    weights = _weights()
    options = pcsv.WriteOptions(include_header=False)
    names = [f"x{i}" for i in range(N_FEATURES)]
    features_schema = pa.schema([(n, pa.float32()) for n in names])
    labelled_schema = pa.schema([("y", pa.float32()), *features_schema])
    with (
        pcsv.CSVWriter(folder / "features.csv", features_schema, write_options=options) as plain,
        pcsv.CSVWriter(folder / "labelled.csv", labelled_schema, write_options=options) as joined,
    ):
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
            y = (x @ weights + rng.normal(scale=0.1, size=n)).astype(np.float32)
            columns = [pa.array(x[:, i]) for i in range(N_FEATURES)]
            plain.write_table(pa.Table.from_arrays(columns, schema=features_schema))
            joined.write_table(
                pa.Table.from_arrays([pa.array(y), *columns], schema=labelled_schema)
            )


def train_model(path: Path) -> None:
    """A 200-tree, depth-6 regression model on 20k rows like the benchmark's."""
    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(1)
    x = rng.normal(size=(TRAIN_ROWS, N_FEATURES)).astype(np.float32)
    y = x @ _weights() + rng.normal(scale=0.1, size=TRAIN_ROWS)
    params = {"max_depth": DEPTH, "eta": 0.1, "objective": "reg:squarederror"}
    xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=TREES).save_model(path)


def load_features(path: Path) -> Any:
    """The benchmark's rows as the float32 C-contiguous matrix ``inplace_predict`` gets."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = [f"x{i}" for i in range(N_FEATURES)]
    table = pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(column_names=names),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float32())),
    )
    return np.ascontiguousarray(np.column_stack([c.to_numpy() for c in table.columns]))


def in_memory_seconds(model: Path, features: Any) -> float:
    """One timed ``inplace_predict`` over all rows (after a small warm-up)."""
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(model))
    booster.inplace_predict(features[:1000])
    started = time.perf_counter()
    booster.inplace_predict(features)
    return time.perf_counter() - started


def transform_in_child(model: Path, source: Path, output: Path, case: str) -> Run:
    """Run one transform in a fresh interpreter and read back its timing and peak RSS."""
    spec = json.dumps({"model": str(model), "input": str(source), "output": str(output)})
    done = subprocess.run(
        [sys.executable, __file__, "--child", case, spec],
        check=True,
        capture_output=True,
        text=True,
    )
    return Run(**json.loads(done.stdout.strip().splitlines()[-1]))


def _child(case: str, spec_json: str) -> None:
    """Child side of ``transform_in_child``: prints one JSON line."""
    import xgboost as xgb

    from smlp.batch import BatchOptions, run_batch

    spec = json.loads(spec_json)
    booster = xgb.Booster(model_file=spec["model"])
    base = _peak_rss_mib()
    result = run_batch(
        Path(spec["input"]),
        Path(spec["output"]),
        booster.inplace_predict,
        N_FEATURES,
        BatchOptions(**CASES[case]["options"]),
    )
    run = {"rows": result.rows, "seconds": result.seconds, "base_rss_mib": base}
    print(json.dumps({**run, "peak_rss_mib": _peak_rss_mib()}))


def _peak_rss_mib() -> float:
    """This process's own peak RSS.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the parent
    through fork/exec, so a child would report the benchmark parent's peak, not its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(workdir: Path, rows: int, repeat: int) -> tuple[float, dict[str, Run]]:
    """Best in-memory rows/s and best transform run per case, measured interleaved."""
    data = workdir / f"rows-{rows}"
    data.mkdir(exist_ok=True)
    write_data(data, rows)
    model = workdir / "model.ubj"
    if not model.exists():
        train_model(model)
    features = load_features(data / "features.csv")
    best_memory = float("inf")
    best: dict[str, Run] = {}
    for _ in range(repeat):
        best_memory = min(best_memory, in_memory_seconds(model, features))
        for case, spec in CASES.items():
            run = transform_in_child(model, data / spec["file"], workdir / "out" / case, case)
            if case not in best or run.seconds < best[case].seconds:
                best[case] = run
    return rows / best_memory, best


def peak_rss_at(workdir: Path, rows: int) -> Run:
    """One plain transform of ``rows`` rows, for the memory-vs-size check."""
    data = workdir / f"rows-{rows}"
    data.mkdir(exist_ok=True)
    write_data(data, rows)
    model = workdir / "model.ubj"
    run = transform_in_child(model, data / "features.csv", workdir / "out" / "scale", "plain")
    for path in data.iterdir():
        path.unlink()
    return run


CLI_CHILD = """
import atexit, sys
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("PEAK_RSS_KB", line.split()[1], file=sys.stderr)
atexit.register(_peak)
sys.argv = ["smlp", *sys.argv[1:]]
from smlp.cli.main import run
run()
"""


def cli_transform(workdir: Path, rows: int, repeat: int) -> tuple[float, Run, float]:
    """`smlp transform` end to end (a fresh process, as a user runs it) on a real candidate.

    Returns the in-memory rows/s of the same model on the same rows, the best CLI run (its
    seconds are the whole command's wall time), and the job's own rows/s as smlp reports it.
    """
    import re
    import tarfile

    project = workdir / "project"
    project.mkdir(exist_ok=True)
    smlp = [sys.executable, "-c", CLI_CHILD]
    quiet = {"cwd": project, "check": True, "capture_output": True, "text": True}
    subprocess.run([*smlp, "data", "generate", "--rows", str(TRAIN_ROWS)], **quiet)
    subprocess.run([*smlp, "train", "--algo", "xgboost", "--hp", f"num_round={TREES}",
                    "--hp", f"max_depth={DEPTH}"], **quiet)
    manifest = json.loads((project / "smlp-artifacts" / "manifest.json").read_text())
    model_uri = Path(manifest["candidates"]["xgboost"]["model"]["uri"])
    if not model_uri.is_absolute():  # manifests keep store-relative keys
        model_uri = project / "smlp-artifacts" / model_uri
    with tarfile.open(model_uri) as archive:
        archive.extract("xgboost-model", workdir / "cli-model", filter="data")
    data = workdir / f"rows-{rows}" / "features.csv"
    memory_rate = rows / min(in_memory_seconds(workdir / "cli-model" / "xgboost-model",
                                               load_features(data)) for _ in range(2))
    best: Run | None = None
    job_rate = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([*smlp, "transform", "--input", str(data), "--output",
                               str(workdir / "out" / "cli"), "--model", "xgboost"], **quiet)
        seconds = time.perf_counter() - started
        peak = float(re.search(r"PEAK_RSS_KB (\d+)", done.stderr).group(1)) / 1024
        reported = re.search(r"\(([\d,]+) rows/s", done.stdout)
        if best is None or seconds < best.seconds:
            best = Run(rows=rows, seconds=seconds, peak_rss_mib=peak, base_rss_mib=0.0)
            job_rate = float(reported.group(1).replace(",", "")) if reported else 0.0
    assert best is not None
    return memory_rate, best, job_rate


def report(memory_rate: float, runs: dict[str, Run]) -> list[str]:
    lines = [f"in-memory inplace_predict: {memory_rate:,.0f} rows/s"]
    for case, run in runs.items():
        lines += [
            f"{TITLES[case]}: {run.rate:,.0f} rows/s ({run.rows:,} rows in {run.seconds:.2f} s)",
            f"  transform/in-memory = {run.rate / memory_rate:.2f} (target >= 0.5)",
            f"  peak RSS = {run.peak_rss_mib:.0f} MiB (target < 1024; "
            f"{run.base_rss_mib:.0f} MiB after imports and model load)",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scale-rows", type=int, default=3_000_000, help="0 skips the check")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="smlp-bench-transform-") as tmp:
        workdir = Path(tmp)
        load_before = os.getloadavg()[0]
        memory_rate, runs = measure(workdir, args.rows, args.repeat)
        load_after = os.getloadavg()[0]
        print(
            f"transform benchmark: {args.rows:,} rows x {N_FEATURES} float features, "
            f"xgboost {TREES} trees depth {DEPTH}; best of {args.repeat}"
        )
        for line in report(memory_rate, runs):
            print(line)
        print(
            f"load average {load_before:.1f} before, {load_after:.1f} after on {os.cpu_count()} "
            "cores: other work on the machine lowers both rates, and the ratio"
        )
        cli_memory, cli_run, job_rate = cli_transform(workdir, args.rows, min(args.repeat, 3))
        print(
            f"(d) `smlp transform` end to end: {cli_run.rate:,.0f} rows/s over the whole "
            f"command ({cli_run.seconds:.2f} s incl. start-up and model load; the job itself "
            f"reports {job_rate:,.0f} rows/s); in-memory with the same model "
            f"{cli_memory:,.0f} rows/s"
        )
        print(f"  smlp transform/in-memory = {cli_run.rate / cli_memory:.2f} whole command, "
              f"{job_rate / cli_memory:.2f} job (target >= 0.5); peak RSS = "
              f"{cli_run.peak_rss_mib:.0f} MiB (target < 1024)")
        if args.scale_rows:
            big = peak_rss_at(workdir, args.scale_rows)
            small = runs["plain"]
            print(
                f"RSS vs size (no filters): {small.rows:,} rows -> {small.peak_rss_mib:.0f} MiB, "
                f"{big.rows:,} rows -> {big.peak_rss_mib:.0f} MiB "
                f"(x{big.peak_rss_mib / small.peak_rss_mib:.2f})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
