"""`smlp run --tune` against FLAML's AutoML at equal wall time, and the tuning machinery's costs.

Every number is measured in this run, on this machine (2 cores):

1. Quality at equal wall time, on the default synthetic data and on statsmodels' ``randhie``
   (20,190 rows of real health-insurance data shipped inside the package): ``smlp run --tune``
   with a time budget (XGBoost tuned, Bayesian, 2 trials at a time) is timed end to end; FLAML
   then gets that whole wall time as its ``time_budget`` on the same 2 cores (``n_jobs=2``).
   FLAML fits on smlp's train split and selects on its validation split (``X_val``), as smlp's
   trials do; both are scored on the same held-out test split. Also shown: FLAML free to use
   train + validation its own way (its CV/holdout, then a refit on both). Targets: test RMSE
   smlp/FLAML <= 1.00, and tuned clearly better than the seed defaults of the same run.
2. Parallelism: the same 16-trial grid with 1 and with 2 workers. Target: >= 1.6x faster.
3. Per-trial overhead on the default data, one worker: each trial's wall time as the parent
   sees it (from optuna's ask to the worker's result: job folder, training, log parsing,
   model.tar.gz) against a bare ``xgboost.train`` of the same hyperparameters on in-memory
   arrays, in a fresh single-threaded process, with the same per-round evaluation and early
   stopping. Target: overhead < 10% of the trial time. Also shown with the workers' start-up
   counted in.

Needs the dev extras plus ``statsmodels`` (the real data) and ``lightgbm`` (FLAML's default
learner list includes it). ``--budget`` sets smlp's tuning budget in seconds (default 60).
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

QUALITY_CONFIG = """\
tuning:
  max_jobs: 1000
  timeout_seconds: {budget}
  algorithms:
    knn: {{enabled: false}}
    sklearn-gbm: {{enabled: false}}
"""

FLAML = r"""
import json, sys, time
import numpy as np
from flaml import AutoML

folder, budget, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def load(split):
    data = np.loadtxt(f"{folder}/data/{split}/{split}.csv", delimiter=",", ndmin=2)
    return data[:, 1:], data[:, 0]
(x_train, y_train), (x_val, y_val), (x_test, y_test) = map(load, ("train", "validation", "test"))
automl = AutoML()
settings = dict(task="regression", metric="rmse", time_budget=budget, n_jobs=2, seed=1,
                verbose=0)
started = time.perf_counter()
if mode == "same-split":
    automl.fit(x_train, y_train, X_val=x_val, y_val=y_val, eval_method="holdout", **settings)
else:
    automl.fit(np.vstack([x_train, x_val]), np.concatenate([y_train, y_val]), **settings)
