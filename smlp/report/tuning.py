"""The searches behind tuned candidates, from the manifest's tuning records: objective per
trial with the best so far, each hyperparameter against the objective (a slice view), and
optuna's hyperparameter importance when the study journal is in the store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from smlp.report.figures import PALETTE, Figure, draw
from smlp.store import Store

SEED = 0


@dataclass
class TuningSummary:
    name: str
    algo: str
    objective: str
    direction: str
    trials: int
    completed: int
    best: str | None
    best_objective: float | None
    importance: dict[str, float] = field(default_factory=dict)
    importance_note: str = ""
    figures: list[Figure] = field(default_factory=list)


def summarize(store: Store, record: Any) -> TuningSummary | None:
    """None for a search with no completed trial (nothing to show)."""
    done = [t for t in record.trials if t.status == "Completed" and t.objective is not None]
    if not done:
        return None
    minimize = record.objective_type == "Minimize"
    best = min(done, key=lambda t: t.objective) if minimize else max(
        done, key=lambda t: t.objective)
    summary = TuningSummary(
        name=record.name, algo=record.algo, objective=record.objective_metric,
        direction=record.objective_type, trials=len(record.trials), completed=len(done),
        best=best.name, best_objective=best.objective)
    summary.importance, summary.importance_note = optuna_importance(store, record.name)
    summary.figures.append(_progress(record, done, minimize))
    varied = _varied(done)
    if varied:
        summary.figures.append(_slices(record, done, varied))
    return summary


def optuna_importance(store: Store, job_name: str) -> tuple[dict[str, float], str]:
    """fANOVA importance (seeded) of each searched hyperparameter, from the study journal."""
    import tempfile
    from pathlib import Path

    key = f"tuning/{job_name}/study.journal"
    if not store.exists(key):
        return {}, "no study journal in the store (a SageMaker tuning job keeps none)"
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.journal"
        path.write_bytes(store.read_bytes(key))
        storage = JournalStorage(JournalFileBackend(str(path)))
        try:
            study = optuna.load_study(study_name=job_name, storage=storage)
            found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=SEED))
        except (ValueError, RuntimeError, KeyError) as exc:
            return {}, f"optuna could not rank the hyperparameters ({exc})"
    if not found:
        return {}, "optuna found no hyperparameter that varied"
    return ({name: float(value) for name, value in found.items()},
            "optuna's fANOVA importance (seed 0) over the completed trials")


def _value(text: str) -> float | str:
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _varied(done: list[Any]) -> list[str]:
    names = sorted({name for t in done for name in t.hyperparameters})
    return [n for n in names if len({t.hyperparameters.get(n) for t in done}) > 1]


def _progress(record: Any, done: list[Any], minimize: bool) -> Figure:
    import numpy as np

    order = list(range(1, len(done) + 1))
    values = np.array([t.objective for t in done], dtype=float)
    best = np.minimum.accumulate(values) if minimize else np.maximum.accumulate(values)

    def paint(fig: Any) -> None:
        ax = fig.subplots()
        ax.scatter(order, values, s=12, color=PALETTE[0], label="trial")
        ax.step(order, best, where="post", color=PALETTE[3], label="best so far")
        ax.set(xlabel="completed trial", ylabel=record.objective_metric,
               title=f"{record.name} ({record.algo}, {record.strategy})")
        ax.legend(fontsize=7)

    return draw(f"tuning-{record.name}-trials.png", f"{record.name}: objective per trial",
                (7.0, 3.2), paint)


def _slices(record: Any, done: list[Any], names: list[str]) -> Figure:
    import numpy as np

    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    objective = np.array([t.objective for t in done], dtype=float)

    def paint(fig: Any) -> None:
        axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
        for ax, name in zip(axes, names, strict=False):
            raw = [_value(t.hyperparameters.get(name, "")) for t in done]
            if all(isinstance(v, float) for v in raw):
                x = np.array(raw, dtype=float)
                ax.scatter(x, objective, s=10, c=np.arange(len(x)), cmap="viridis")
                positive = x[x > 0]
                if len(positive) == len(x) and positive.max() / positive.min() > 100:
                    ax.set_xscale("log")
            else:
                labels = sorted({str(v) for v in raw})
                x = np.array([labels.index(str(v)) for v in raw])
                ax.scatter(x, objective, s=10, c=np.arange(len(x)), cmap="viridis")
                ax.set_xticks(range(len(labels)), labels, fontsize=7)
            ax.set_title(name, fontsize=9)
            ax.tick_params(labelsize=7)
        axes[0].set_ylabel(record.objective_metric)
        for ax in axes[len(names):]:
            ax.set_visible(False)

    return draw(f"tuning-{record.name}-slices.png",
                f"{record.name}: each hyperparameter against the objective (colour: trial order)",
                (3.0 * columns, 2.6 * rows), paint)
