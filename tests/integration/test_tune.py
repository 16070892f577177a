"""``smlp tune`` and ``smlp run --tune`` through the real local backend on small data."""

from __future__ import annotations

import json
import os
import re
import signal
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smlp.events import Event
from tests.integration.cli_helpers import (
    SMALL_YAML,
    assert_one_line_error,
    manifest,
    smlp,
)

FAST = SMALL_YAML + """\
tuning:
  max_jobs: 4
  algorithms:
    xgboost:
      ranges:
        num_round: {type: integer, min_value: 10, max_value: 40}
"""


@pytest.fixture
def prepared(project: Path) -> Path:
    (project / "smlp.yaml").write_text(FAST)
    smlp("data", "generate")
    return project


def configure(project: Path, extra: str) -> None:
    """FAST with ``extra`` (lines under ``tuning:``) merged in, as a config file would hold."""
    import yaml

    def merge(base: Any, more: Any) -> Any:
        if isinstance(base, dict) and isinstance(more, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in more.items()}}
        return more

    tuning = yaml.safe_load("tuning:\n" + extra)["tuning"] or {}
    merged = merge(yaml.safe_load(FAST), {"tuning": tuning})
    (project / "smlp.yaml").write_text(yaml.safe_dump(merged))


def library(project: Path, overrides: dict[str, Any] | None = None) -> tuple[Any, Any, Any]:
    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.store import open_store

    config = load_config(project / "smlp.yaml", overrides or {})
    store = open_store(config.store)
    return config, store, get_backend(config, store)


def tuning_jobs(project: Path) -> list[Path]:
    jobs = project / ".smlp" / "jobs"
    return [p for p in jobs.iterdir() if (p / "study.journal").exists()] if jobs.exists() else []


def test_tune_registers_the_best_trial_as_a_candidate(prepared: Path) -> None:
    result = smlp("tune", "--algo", "xgboost")
    assert "xgboost-tuned:" in result.output and "Trials — xgboost" in result.output
    state = manifest(prepared)
    (name, record), = state["tuning"].items()
    assert record["status"] == "Completed" and record["algo"] == "xgboost"
    assert len(record["trials"]) == 4 and record["objective_metric"] == "validation:rmse"
    candidate = state["candidates"]["xgboost-tuned"]
    assert candidate["source"] == "tune" and candidate["job_name"] == record["best"]
    assert candidate["container_version"] == "3.2-0"
    best = next(t for t in record["trials"] if t["name"] == record["best"])
    assert best["objective"] == min(t["objective"] for t in record["trials"])
    assert candidate["training_metrics"]["validation:rmse"] == best["objective"]
    assert candidate["hyperparameters"]["early_stopping_rounds"] == "30"  # static, as a string
    # Each trial is a training job under the same contract as `smlp train`.
    trial_dir = prepared / ".smlp" / "jobs" / best["name"]
    config_dir = trial_dir / "input" / "config"
    assert json.loads((config_dir / "hyperparameters.json").read_text()) == {
        **best["hyperparameters"], "_tuning_objective_metric": "validation:rmse"}
    assert set(json.loads((config_dir / "inputdataconfig.json").read_text())) == {
        "train", "validation"}
    assert "#011validation-rmse:" in (trial_dir / "logs.txt").read_text()
    key = f"training/{best['name']}/output/model.tar.gz"  # absolute or store-relative URI
    assert candidate["model"]["uri"] in (key, str(prepared / "smlp-artifacts" / key))
    with tarfile.open(prepared / "smlp-artifacts" / key) as archive:
        assert archive.getnames() == ["xgboost-model"]
    # The leaderboard, in the store and in the manifest; the test split was never an input.
    board = json.loads((prepared / "smlp-artifacts" / "tuning" / name / "tuning.json")
                       .read_text())
    assert [t["rank"] for t in board["trials"]] == [1, 2, 3, 4]
    assert board["trials"][0]["name"] == board["best"] == record["best"]
    assert set(board["trials"][0]["hyperparameters"]) == set(board["ranges"])
    assert record["leaderboard"]["uri"].endswith(f"tuning/{name}/tuning.json")
    stage = state["stages"]["tune"]
    assert stage["status"] == "completed" and set(stage["inputs"]) == {"train", "validation"}
    # compare and transform use it like any other candidate.
    comparison = json.loads(smlp("compare", "--json").stdout)
    assert "xgboost-tuned" in {c["name"] for c in comparison["candidates"]}
    smlp("transform", "--model", "xgboost-tuned")