seconds = time.perf_counter() - started
rmse = float(np.sqrt(np.mean((automl.predict(x_test) - y_test) ** 2)))
print(json.dumps({"rmse": rmse, "seconds": seconds, "learner": automl.best_estimator}))
"""


def run_cli(args: list[str], cwd: Path) -> float:
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    started = time.perf_counter()
    subprocess.run([SMLP, *args], cwd=cwd, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def flaml(store: Path, budget: float, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", FLAML, str(store), str(budget), mode],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def quality(name: str, folder: Path, budget: float, run_args: list[str]) -> bool:
    (folder / "smlp.yaml").write_text(QUALITY_CONFIG.format(budget=budget))
    wall = run_cli(["run", "--tune", *run_args], folder)
    store = folder / "smlp-artifacts"
    comparison = json.loads((store / "compare" / "comparison.json").read_text())
    scores = {c["name"]: c["metrics"]["rmse"] for c in comparison["candidates"]}
    tuned = scores["xgboost-tuned"]
    seed = min(v for k, v in scores.items() if not k.endswith("-tuned"))
    trials = json.loads(next((store / "tuning").rglob("tuning.json")).read_text())["trials"]
    same = flaml(store, wall, "same-split")
    free = flaml(store, wall, "own-split")
    ratio = tuned / same["rmse"]
    ok = ratio <= 1.0 and tuned < seed
    print(f"{name}: smlp run --tune {wall:.1f} s wall ({len(trials)} trials), test RMSE "
          f"{tuned:.4f}; untuned seed best {seed:.4f} (tuned/untuned {tuned / seed:.3f})")
    print(f"  FLAML, same split, {wall:.0f} s budget: {same['rmse']:.4f} ({same['learner']}) "
          f"-> ratio smlp/FLAML {ratio:.3f} (target <= 1.00) {'OK' if ok else 'MISSED'}")
    print(f"  FLAML, own split of train+validation and refit: {free['rmse']:.4f} "
          f"({free['learner']}) -> ratio {tuned / free['rmse']:.3f} (for information)")
    return ok


def write_randhie(folder: Path) -> Path:
    import statsmodels.api as sm

    path = folder / "randhie.csv"
    sm.datasets.randhie.load_pandas().data.to_csv(path, index=False)
    return path


GRID = {"max_depth": [4, 6, 8, 10], "eta": [0.05, 0.1], "subsample": [0.7, 0.9]}


def tune_in_process(folder: Path, overrides: dict) -> tuple[float, list]:
    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.stages.tune import tune
    from smlp.store import open_store

    config = load_config(folder / "smlp.yaml", overrides)
    store = open_store(str(folder / "smlp-artifacts"))
    started = time.perf_counter()
    outcomes = tune(config, store, get_backend(config, store), ["xgboost"])
    return time.perf_counter() - started, outcomes[0].result.trials


def parallelism_and_overhead(folder: Path) -> tuple[bool, bool]:
    from smlp.config import Config

    os.chdir(folder)
    grid = {name: {"type": "categorical", "values": values} for name, values in GRID.items()}
    defaults = Config().tuning.for_algorithm("xgboost").ranges
    ranges = {**dict.fromkeys(defaults), **grid}  # the grid replaces every default range
    import yaml

    (folder / "smlp.yaml").write_text(yaml.safe_dump({"tuning": {
        "strategy": "Grid", "algorithms": {"xgboost": {
            "ranges": ranges, "static_hyperparameters": {"num_round": 300}}}}}))
    run_cli(["data", "generate"], folder)
    walls = {}
    trials = []
    for workers in (1, 2):
        walls[workers], trials = tune_in_process(
            folder, {"tuning.max_parallel_jobs": workers, "tuning.max_jobs": 16})
    speedup = walls[1] / walls[2]
    ok_speed = speedup >= 1.6
    print(f"parallelism: {len(trials)} trials in {walls[1]:.1f} s with 1 worker, "
          f"{walls[2]:.1f} s with 2 -> {speedup:.2f}x (target >= 1.6) "
          f"{'OK' if ok_speed else 'MISSED'}")

    # Overhead: a 1-worker run of the default search, each trial against a bare fit.
    (folder / "smlp.yaml").write_text("")
    wall, trials = tune_in_process(folder, {"tuning.max_parallel_jobs": 1,
                                            "tuning.max_jobs": 16})
    fit = bare_fits(folder / "smlp-artifacts", trials)
    total = sum(t.seconds for t in trials)
    overhead = 1 - sum(fit) / total
    ok_overhead = overhead < 0.10
    print(f"per-trial overhead: {len(trials)} trials, {total / len(trials):.2f} s per trial, "
          f"bare fit {sum(fit) / len(fit):.2f} s -> overhead {overhead:.1%} (target < 10%) "
          f"{'OK' if ok_overhead else 'MISSED'}; counting the workers' start-up too: "
          f"{1 - sum(fit) / wall:.1%} of the tuning job's {wall:.1f} s")
    return ok_speed, ok_overhead


BARE_FIT = r"""
import json, sys, time
import numpy as np
import xgboost as xgb

store, trials = sys.argv[1], json.load(open(sys.argv[2]))
def load(split):
    data = np.loadtxt(f"{store}/data/{split}/{split}.csv", delimiter=",")
    return data[:, 1:], data[:, 0]
(x_train, y_train), (x_val, y_val) = load("train"), load("validation")
seconds = []
for hp in trials:
    hp = dict(hp)
    rounds, stop = int(hp.pop("num_round")), int(hp.pop("early_stopping_rounds", 0)) or None
    params = {k: (v if k == "objective" else float(v)) for k, v in hp.items()}
    params["max_depth"] = int(params.get("max_depth", 6))
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        train, val = xgb.DMatrix(x_train, label=y_train), xgb.DMatrix(x_val, label=y_val)
        xgb.train(params, train, rounds, evals=[(train, "train"), (val, "validation")],
                  early_stopping_rounds=stop, verbose_eval=False)
        best = min(best, time.perf_counter() - started)
    seconds.append(best)
print(json.dumps(seconds))
"""


def bare_fits(store: Path, trials: list) -> list[float]:
    """Each trial's fit alone: ``xgboost.train`` on in-memory arrays, in a fresh process with
    one thread (as a worker runs), the faster of two runs."""
    listing = store.parent / "trials.json"
    listing.write_text(json.dumps([t.hyperparameters for t in trials]))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", BARE_FIT, str(store), str(listing)], env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("synthetic", "randhie", "machinery"):
            (root / name).mkdir()
        results.append(quality("synthetic (20,640 rows)", root / "synthetic", args.budget, []))
        data = write_randhie(root / "randhie")
        results.append(quality("randhie (statsmodels, 20,190 rows)", root / "randhie",
                               args.budget, ["--input", str(data), "--target", "mdvis"]))
        results.extend(parallelism_and_overhead(root / "machinery"))
    print("all targets met" if all(results) else "some targets missed")


if __name__ == "__main__":
    main()
