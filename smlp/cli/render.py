"""Rendering of stage events and results with rich; the only place output is shaped."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from smlp.cli.common import console, err_console
from smlp.events import Event

PROGRESS_MIN_BYTES = 8 << 20  # a bar only for inputs big enough to wait for


class EventRenderer:
    """An EventSink: info lines to stderr, a progress bar for long transforms."""

    def __init__(self, verbose: bool = False, quiet: bool = False) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._tuning: Any = None  # smlp.cli.tune_render.TuningProgress, made on first trial

    def __call__(self, event: Event) -> None:
        if event.kind == "progress":
            self._advance(event.data)
        elif event.kind == "log":
            if self.verbose:
                err_console.print(f"  [dim]{event.message}[/]", markup=True)
        elif event.kind == "stage":
            if not self.quiet:
                err_console.print(f"[bold cyan]▶ {event.message}[/]", markup=True)
        elif event.kind == "trial":
            if not self.quiet:
                self._trial(event)
        elif not self.quiet and event.kind == "info":
            err_console.print(f"  {event.message}")
        elif event.kind == "job" and (self.verbose or event.data.get("remote") and not self.quiet):
            # A remote job's status changes are the only sign of life while it runs.
            err_console.print(f"  [dim]{event.message}[/]", markup=True)

    def _advance(self, data: dict[str, Any]) -> None:
        total, done, task = data["total"], data["done"], data["task"]
        if self.quiet or total < PROGRESS_MIN_BYTES:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
                console=err_console, transient=True,
            )
            self._progress.start()
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(task, total=total)
        self._progress.update(self._tasks[task], completed=done)

    def _trial(self, event: Event) -> None:
        if self._tuning is None:
            from smlp.cli.tune_render import TuningProgress

            self._tuning = TuningProgress(err_console)
        self._tuning.update(event)

    def close(self) -> None:
        if self._tuning is not None:
            self._tuning.close()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> EventRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def leaderboard(comparison: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Leaderboard — {comparison.split} split, {comparison.rows:,} rows, "
                        f"ranked by {comparison.metric}")
    table.add_column("", justify="center")
    table.add_column("candidate")
    table.add_column("algorithm")
    for metric in ("rmse", "mse", "mae", "r2"):
        style = "bold" if metric == comparison.metric else ""
        table.add_column(metric, justify="right", style=style)
    uncertain = any(getattr(s, "interval", None) for s in comparison.candidates)
    if uncertain:  # bootstrap 95% interval of the ranking metric, and P(best is better)
        table.add_column("95% CI", justify="right")
        table.add_column("P(best better)", justify="right")
    for scored in comparison.candidates:
        mark = "★" if scored.name == comparison.best else ""
        cells = [f"{scored.metrics[m]:.4f}" for m in ("rmse", "mse", "mae", "r2")]
        if uncertain:
            cells += _uncertainty_cells(scored, comparison.metric)
        table.add_row(mark, scored.name, scored.algo, *cells)
    console.print(table)


def _uncertainty_cells(scored: Any, metric: str) -> list[str]:
    low, high = scored.interval.get(metric, [float("nan")] * 2)
    versus = scored.vs_best.get("p_best_better") if scored.vs_best else None
    return [f"{low:.4f}–{high:.4f}", "—" if versus is None else f"{versus:.2f}"]
