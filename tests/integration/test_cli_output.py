"""Output shapes of the CLI: version, -h, --json, progress, log tabs, narrow tables (issue 10)."""

from __future__ import annotations

import json
import os
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import SMALL_YAML, smlp


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the real app, groups included (``("data", "prepare")``...)."""
    import typer.main

    from smlp.cli.main import app

    command = group if prefix else typer.main.get_command(app)
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _commands(sub, prefix + (name,))
    return paths


def test_version_prints_the_installed_distribution_version() -> None:
    result = smlp("--version")
    assert result.stdout.strip() == f"smlp {version('smlp')}"


def test_every_command_takes_dash_h_as_help() -> None:
    paths = _commands(None)
    assert ("train",) in paths and ("data", "prepare") in paths and ("infra", "synth") in paths
    for path in paths:
        short = smlp(*path, "-h")
        assert "Usage:" in short.stdout, (path, short.output)
        assert short.stdout == smlp(*path, "--help").stdout, path


@pytest.mark.parametrize("args", [("train", "-h"), ("-h",)])
def test_dash_h_runs_nothing(project: Any, args: tuple[str, ...]) -> None:
    smlp(*args)
    assert not (project / "smlp-artifacts").exists()


# -- shared projects ---------------------------------------------------------------------------
XGBOOST_ONLY_YAML = """\
data:
  rows: 1500
algorithms:
  xgboost:
    hyperparameters: {num_round: 20}
  knn: {enabled: false}
  sklearn-gbm: {enabled: false}
"""


@pytest.fixture(scope="module")
def compared_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated data, every default algorithm trained, compared: built once, copied per test."""
    base = tmp_path_factory.mktemp("compared")
    previous = Path.cwd()
    os.chdir(base)
    try:
        (base / "smlp.yaml").write_text(SMALL_YAML)
        smlp("data", "generate")
        smlp("train")
        smlp("compare")
    finally:
        os.chdir(previous)
    return base


@pytest.fixture
def compared(compared_base: Path, project: Path) -> Path:
    """A copy of the compared project (a copied project works: the manifest is relocatable)."""
    for item in compared_base.iterdir():
        if item.is_dir():
            shutil.copytree(item, project / item.name)
        else:
            shutil.copy2(item, project / item.name)
    return project


