"""How tuning looks: a live bar and table of trials while it runs, a leaderboard at the end.

On a terminal the live view shows trials done/running/failed out of the budget, the best
objective so far and the best trials; elsewhere (logs, CI) each finished trial is one line.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from smlp.events import Event

TOP = 5  # trials shown live


def format_value(text: str) -> str:
    """A hyperparameter string, floats to 4 significant digits for reading."""
    try:
        number = float(text)
    except ValueError:
        return text
    return text if number.is_integer() and "." not in text else f"{number:.4g}"


def format_hyperparameters(values: dict[str, str]) -> str:
    return " ".join(f"{k}={format_value(v)}" for k, v in sorted(values.items()))


class TuningProgress:
    """Renders ``trial`` events; one live view per tuning job."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self._job: str | None = None
        self._view: Live | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._finished: list[dict[str, Any]] = []

    def update(self, event: Event) -> None:
        data = event.data
        if not {"tuning_job", "trial", "status", "done", "total"} <= set(data):
            self.console.print(f"  {event.message}", markup=False)  # a backend's plain line
            return
        if data.get("tuning_job") != self._job:
            self.close()
            self._job = data.get("tuning_job")
            self._finished = []
        if data.get("status") != "InProgress":
            self._finished.append(data)
        if not self.live:
            if data.get("status") != "InProgress":
                self.console.print(f"  {self._line(data)}", markup=False)
            return
        if self._view is None:
            self._start(data)
        assert self._progress is not None and self._task is not None
        self._progress.update(self._task, total=data["total"], completed=data["done"],
                              description=self._description(data))
        assert self._view is not None
        self._view.update(self._render())

    def _start(self, data: dict[str, Any]) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.completed}/{task.total} trials"),
                                  TimeElapsedColumn(), console=self.console)
        self._task = self._progress.add_task("", total=data["total"])
        self._view = Live(self._render(), console=self.console, refresh_per_second=4)
        self._view.start()

    def _description(self, data: dict[str, Any]) -> str:
        best = data.get("best")
        shown = (f"best {_label(data)} {best:.5g}" if best is not None else "no result")
        failed = f", {data['failed']} failed" if data.get("failed") else ""
        return (f"[bold]{data['algorithm']}[/] {data['running']} running{failed} · {shown}")

    def _render(self) -> Group:
        assert self._progress is not None
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column, width in (("trial", 5), ("status", 9), ("objective", 9), ("seconds", 7),
                              ("hyperparameters", None)):
            table.add_column(column, justify="right" if column in {"objective", "seconds"}
                             else "left", overflow="ellipsis", no_wrap=True, min_width=width)
        for data in _ranked(self._finished)[:TOP]:
            table.add_row(_short(data["trial"], data["tuning_job"]), data["status"],
                          _objective(data.get("objective")), f"{data.get('seconds') or 0:.1f}",
                          format_hyperparameters(data.get("hyperparameters") or {}))
        return Group(self._progress, table)

    def _line(self, data: dict[str, Any]) -> str:
        reason = f" ({data['failure_reason']})" if data.get("failure_reason") else ""
        return (f"{data['trial']}: {data['status']} {_label(data)}="
                f"{_objective(data.get('objective'))} in {data.get('seconds') or 0:.1f} s"
                f"{reason} [{data['done']}/{data['total']}]")

    def close(self) -> None:
        if self._view is not None:
            self._view.stop()
        self._view = self._progress = self._task = None


def _label(data: dict[str, Any]) -> str:
    """The objective's name, with the split it is computed on where its channel says otherwise."""
    from smlp.algorithms.display import metric_label

    return metric_label(data.get("algorithm") or "", data["objective_metric"])


def _objective(value: float | None) -> str:
    return "—" if value is None else f"{value:.5g}"


def _ranked(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {"Completed": 0, "Stopped": 1, "Failed": 2}

    def key(data: dict[str, Any]) -> tuple[int, float]:
        value = data.get("objective")
        sign = 1 if data.get("minimize", True) else -1
        return order.get(data["status"], 3), sign * value if value is not None else 0.0

    return sorted(trials, key=key)


def trials_table(leaderboard: dict[str, Any], console: Console, limit: int = 10) -> None:
    """The end-of-run leaderboard of one tuning job (``tuning.json``), best first."""
    from rich import box

    from smlp.algorithms.display import metric_label

    objective = leaderboard["objective"]
    trials = leaderboard["trials"]
    shown = metric_label(leaderboard["algorithm"], objective["metric"])  # k-NN: which split
    title = (f"Trials — {leaderboard['algorithm']} {leaderboard['name']}, "
             f"{objective['type']} {shown}, {leaderboard['strategy']}")
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for column in ("", "trial", "status", objective["metric"], "s", "hyperparameters"):
        table.add_column(column, justify="right" if column in {objective["metric"], "s"}
                         else "left")
    for trial in trials[:limit]:
        mark = "★" if trial["name"] == leaderboard["best"] else str(trial["rank"])
        table.add_row(mark, _short(trial["name"], leaderboard["name"]), trial["status"],
                      _objective(trial["objective"]), f"{trial['seconds']:.1f}",
                      format_hyperparameters(trial["hyperparameters"]))
    console.print(table)
    if len(trials) > limit:
        console.print(f"… {len(trials) - limit} more trials in tuning.json")


def _short(trial: str, job: str) -> str:
    """``<job>-007-1a2b3c4d`` as ``007``: the table's title names the job."""
    return trial.removeprefix(job + "-").split("-")[0] if trial.startswith(job) else trial
