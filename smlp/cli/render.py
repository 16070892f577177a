"""Rendering of stage events and results with rich; the only place output is shaped."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rich.markup import escape
from rich.text import Text

from smlp.cli.common import console, err_console
from smlp.events import Event

if TYPE_CHECKING:  # rich.progress is imported when a bar is drawn: most runs draw none
    from rich.progress import Progress, TaskID

PROGRESS_MIN_BYTES = 8 << 20  # a bar only for inputs big enough to wait for
ENDED = {"Completed", "Failed", "Stopped"}


def _detail_column() -> Any:
    """``12/1000 rounds`` for a training job, ``42% 0:00:07 left`` for a transform."""
    from rich.progress import ProgressColumn

    class Detail(ProgressColumn):
        def render(self, task: Any) -> Text:
            if task.fields.get("unit") == "rounds":
                shown = f"{task.completed:.0f}/{task.total:.0f} rounds" if task.total else ""
            else:
                left = task.time_remaining
                shown = f"{task.percentage:>3.0f}%" + (
                    f" {int(left) // 60}:{int(left) % 60:02d} left" if left is not None else "")
            return Text(shown)

    return Detail()


class EventRenderer:
    """An EventSink: info lines to stderr; on a terminal, a spinner (rounds done, where the
    algorithm logs them) per local training job and a bar for long transforms.

    ``live=False`` (``--json``) keeps the lines and drops the bars; nothing animated is drawn
    when stderr is not a terminal.
    """

    def __init__(self, verbose: bool = False, quiet: bool = False, live: bool = True) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self.live = live and not quiet
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._running: set[str] = set()  # training jobs shown with a spinner
        self._tuning: Any = None  # smlp.cli.tune_render.TuningProgress, made on first trial
        self._lock = threading.RLock()  # jobs side by side report from their own threads

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._render(event)

    def _render(self, event: Event) -> None:
        if event.kind == "progress":
            self._advance(event.data)
        elif event.kind == "log":
            if self.verbose:
                self._log(event)
        elif event.kind == "stage":
            if not self.quiet:
                err_console.print(f"[bold cyan]▶ {escape(event.message)}[/]", markup=True)
        elif event.kind == "trial":
            if not self.quiet:
                self._trial(event)
        elif not self.quiet and event.kind == "info":
            err_console.print(f"  {event.message}", markup=False)
        elif event.kind == "job":
            if self.verbose or event.data.get("remote") and not self.quiet:
                # A remote job's status changes are the only sign of life while it runs.
                err_console.print(f"  [dim]{escape(event.message)}[/]", markup=True)
            elif not event.data.get("remote"):
                self._job(event.data)

    def _log(self, event: Event) -> None:
        """A job's log line: tabs as tabs on a terminal, as CloudWatch shows them elsewhere."""
        raw = event.data.get("raw")
        if raw is not None and err_console.is_terminal and self._progress is None:
            err_console.file.write(f"  {raw}\n")
            err_console.file.flush()
        else:
            err_console.print(f"  [dim]{escape(event.message)}[/]", markup=True)

    def _animated(self) -> bool:
        return self.live and not self.verbose and err_console.is_interactive

    def _bar(self) -> Progress:
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                _detail_column(), TimeElapsedColumn(), console=err_console, transient=True,
            )
            self._progress.start()
        return self._progress

    def _job(self, data: dict[str, Any]) -> None:
        job, status = data.get("job"), data.get("status")
        if not job or not self._animated():
            return
        if status == "InProgress" and job not in self._tasks:
            self._tasks[job] = self._bar().add_task(job, total=None, unit="rounds")
            self._running.add(job)
        elif status in ENDED and job in self._running and self._progress is not None:
            self._progress.refresh()  # its last state, then out of the way
            self._progress.update(self._tasks[job], visible=False)
            self._running.discard(job)
            if not self._running:
                self._stop()

    def _advance(self, data: dict[str, Any]) -> None:
        total, done, task = data["total"], data["done"], data["task"]
        if data.get("unit") == "rounds":  # only jobs shown with a spinner (see _job)
            if task in self._running and self._progress is not None:
                self._progress.update(self._tasks[task], completed=done, total=total)
            return
        if not self.live or total < PROGRESS_MIN_BYTES:
            return
        if task not in self._tasks:
            self._tasks[task] = self._bar().add_task(task, total=total, unit="bytes")
        self._bar().update(self._tasks[task], completed=done)

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _trial(self, event: Event) -> None:
        self._stop()  # one live display at a time
        if self._tuning is None:
            from smlp.cli.tune_render import TuningProgress

            self._tuning = TuningProgress(err_console)
        self._tuning.update(event)

    def close(self) -> None:
        if self._tuning is not None:
            self._tuning.close()
        self._stop()

    def __enter__(self) -> EventRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def leaderboard(comparison: Any, wide: bool = False) -> None:
    """The comparison's table, ranked; below it the winner's hyperparameters (all with ``wide``).

    Columns come from the candidates' metrics, whatever the comparison scored.
    """
    from smlp.algorithms.display import shown_metrics
    from smlp.cli.tune_render import format_hyperparameters

    metrics = _metric_names(comparison)
    columns = [Col("", "center"), Col("candidate"), Col("algorithm", drop=9)]
    columns += [Col(m, "right", style="bold" if m == comparison.metric else "",
                    drop=0 if m == comparison.metric else 5) for m in metrics]
    uncertain = any(getattr(s, "interval", None) for s in comparison.candidates)
    if uncertain:  # bootstrap 95% interval of the ranking metric, and P(best is better)
        columns += [Col(f"{comparison.metric} 95% CI", "right", drop=3),
                    Col("P(best better)", "right", drop=4)]
    rows = []
    for scored in comparison.candidates:
        cells = [_number(scored.metrics.get(m)) for m in metrics]
        if uncertain:
            cells += _uncertainty_cells(scored, comparison.metric)
        rows.append(["★" if scored.name == comparison.best else "", scored.name, scored.algo,
                     *cells])
    title = (f"Leaderboard — {comparison.split} split, {comparison.rows:,} rows, "
             f"ranked by {comparison.metric}")
    print_fitted(title, columns, rows, key=1)
    if wide:
        hyperparameters_table(comparison.candidates)
        return
    winner = next((s for s in comparison.candidates if s.name == comparison.best), None)
    if winner is not None:
        console.print(f"★ {winner.name}: {format_hyperparameters(_own(winner.hyperparameters))}",
                      markup=False)
        trained = shown_metrics(winner.algo, winner.training_metrics)
        if trained:
            console.print(f"  trained: {trained}", markup=False)