def columns(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    """The terminal is ``width`` wide: COLUMNS, as rich reads it when not told a width."""
    from smlp.cli.common import console, err_console

    monkeypatch.setenv("COLUMNS", str(width))
    for each in (console, err_console):
        monkeypatch.setattr(each, "_width", None)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stderr is a terminal (rich's own switch), as for a user watching."""
    from smlp.cli.common import err_console

    monkeypatch.setattr(err_console, "_force_terminal", True)
    monkeypatch.setattr(err_console, "is_interactive", True)  # decided when it was made


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the box-drawn tables in ``text``, as stripped cells."""
    return [[cell.strip() for cell in line.strip().strip("│").split("│")]
            for line in text.splitlines() if line.startswith("│")]


# -- narrow tables, the winner's hyperparameters -----------------------------------------------
@pytest.mark.parametrize("width", [60, 80])
def test_leaderboard_never_cuts_candidate_names(compared: Path, width: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    columns(monkeypatch, width)
    out = smlp("compare").stdout
    comparison = json.loads((compared / "smlp-artifacts/compare/comparison.json").read_text())
    names = [c["name"] for c in comparison["candidates"]]
    assert "sklearn-gbm" in names
    table = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and all(len(line) <= width for line in table), out
    rows = table_rows(out)
    assert [row[1] for row in rows] == names, out  # whole, one line each, ranked
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert comparison["metric"] in header  # the ranking metric is never dropped
    ranked = [f"{c['metrics'][comparison['metric']]:.4f}" for c in comparison["candidates"]]
    assert [row[2] for row in rows] == ranked or [row[3] for row in rows] == ranked, out
    if width == 60:
        assert "not shown at this width:" in out and "algorithm" in out.split("not shown")[1]


def test_leaderboard_on_a_wide_terminal_keeps_every_column(
        compared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    columns(monkeypatch, 160)
    out = smlp("compare").stdout
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    for name in ("candidate", "algorithm", "rmse", "mse", "mae", "r2"):
        assert f" {name} " in header, out
    assert "not shown at this width" not in out


def test_leaderboard_shows_the_winners_hyperparameters_and_wide_shows_all(
        compared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    columns(monkeypatch, 100)
    comparison = json.loads((compared / "smlp-artifacts/compare/comparison.json").read_text())
    best = comparison["candidates"][0]
    assert best["name"] == comparison["best"]
    out = smlp("compare").stdout
    line = next(line for line in out.splitlines() if line.startswith(f"★ {best['name']}:"))
    for name in best["hyperparameters"]:
        assert f"{name}=" in line, (name, line)
    assert "num_round=20" in line or best["name"] != "xgboost"
    assert "Hyperparameters" not in out

    wide = smlp("compare", "--wide").stdout
    rows = {row[0]: row for row in table_rows(wide.split("Hyperparameters")[1])
            if row[0]}
    assert set(rows) == {c["name"] for c in comparison["candidates"]}, wide
    assert "k=10" in wide and "n_estimators=20" in wide and "max_depth=" in wide
    knn = wide.split("Hyperparameters")[1].split("knn", 1)[1]
    assert "test:mse=" in knn and "(validation" in knn  # k-NN's metric: the validation split


# -- k-NN's metric names its split -------------------------------------------------------------
def test_knn_metric_says_it_was_computed_on_the_validation_split(
        compared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    columns(monkeypatch, 200)
    trained = smlp("train", "--algo", "knn")
    assert "(validation split)" in trained.stderr, trained.output
    assert "test:mse=" in trained.stderr
    status = smlp("status").stdout
    knn = next(row for row in table_rows(status) if row[0].startswith("knn"))
    assert "test:mse=" in knn[3] and "(validation split)" in knn[3], status
    xgb = next(row for row in table_rows(status) if row[0].startswith("xgboost"))
    assert "validation:rmse=" in xgb[3] and "split)" not in xgb[3]  # named after its split
    state = json.loads(smlp("status", "--json").stdout)
    assert state["candidates"]["knn"]["training_metrics_split"] == {"test:mse": "validation"}

    tuned = smlp("tune", "--algo", "knn", "--max-jobs", "2")
    assert "test:mse (validation split)" in tuned.stdout, tuned.output
    assert "test:mse (validation split)=" in tuned.stderr  # each trial's line, off a terminal


# -- status ------------------------------------------------------------------------------------
def test_status_keeps_the_data_stage_completed_beside_a_failed_prepare(project: Path) -> None:
    lines = ["id,rooms,age,colour,price"] + [
        f"{i},{i % 7 + 1},{(i * 13) % 50},{'red' if i % 3 else 'blue'},{100 + (i * 37) % 91}"
        for i in range(300)]
    (project / "houses.csv").write_text("\n".join(lines) + "\n")
    smlp("data", "prepare", "--input", "houses.csv", "--target", "price")
    failed = smlp("data", "prepare", "--input", "houses.csv", "--target", "prize", ok=False)
    assert failed.exit_code == 3, failed.output

    out = smlp("status").stdout
    rows = table_rows(out.split("Stages")[1])
    assert rows[0][:2] == ["data", "completed"], out
    assert rows[0][-1].startswith("smlp data prepare") and "price" in out.split("│ data (")[0]
    failed_row = next(row for row in rows if row[0].startswith("data ("))
    assert failed_row[0] == "data (failed attempt)" and failed_row[1] == "failed", out
    assert "prize" in out and "(last success) is kept" in " ".join(out.split())

    state = json.loads(smlp("status", "--json").stdout)
    data = state["stages"]["data"]
    assert data["status"] == "failed" and "prize" in data["error"]
    assert data["last_success"]["status"] == "completed"
    assert "--target price" in data["last_success"]["command"]
    assert state["data"]["rows"]["train"] > 0 and state["candidates"] == {}


def test_status_json_on_an_empty_store_and_a_compared_project(
        compared: Path, tmp_path: Path) -> None:
    state = json.loads(smlp("status", "--json").stdout)
    assert state["best"] == json.loads(
        (compared / "smlp-artifacts/compare/comparison.json").read_text())["best"]
    assert {"data", "train", "compare"} <= set(state["stages"])
    assert state["candidates"][state["best"]]["best"] is True
    assert state["comparison"].endswith("compare/comparison.json") and state["stale"] is None
    empty = json.loads(smlp("status", "--json", "--store", str(tmp_path / "nothing")).stdout)
    assert empty["stages"] == {} and empty["candidates"] == {}


# -- run --json, progress, job logs ------------------------------------------------------------
def test_run_json_prints_the_summary_on_stdout_and_events_on_stderr(
        project: Path, terminal: None) -> None:
    (project / "smlp.yaml").write_text(XGBOOST_ONLY_YAML)
    result = smlp("run", "--json", "--no-report")
    summary = json.loads(result.stdout)  # stdout is the JSON and nothing else
    assert summary["best"] == "xgboost" and summary["comparison"]["best"] == "xgboost"
    assert set(summary["timings"]) == {"generate", "train", "compare", "transform"}
    assert summary["predictions"] and Path(summary["predictions"][0]).exists()
    assert "▶ train" in result.stderr and "training xgboost as job" in result.stderr
    assert "rounds" not in result.stderr  # no progress bar with --json, even on a terminal

    wide = smlp("run", "--wide", "--no-report").stdout  # the same pipeline, shown for people
    rows = table_rows(wide.split("Hyperparameters")[1])
    assert rows[0][0] == "xgboost" and "num_round=20" in " ".join(map(" ".join, rows)), wide
    assert "best model: xgboost" in wide


def test_training_shows_rounds_done_on_a_terminal(project: Path, terminal: None) -> None:
    (project / "smlp.yaml").write_text(XGBOOST_ONLY_YAML)
    smlp("data", "generate")
    result = smlp("train", "--algo", "xgboost")
    assert "20/20 rounds" in result.stderr, result.stderr
    assert "#011" not in result.stderr  # without -v, no job log


def test_no_progress_indicator_when_stderr_is_not_a_terminal(project: Path) -> None:
    (project / "smlp.yaml").write_text(XGBOOST_ONLY_YAML)
    smlp("data", "generate")
    result = smlp("train", "--algo", "xgboost")
    assert "rounds" not in result.stderr and "\x1b[" not in result.stderr, result.stderr
    assert "xgboost: validation:rmse=" in result.stderr


def test_round_progress_reads_each_algorithms_round_lines() -> None:
    from smlp.backends.base import TrainingJobSpec
    from smlp.backends.local.jobs import RoundProgress, cloudwatch_line
    from smlp.events import Event

    seen: list[Event] = []

    def job(algo: str, hyperparameters: dict[str, str]) -> TrainingJobSpec:
        return TrainingJobSpec(name=f"j-{algo}", algorithm=algo, hyperparameters=hyperparameters,
                               channels={"train": "x"}, output_uri="o", container_version="1")

    xgb = RoundProgress(job("xgboost", {"num_round": "50"}))
    for line in ("Train matrix has 1050 rows", "[0]\ttrain-rmse:1.2\tvalidation-rmse:1.3",
                 "[11]\ttrain-rmse:0.4\tvalidation-rmse:0.5"):
        xgb(cloudwatch_line(line), seen.append)
    gbm = RoundProgress(job("sklearn-gbm", {"n_estimators": "20"}))
    gbm("[stage 7] validation:rmse=1.04;", seen.append)
    RoundProgress(job("knn", {"k": "10"}))("#test_score (algo-1) : ('mse', 0.8)", seen.append)
    assert [(e.kind, e.data["task"], e.data["done"], e.data["total"]) for e in seen] == [
        ("progress", "j-xgboost", 1, 50), ("progress", "j-xgboost", 12, 50),
        ("progress", "j-sklearn-gbm", 7, 20)]
    assert all(e.data["unit"] == "rounds" for e in seen)


def test_verbose_logs_show_tabs_on_a_terminal_and_the_saved_log_keeps_011(
        project: Path, terminal: None) -> None:
    (project / "smlp.yaml").write_text(XGBOOST_ONLY_YAML)
    smlp("data", "generate")
    result = smlp("train", "--algo", "xgboost", "-v")
    assert "[0]\ttrain-rmse:" in result.stderr, result.stderr
    assert "#011" not in result.stderr and "rounds" not in result.stderr
    log = next((project / ".smlp" / "jobs").glob("smlp-xgboost-*/logs.txt")).read_text()
    assert "[0]#011train-rmse:" in log and "\t" not in log


def test_verbose_logs_elsewhere_read_as_cloudwatch_shows_them(project: Path) -> None:
    (project / "smlp.yaml").write_text(XGBOOST_ONLY_YAML)
    smlp("data", "generate")
    result = smlp("train", "--algo", "xgboost", "-v")
    assert "[0]#011train-rmse:" in result.stderr and "\t" not in result.stderr