def test_run_tune_puts_tuning_in_the_pipeline(project: Path) -> None:
    (project / "smlp.yaml").write_text(SMALL_YAML + """\
tuning:
  max_jobs: 4
  algorithms:
    xgboost: {enabled: false}
    sklearn-gbm: {enabled: false}
""")
    result = smlp("run", "--tune", "--no-report")
    assert "knn-tuned" in result.output and "tune" in result.output
    state = manifest(project)
    assert set(state["candidates"]) == {"xgboost", "knn", "sklearn-gbm", "knn-tuned"}
    assert [r["algo"] for r in state["tuning"].values()] == ["knn"]
    comparison = json.loads((project / "smlp-artifacts/compare/comparison.json").read_text())
    assert {c["name"] for c in comparison["candidates"]} >= {"knn", "knn-tuned"}


def test_json_output_and_the_cli_flags(prepared: Path) -> None:
    result = smlp("tune", "--algo", "knn", "--max-jobs", "3", "-j", "1", "--strategy", "Random",
                  "--json")
    (board,) = json.loads(result.stdout)
    assert board["strategy"] == "Random" and len(board["trials"]) == 3
    assert board["limits"]["max_parallel_jobs"] == 1


def test_grid_runs_each_combination_once_and_failed_trials_are_reported(prepared: Path) -> None:
    configure(prepared, """\
  strategy: Grid
  algorithms:
    knn:
      ranges:
        k: {type: categorical, values: [3, 300]}
        sample_size: {type: categorical, values: [256, 1000]}
""")
    smlp("tune", "--algo", "knn")
    (record,) = manifest(prepared)["tuning"].values()
    seen = sorted((t["hyperparameters"]["k"], t["hyperparameters"]["sample_size"])
                  for t in record["trials"])
    assert seen == [("3", "1000"), ("3", "256"), ("300", "1000"), ("300", "256")]
    (failed,) = [t for t in record["trials"] if t["status"] == "Failed"]
    assert (failed["hyperparameters"]["k"], failed["hyperparameters"]["sample_size"]) == (
        "300", "256")
    assert "exceeds the 256" in failed["failure_reason"]
    best = next(t for t in record["trials"] if t["name"] == record["best"])
    assert best["status"] == "Completed"


def test_auto_early_stopping_stops_trials_worse_than_the_median(prepared: Path) -> None:
    # One trial at a time, grid order: three good learning rates finish (early stopping ends
    # them after ~150 rounds), then hopeless ones, which are judged at round 50 (the first
    # report) and would otherwise run 5000 rounds: time enough for the stop on a loaded machine.
    configure(prepared, """\
  strategy: Grid
  early_stopping: Auto
  max_parallel_jobs: 1
  algorithms:
    xgboost:
      static_hyperparameters: {num_round: 5000, early_stopping_rounds: 100}
      ranges:
        eta: {type: categorical, values: [0.3, 0.00001]}
        max_depth: {type: categorical, values: [3, 4, 5]}
        min_child_weight: null
        subsample: null
        colsample_bynode: null
        lambda: null
""")
    smlp("tune", "--algo", "xgboost")
    (record,) = manifest(prepared)["tuning"].values()
    by_eta: dict[str, set[str]] = {}
    for trial in record["trials"]:
        by_eta.setdefault(trial["hyperparameters"]["eta"], set()).add(trial["status"])
    assert by_eta == {"0.3": {"Completed"}, "1e-05": {"Stopped"}}
    stopped = next(t for t in record["trials"] if t["status"] == "Stopped")
    assert "median" in stopped["failure_reason"] and stopped["objective"] is not None


def test_hyperband_stops_trials_at_its_rungs(prepared: Path) -> None:
    configure(prepared, "  strategy: Hyperband\n  max_jobs: 6\n")
    smlp("tune", "--algo", "xgboost")
    (record,) = manifest(prepared)["tuning"].values()
    assert record["status"] == "Completed" and len(record["trials"]) == 6
    # Which trials a rung stops depends on when each reports: the statuses only are fixed.
    assert {t["status"] for t in record["trials"]} <= {"Completed", "Stopped"}
    stopped = [t for t in record["trials"] if t["status"] == "Stopped"]
    assert all("Hyperband" in t["failure_reason"] for t in stopped)