def hyperparameters_table(candidates: list[Any]) -> None:
    """Every candidate's hyperparameters and training metrics (``--wide``)."""
    from smlp.algorithms.display import shown_metrics
    from smlp.cli.tune_render import format_hyperparameters

    columns = [Col("candidate"), Col("training metrics", wrap=True),
               Col("hyperparameters", wrap=True)]
    rows = [[s.name, shown_metrics(s.algo, s.training_metrics),
             format_hyperparameters(_own(s.hyperparameters))] for s in candidates]
    print_fitted("Hyperparameters", columns, rows, key=0)


def _metric_names(comparison: Any) -> list[str]:
    names: list[str] = []
    for scored in comparison.candidates:
        names += [name for name in scored.metrics if name not in names]
    return names


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def _own(hyperparameters: dict[str, str]) -> dict[str, str]:
    """The algorithm's hyperparameters, without the ones SageMaker keeps for itself."""
    return {k: v for k, v in hyperparameters.items()
            if not k.startswith("sagemaker_") and k != "_tuning_objective_metric"}


# -- tables that fit the terminal --------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """A table column: ``drop`` > 0 may be left out on a narrow terminal (highest first),
    ``wrap`` may fold over lines instead; the key column is never cut."""

    header: str
    justify: Literal["left", "center", "right"] = "left"
    drop: int = 0
    wrap: bool = False
    style: str = ""
    markup: bool = False  # cells are rich markup; otherwise plain text, shown as is

    def text(self, cell: str) -> Text:
        return Text.from_markup(cell) if self.markup else Text(cell)


WRAP_FLOOR = 16  # a folding column still gets this many characters before others are dropped


def fit_columns(columns: list[Col], rows: list[list[str]], width: int, key: int
                ) -> tuple[list[int], list[int]]:
    """The columns kept (indices) and the natural widths, so that a boxed table fits ``width``.

    Droppable columns go, highest ``drop`` first (rightmost first on ties), until the rest fit
    at their natural widths (folding columns at ``WRAP_FLOOR``); the key column always stays.
    """
    natural = [max([Text(c.header).cell_len] + [c.text(row[i]).cell_len for row in rows])
               for i, c in enumerate(columns)]

    def needed(kept: list[int]) -> int:  # heavy-head box: 1 edge, then 2 padding + 1 edge each
        return 1 + sum(3 + (min(natural[i], WRAP_FLOOR) if columns[i].wrap and i != key
                            else natural[i]) for i in kept)

    kept = list(range(len(columns)))
    for i in sorted((i for i, c in enumerate(columns) if c.drop and i != key),
                    key=lambda i: (-columns[i].drop, -i)):
        if needed(kept) <= width:
            break
        kept.remove(i)
    return kept, natural


def fitted_table(title: str, columns: list[Col], rows: list[list[str]], key: int,
                 width: int) -> tuple[Any, list[str]]:
    """A rich Table of the columns that fit, and the headers left out."""
    from rich.table import Table

    kept, natural = fit_columns(columns, rows, width, key)
    table = Table(title=title)
    for i in kept:
        column = columns[i]
        if i == key:
            table.add_column(Text(column.header), justify=column.justify, style=column.style,
                             no_wrap=True, min_width=natural[i])
        elif column.wrap:
            table.add_column(Text(column.header), justify=column.justify, style=column.style,
                             overflow="fold")
        else:
            table.add_column(Text(column.header), justify=column.justify, style=column.style,
                             no_wrap=True, overflow="ellipsis")
    for row in rows:
        table.add_row(*(columns[i].text(row[i]) for i in kept))
    return table, [columns[i].header for i in range(len(columns)) if i not in kept]


def print_fitted(title: str, columns: list[Col], rows: list[list[str]], key: int) -> None:
    table, hidden = fitted_table(title, columns, rows, key, console.width)
    console.print(table)
    if hidden:
        console.print(f"[dim]not shown at this width: {', '.join(hidden)} (a wider terminal "
                      "or --json shows them)[/]", markup=True)


def _uncertainty_cells(scored: Any, metric: str) -> list[str]:
    low, high = scored.interval.get(metric, [float("nan")] * 2)
    versus = scored.vs_best.get("p_best_better") if scored.vs_best else None
    return [f"{low:.4f}–{high:.4f}", "—" if versus is None else f"{versus:.2f}"]


def summary_json(summary: Any) -> dict[str, Any]:
    """``smlp run --json``: what the run printed, as data."""
    comparison = summary.comparison
    return {
        "best": comparison.best,
        "timings": summary.timings,
        "total_seconds": sum(summary.timings.values()),
        "comparison": comparison.to_json(),
        "predictions": list(summary.transform.outputs) if summary.transform else [],
        "store": summary.store,
        "manifest": f"{summary.store}/manifest.json",
    }
