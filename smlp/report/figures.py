"""Static figures with matplotlib's Agg canvas: no display, no pyplot state, stable PNG bytes.

Each figure is drawn under matplotlib's default style (a user's matplotlibrc changes nothing)
and saved without the ``Software`` text chunk, so the same data gives the same PNG bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

DPI = 100
MAX_POINTS = 4000  # points per scatter; more only slows drawing and blurs the picture
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
# matplotlib's own defaults, plus what keeps output independent of the machine: one bundled
# font, and the SVG hash salt in case a figure is ever saved as SVG.
STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "svg.hashsalt": "smlp",
         "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": DPI}


@dataclass
class Figure:
    """One figure of the report: its file name beside index.html, caption and PNG bytes."""

    name: str
    title: str
    png: bytes
    caption: str = ""


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context(STYLE):
        yield


def draw(name: str, title: str, size: tuple[float, float],
         paint: Callable[[Any], None], caption: str = "", left: float = 0.6) -> Figure:
    """A figure of ``size`` inches, painted by ``paint(fig)`` and rendered to PNG.

    Margins are fixed (``left`` inches for the y labels) rather than solved by a layout
    engine, which would draw every figure several times over.
    """
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    with _style():
        figure = MplFigure(figsize=size, dpi=DPI)
        FigureCanvasAgg(figure)
        width, height = size
        figure.subplots_adjust(left=left / width, right=1 - 0.2 / width,
                               bottom=0.55 / height, top=1 - 0.4 / height,
                               wspace=0.3, hspace=0.55)
        paint(figure)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return Figure(name=name, title=title, png=buffer.getvalue(), caption=caption)


def thin(count: int, limit: int = MAX_POINTS, seed: int = 0) -> Any:
    """A deterministic, sorted subset of ``range(count)`` of at most ``limit`` rows."""
    import numpy as np

    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


# -- regression ----------------------------------------------------------------------------------
def regression_panels(name: str, labels: Any, predictions: Any) -> Figure:
    """Predicted vs actual, residuals vs predicted, and error by decile of the target."""
    import numpy as np

    y, p = np.asarray(labels, dtype=float), np.asarray(predictions, dtype=float)
    keep = thin(len(y))
    residual = y - p

    def paint(fig: Any) -> None:
        left, middle, right = fig.subplots(1, 3)
        low, high = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        left.scatter(y[keep], p[keep], s=4, alpha=0.35, color=PALETTE[0], linewidths=0)
        left.plot([low, high], [low, high], color="black", linewidth=1)
        left.set(xlabel="actual", ylabel="predicted", title="predicted vs actual")
        middle.scatter(p[keep], residual[keep], s=4, alpha=0.35, color=PALETTE[1],
                       linewidths=0)
        middle.axhline(0.0, color="black", linewidth=1)
        middle.set(xlabel="predicted", ylabel="actual − predicted", title="residuals")
        deciles = decile_errors(y, p)
        positions = np.arange(1, len(deciles["mae"]) + 1)
        right.bar(positions, deciles["mae"], color=PALETTE[2], label="mean |error|")
        right.plot(positions, deciles["bias"], color="black", marker="o", markersize=3,
                   label="mean (actual − predicted)")
        right.axhline(0.0, color="grey", linewidth=0.8)
        right.set(xlabel="decile of the actual target", title="error by target decile")
        right.set_xticks(positions)
        right.legend(loc="best", fontsize=7)

    return draw(f"{name}-regression.png", f"{name}: predictions on the test split",
                (12.0, 3.8), paint)


def decile_errors(labels: Any, predictions: Any) -> dict[str, Any]:
    """Mean absolute error and mean residual in each tenth of the rows, by the true target."""
    import numpy as np

    y, p = np.asarray(labels, dtype=float), np.asarray(predictions, dtype=float)
    order = np.argsort(y, kind="stable")
    parts = [part for part in np.array_split(order, min(10, len(y))) if len(part)]
    return {"mae": np.array([np.mean(np.abs(y[i] - p[i])) for i in parts]),
            "bias": np.array([np.mean(y[i] - p[i]) for i in parts])}


# -- leaderboard --------------------------------------------------------------------------------
def metric_intervals(metric: str, names: list[str], points: list[float],
                     intervals: list[list[float]]) -> Figure:
    """The ranking metric with its bootstrap 95% interval, per candidate (best on top)."""
    import numpy as np

    def paint(fig: Any) -> None:
        ax = fig.subplots()
        rows = np.arange(len(names))[::-1]
        low = [point - i[0] for point, i in zip(points, intervals, strict=True)]
        high = [i[1] - point for point, i in zip(points, intervals, strict=True)]
        ax.errorbar(points, rows, xerr=[low, high], fmt="o", color=PALETTE[0], capsize=4)
        ax.set_yticks(rows, names)
        ax.set(xlabel=f"{metric} on the test split (bootstrap 95% interval)")

    return draw("leaderboard.png", f"{metric} with its 95% interval",
                (7.0, 1.2 + 0.45 * len(names)), paint, left=label_inches(names))


# -- importance -------------------------------------------------------------------------------
def importance_bars(metric: str, columns: list[str],
                    per_candidate: dict[str, dict[str, tuple[float, float]]]) -> Figure:
    """Permutation importance of each original column, one panel per candidate."""
    import numpy as np

    names = list(per_candidate)

    def paint(fig: Any) -> None:
        axes = np.atleast_1d(fig.subplots(1, len(names), sharey=True))
        rows = np.arange(len(columns))[::-1]
        for index, (ax, name) in enumerate(zip(axes, names, strict=True)):
            values = per_candidate[name]
            means = [values.get(c, (np.nan, 0.0))[0] for c in columns]
            spread = [values.get(c, (np.nan, 0.0))[1] for c in columns]
            ax.barh(rows, means, xerr=spread, color=PALETTE[index % len(PALETTE)], capsize=2)
            ax.axvline(0.0, color="black", linewidth=0.8)
            ax.set(title=name, xlabel=f"{metric} worse by")
            ax.set_yticks(rows, columns)

    return draw("importance.png", "Permutation importance (original columns)",
                (3.2 * len(names) + label_inches(columns), 1.2 + 0.32 * len(columns)), paint,
                left=label_inches(columns))


def shap_summary(name: str, columns: list[str], contributions: Any, values: Any) -> Figure:
    """Each row's SHAP value per column (a strip per column, coloured by the column's value
    rank), columns by mean |SHAP|."""
    import numpy as np

    contributions = np.asarray(contributions, dtype=float)
    keep = thin(contributions.shape[0], 2000)
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, size=len(keep))

    def paint(fig: Any) -> None:
        ax = fig.subplots()
        for row, column in enumerate(columns[::-1]):
            index = columns.index(column)
            shown = contributions[keep, index]
            colour = values[index][keep] if values[index] is not None else np.zeros(len(keep))
            ax.scatter(shown, row + jitter, c=colour, cmap="coolwarm", s=3, linewidths=0,
                       vmin=0.0, vmax=1.0)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(np.arange(len(columns)), columns[::-1])
        ax.set(xlabel="SHAP value (contribution to the prediction)",
               title=f"{name}: per-row contributions (blue low → red high value)")

    return draw(f"{name}-shap.png", f"{name}: SHAP summary", (8.0, 1.2 + 0.35 * len(columns)),
                paint, left=label_inches(columns))


def label_inches(labels: list[str]) -> float:
    """Room for the longest y tick label at the default 9 pt font."""
    return 0.35 + 0.075 * max((len(label) for label in labels), default=4)