def test_a_spent_budget_still_runs_each_algorithms_untuned_values(prepared: Path) -> None:
    # tuning.timeout_seconds bounds the whole tune; once it is spent, each algorithm runs only
    # its first trial (its untuned values), so every algorithm still gets a candidate.
    result = smlp("tune", "--algo", "xgboost,knn,sklearn-gbm", "--timeout", "0.001")
    state = manifest(prepared)
    assert sorted(r["algo"] for r in state["tuning"].values()) == ["knn", "sklearn-gbm",
                                                                  "xgboost"]
    untuned = {"xgboost": {"num_round": "20", "eta": "0.2", "max_depth": "5",
                           "subsample": "0.8", "min_child_weight": "1.0",
                           "colsample_bynode": "1.0", "lambda": "1.0"},
               "knn": {"k": "10"},
               "sklearn-gbm": {"n_estimators": "50", "learning_rate": "0.1", "max_depth": "3",
                               "subsample": "1.0", "min_samples_leaf": "1"}}
    for record in state["tuning"].values():
        assert record["status"] == "Completed", record
        (trial,) = record["trials"]
        assert trial["status"] == "Completed"
        ranged = {k: v for k, v in trial["hyperparameters"].items() if k in record["ranges"]}
        assert ranged == untuned[record["algo"]]
        assert state["candidates"][record["algo"] + "-tuned"]["job_name"] == trial["name"]
    assert "xgboost-tuned" in result.output


@pytest.mark.parametrize(("algo", "metric"), [("knn", "test:mse"),
                                           ("xgboost", "validation:rmse")])
def test_the_first_trial_is_the_untuned_model_and_tuning_never_loses_to_it(
        prepared: Path, algo: str, metric: str) -> None:
    smlp("train", "--algo", algo)
    smlp("tune", "--algo", algo, "-j", "1")
    state = manifest(prepared)
    untuned = state["candidates"][algo]
    (record,) = state["tuning"].values()
    first = min(record["trials"], key=lambda t: t["name"].split("-")[-2])
    assert first["hyperparameters"] == {**untuned["hyperparameters"], **{
        k: v for k, v in first["hyperparameters"].items() if k not in untuned["hyperparameters"]}}
    assert first["objective"] == pytest.approx(untuned["training_metrics"][metric], rel=1e-6)
    tuned = state["candidates"][algo + "-tuned"]
    assert tuned["training_metrics"][metric] <= first["objective"]


def interrupt_after(count: int, done: list[str]) -> Any:
    """An event sink that presses Ctrl-C once ``count`` trials have completed."""

    def sink(event: Event) -> None:
        if event.kind == "trial" and event.data["status"] == "Completed":
            done.append(event.data["trial"])
            if len(done) == count:
                raise KeyboardInterrupt

    return sink


def test_resume_keeps_finished_trials(prepared: Path) -> None:
    from smlp.stages.tune import tune

    configure(prepared, "  max_jobs: 5\n")
    config, store, backend = library(prepared)
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        tune(config, store, backend, ["knn"], events=interrupt_after(2, done))
    (name, record), = manifest(prepared)["tuning"].items()
    assert record["status"] == "Stopped"
    messages: list[str] = []
    outcomes = tune(config, store, backend, ["knn"], resume=True,
                    events=lambda e: messages.append(e.message))
    assert outcomes[0].job_name == name
    assert any("resuming" in m and "2 finished trials kept" in m for m in messages)
    (record,) = manifest(prepared)["tuning"].values()
    names = [t["name"] for t in record["trials"]]
    assert record["status"] == "Completed" and len(names) == 5 and set(done) <= set(names)
    # Nothing left to resume now.
    tune(config, store, backend, ["knn"], resume=True, events=lambda e: messages.append(
        e.message))
    assert "nothing to resume" in messages[-1]


def test_resume_refuses_a_changed_search(prepared: Path) -> None:
    from smlp.errors import ConfigError
    from smlp.stages.tune import tune

    configure(prepared, "  max_jobs: 2\n")
    config, store, backend = library(prepared)
    with pytest.raises(KeyboardInterrupt):
        tune(config, store, backend, ["knn"], events=interrupt_after(1, []))
    changed = library(prepared, {"tuning.algorithms.knn.ranges.k.max_value": 20})[0]
    with pytest.raises(ConfigError, match="the search .* changed since it started"):
        tune(changed, store, backend, ["knn"], resume=True)


