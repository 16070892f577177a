"""``smlp run``: data -> train (-> tune) -> compare -> transform -> report, timed per stage."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smlp.backends.base import Backend, TransformResult
from smlp.config import Config
from smlp.events import Event, EventSink, ignore
from smlp.stages import compare as compare_stage
from smlp.stages import data as data_stage
from smlp.stages import train as train_stage
from smlp.stages import transform as transform_stage
from smlp.store import Store


@dataclass
class RunSummary:
    timings: dict[str, float] = field(default_factory=dict)
    comparison: Any = None
    transform: TransformResult | None = None
    store: str = ""
    report: Any = None  # smlp.report.build.ReportResult


def run_pipeline(config: Config, store: Store, backend: Backend, input_path: Path | None = None,
                 target: str | None = None, id_column: str | None = None, tune: bool = False,
                 events: EventSink = ignore, algorithms: list[str] | None = None,
                 report: bool = True) -> RunSummary:
    """``algorithms`` (``--algo``) narrows what is trained and tuned; None means every
    enabled one. ``report=False`` (``--no-report``) skips the HTML report."""
    summary = RunSummary(store=store.root)

    def timed(stage: str, work: Any) -> Any:
        events(Event("stage", stage))
        started = time.perf_counter()
        result = work()
        summary.timings[stage] = time.perf_counter() - started
        return result

    if input_path is not None:
        timed("prepare", lambda: data_stage.prepare(config, store, input_path, target or "",
                                                    id_column, events))
    elif config.data.source == "file":
        timed("prepare", lambda: data_stage.prepare(
            config, store, Path(config.data.input or ""), config.data.target or "",
            config.data.id_column, events))
    else:
        timed("generate", lambda: data_stage.generate(config, store, events))
    replaced = train_stage.resolve_algorithms(config, algorithms)
    if tune:
        from smlp.stages.tune import TUNED_SUFFIX, resolve_tuning_algorithms

        replaced += [name + TUNED_SUFFIX for name in resolve_tuning_algorithms(config, algorithms)]
    compare_stage.check_candidates(store, backend, replaced)  # before any (billed) job
    timed("train", lambda: train_stage.train(config, store, backend, algorithms, None, events))
    if tune:
        from smlp.stages.tune import tune as tune_stage

        timed("tune", lambda: tune_stage(config, store, backend, algorithms, events=events))
    summary.comparison = timed(
        "compare", lambda: compare_stage.compare(config, store, backend, None, events))
    summary.transform = timed(
        "transform", lambda: transform_stage.transform(config, store, backend, events=events))
    if report and not getattr(backend, "dry_run", False):  # a dry run has no results
        from smlp.report.build import build_report

        events(Event("stage", "report"))  # timed by itself (ReportResult.seconds)
        summary.report = build_report(config, store, events)
    return summary