def test_warm_start_from_an_identical_and_a_transfer_parent(prepared: Path) -> None:
    smlp("tune", "--algo", "knn")
    (parent,) = manifest(prepared)["tuning"].values()
    result = smlp("tune", "--algo", "knn", "--warm-start", "latest")
    assert "4 parent trials as prior observations" in result.output
    state = manifest(prepared)
    child = list(state["tuning"].values())[-1]
    assert child["parents"] == [parent["name"]] and len(child["trials"]) == 4
    assert child["warm_start_type"] == "IDENTICAL_DATA_AND_ALGORITHM"
    objectives = [t["objective"] for r in (parent, child) for t in r["trials"]]
    best_trial = state["candidates"]["knn-tuned"]["job_name"]  # the overall best, parents too
    assert best_trial in {t["name"] for r in (parent, child) for t in r["trials"]
                          if t["objective"] == min(objectives)}

    configure(prepared, "  warm_start: {parents: [%s], type: TRANSFER_LEARNING}\n"
              % parent["name"])
    result = smlp("tune", "--algo", "knn", "-j", "1")
    assert "of the parents' best settings run first" in result.output
    transfer = list(manifest(prepared)["tuning"].values())[-1]
    ranked = sorted(parent["trials"], key=lambda t: t["objective"])
    first, second = sorted(transfer["trials"], key=lambda t: t["name"].split("-")[-2])[:2]
    assert first["hyperparameters"]["k"] == "10"  # the untuned value, then the parents' best
    assert second["hyperparameters"]["k"] == ranked[0]["hyperparameters"]["k"]


@pytest.mark.parametrize(("extra", "args", "expected"), [
    ("  algorithms: {xgboost: {ranges: {eta: {type: continuous, min_value: 0.3, "
     "max_value: 0.1}}}}\n", [], "ranges.eta: min_value 0.3 is greater than max_value 0.1"),
    ("  algorithms: {xgboost: {ranges: {eta: {type: continuous, min_value: 0, max_value: 0.1, "
     "scaling: Logarithmic}}}}\n", [], "Logarithmic scaling needs min_value > 0"),
    ("  algorithms: {knn: {ranges: {index_metric: {type: categorical, values: []}}}}\n", [],
     "a categorical range needs at least one value"),
    ("  algorithms: {xgboost: {ranges: {learning_rate: {type: continuous, min_value: 0.1, "
     "max_value: 0.2}}}}\n", [], "ranges.learning_rate: not a hyperparameter of xgboost"),
    ("", ["--max-jobs", "2", "-j", "3"], "max_parallel_jobs (3) exceeds max_jobs (2)"),
    ("  algorithms: {xgboost: {objective_metric: 'test:mse'}}\n", [],
     "xgboost does not emit metric 'test:mse'"),
    ("", ["--strategy", "Grid"], "Grid search takes categorical ranges only"),
    ("  algorithms: {knn: {static_hyperparameters: {sample_size: 500}, ranges: {k: {type: "
     "integer, min_value: 1, max_value: 1024}}}}\n",
     ["--algo", "knn"], "ranges.k: 1024 exceeds the 500 training points"),
    ("", ["--warm-start", "nope"], "warm start: 'nope' is not a tuning job in the manifest"),
    ("", ["--warm-start", "latest"], "warm start: no completed tuning job in the manifest"),
])
def test_bad_input_fails_in_one_line_before_any_trial(prepared: Path, extra: str,
                                                      args: list[str], expected: str) -> None:
    configure(prepared, extra)
    result = smlp("tune", *(args if "--algo" in args else ["--algo", "xgboost", *args]),
                  ok=False)
    assert_one_line_error(result, expected, code=2)
    assert tuning_jobs(prepared) == []


def test_a_worker_that_dies_fails_its_trial_only(prepared: Path) -> None:
    from smlp.stages.tune import tune

    configure(prepared, """\
  max_jobs: 2
  max_parallel_jobs: 1
  algorithms:
    xgboost:
      static_hyperparameters: {num_round: 3000, early_stopping_rounds: 10000}
""")
    config, store, backend = library(prepared)
    killed: list[str] = []

    def kill_the_worker(event: Event) -> None:
        if event.kind == "trial" and event.data["status"] == "InProgress" and not killed:
            pid = _worker_pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed.append(event.data["trial"])

    outcomes = tune(config, store, backend, ["xgboost"], events=kill_the_worker)
    trials = {t.name: t for t in outcomes[0].result.trials}
    assert len(trials) == 2 and trials[killed[0]].status == "Failed"
    assert "worker running it died" in (trials[killed[0]].failure_reason or "")
    assert outcomes[0].candidate is not None  # a replacement worker ran the other trial


def _worker_pid() -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"smlp.backends.local.tuning.worker" in command and _parent(entry) == os.getpid():
            return int(entry.name)
    return None


def _parent(entry: Path) -> int:
    stat = (entry / "stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_tuned_model_predicts_the_test_split_better_than_a_weak_seed(prepared: Path) -> None:
    configure(prepared, "  algorithms: {knn: {ranges: {k: {type: integer, min_value: 5, "
                        "max_value: 40}}}}\n")
    smlp("train", "--algo", "knn", "--hp", "k=1")
    smlp("tune", "--algo", "knn")
    comparison = json.loads(smlp("compare", "--json").stdout)
    rmse = {c["name"]: c["metrics"]["rmse"] for c in comparison["candidates"]}
    assert rmse["knn-tuned"] < rmse["knn"]
    assert np.isfinite(rmse["knn-tuned"])


def test_trials_get_the_objective_metric_as_sagemaker_passes_it(prepared: Path) -> None:
    # SageMaker adds _tuning_objective_metric to every trial's hyperparameters; the XGBoost
    # container then emits (and early-stops on) that metric, here one it does not log by default.
    (prepared / "smlp.yaml").write_text(SMALL_YAML + """\
tuning:
  max_jobs: 2
  algorithms:
    xgboost:
      objective_metric: validation:mae
      ranges:
        num_round: {type: integer, min_value: 10, max_value: 30}
    sklearn-gbm:
      objective_metric: validation:mae
      ranges:
        n_estimators: {type: integer, min_value: 5, max_value: 20}
""")
    smlp("tune", "--algo", "xgboost,sklearn-gbm")
    state = manifest(prepared)
    assert len(state["tuning"]) == 2
    for record in state["tuning"].values():
        assert record["objective_metric"] == "validation:mae"
        assert [t["status"] for t in record["trials"]] == ["Completed", "Completed"], record
        for trial in record["trials"]:
            assert trial["objective"] == trial["final_metrics"]["validation:mae"]
            assert "_tuning_objective_metric" not in trial["hyperparameters"]
            written = json.loads((prepared / ".smlp" / "jobs" / trial["name"] / "input" /
                                  "config" / "hyperparameters.json").read_text())
            assert written == {**trial["hyperparameters"],
                               "_tuning_objective_metric": "validation:mae"}
        candidate = state["candidates"][record["algo"] + "-tuned"]
        assert "_tuning_objective_metric" not in candidate["hyperparameters"]
    xgb = next(r for r in state["tuning"].values() if r["algo"] == "xgboost")
    log = (prepared / ".smlp" / "jobs" / xgb["best"] / "logs.txt").read_text()
    assert "#011validation-mae:" in log


def test_a_trial_that_hangs_silently_is_stopped_at_its_max_runtime(prepared: Path) -> None:
    # The worker is frozen (SIGSTOP) mid-trial: no log line, no reply. The parent must stop
    # the trial at the job's max_runtime_seconds by killing and replacing the worker.
    import threading

    from smlp.errors import JobFailedError
    from smlp.stages.tune import tune

    configure(prepared, """\
  max_jobs: 1
  max_parallel_jobs: 1
  algorithms:
    xgboost:
      static_hyperparameters: {num_round: 50000, early_stopping_rounds: 100000}
""")  # a trial far too long to end before it is frozen
    import yaml

    settings = yaml.safe_load((prepared / "smlp.yaml").read_text())
    settings["algorithms"]["xgboost"]["max_runtime_seconds"] = 2
    (prepared / "smlp.yaml").write_text(yaml.safe_dump(settings))
    config, store, backend = library(prepared)
    assert config.algorithms.xgboost.max_runtime_seconds == 2
    frozen: list[int] = []

    def freeze_the_worker(event: Event) -> None:
        if event.kind == "trial" and event.data["status"] == "InProgress" and not frozen:
            pid = _worker_pid()
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)
            # Without enforcement the search would wait forever: thaw it after a minute.
            thaw.append(threading.Timer(60, _continue, (pid,)))
            thaw[0].daemon = True
            thaw[0].start()

    thaw: list[threading.Timer] = []
    try:
        with pytest.raises(JobFailedError, match="no trial completed"):
            tune(config, store, backend, ["xgboost"], events=freeze_the_worker)
    finally:
        for timer in thaw:
            timer.cancel()
    (record,) = manifest(prepared)["tuning"].values()
    (trial,) = record["trials"]
    assert trial["status"] == "Stopped"
    assert trial["failure_reason"] == "MaxRuntimeExceeded: the job ran longer than 2 s"
    assert not Path(f"/proc/{frozen[0]}").exists() or _is_zombie(frozen[0])


def _continue(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_the_sagemaker_request_leaves_the_objective_hyperparameter_to_sagemaker(
        prepared: Path) -> None:
    # SageMaker adds _tuning_objective_metric to each trial itself; the request carries the
    # objective in HyperParameterTuningJobObjective only, and no ranged value as a static one.
    from dataclasses import replace

    from smlp.algorithms import get_algorithm
    from smlp.backends.sagemaker import requests as rq
    from smlp.events import ignore
    from smlp.manifest import load_manifest
    from smlp.stages.tune import _plan

    config, store, _ = library(prepared)
    state = load_manifest(store)
    job = _plan(config, store, state, state.require_data(), "xgboost", [], False, ignore)
    assert job is not None and job.first_trial is not None
    on_s3 = replace(job, training=replace(
        job.training, output_uri="s3://bucket/out",
        channels={k: f"s3://bucket/data/{k}" for k in job.training.channels}))
    settings = rq.JobSettings(region="eu-west-1", role_arn="arn:aws:iam::123456789012:role/x")
    request = rq.tuning_job_request(on_s3, get_algorithm("xgboost"), "image", settings)
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert not any(key.startswith("_tuning") for key in static)
    assert not set(static) & set(job.ranges)
    objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    assert objective == {"Type": "Minimize", "MetricName": "validation:rmse"}


def test_resume_from_another_working_folder_continues_from_the_store(prepared: Path) -> None:
    """Another folder (or machine sharing the store) has no job folders: the journal kept in
    the store is what the search continues from, not a fresh study at trial 001."""
    from smlp.errors import ConfigError
    from smlp.stages.tune import tune

    configure(prepared, "  max_jobs: 5\n")
    config, store, backend = library(prepared, {"backend.work_dir": str(prepared / "here")})
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        tune(config, store, backend, ["knn"], events=interrupt_after(2, done))
    (name, _), = manifest(prepared)["tuning"].items()
    assert (prepared / "smlp-artifacts" / "tuning" / name / "study.journal").is_file()
    elsewhere = library(prepared, {"backend.work_dir": str(prepared / "elsewhere")})
    messages: list[str] = []
    tune(*elsewhere, ["knn"], resume=True, events=lambda e: messages.append(e.message))
    # Two trials run side by side: the other may also finish before Ctrl-C lands.
    kept = [int(found.group(1)) for m in messages
            if (found := re.search(r"resuming .*: (\d+) finished trials kept", m))]
    assert kept and 2 <= kept[0] <= 4, messages
    (record,) = manifest(prepared)["tuning"].values()
    names = [t["name"] for t in record["trials"]]
    assert record["status"] == "Completed" and len(names) == 5 and set(done) <= set(names)
    numbers = [n.split("-")[-2] for n in names]
    assert len(set(numbers)) == 5 and numbers.count("001") == 1  # not restarted at trial 001

    # State gone from the store and from the job folders: --resume says so, nothing restarts.
    with pytest.raises(KeyboardInterrupt):
        tune(config, store, backend, ["knn"], events=interrupt_after(1, []))
    name = list(manifest(prepared)["tuning"])[-1]
    (prepared / "smlp-artifacts" / "tuning" / name / "study.journal").unlink()
    third = library(prepared, {"backend.work_dir": str(prepared / "third")})
    with pytest.raises(ConfigError, match=f"tuning job {name} left no state to resume"):
        tune(*third, ["knn"], resume=True)


def test_resume_with_nothing_to_resume_says_so(prepared: Path) -> None:
    from smlp.stages.tune import tune

    configure(prepared, "  max_jobs: 1\n  max_parallel_jobs: 1\n")
    config, store, backend = library(prepared)
    messages: list[str] = []
    tune(config, store, backend, ["knn"], resume=True, events=lambda e: messages.append(
        e.message))
    assert "knn: no unfinished tuning job to resume; starting a new one" in messages
