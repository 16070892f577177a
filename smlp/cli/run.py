"""``smlp run``: the whole pipeline in one command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from smlp.cli.common import (
    AlgoOption,
    BackendOption,
    ConfigOption,
    DryRunOption,
    MetricOption,
    ProblemTypeOption,
    StoreOption,
    VerboseOption,
    console,
    load,
    open_project,
    show_plan,
    split_algos,
    watch,
)
from smlp.cli.render import EventRenderer, leaderboard, summary_json


def run(
    input: Annotated[Path | None, typer.Option(
        "--input", "-i", help="Your CSV/Parquet instead of synthetic data.")] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Target column.")] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="ID column.")] = None,
    algo: AlgoOption = None,
    metric: MetricOption = None,
    tune: Annotated[bool, typer.Option("--tune", help="Tune hyperparameters too.")] = False,
    report: Annotated[bool, typer.Option(
        "--report/--no-report", help="End with the HTML report (`smlp report`).")] = True,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the run summary as JSON on stdout (progress stays on stderr).")
    ] = False,
    wide: Annotated[bool, typer.Option(
        "--wide", help="Every candidate's hyperparameters, not only the winner's.")] = False,
    problem_type: ProblemTypeOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """The whole pipeline: data, train (and tune), compare, transform the test split, report.

    Example: `smlp run -i houses.csv -t price --algo xgboost,knn --tune`
    """
    from smlp.errors import ConfigError
    from smlp.stages.run import run_pipeline

    if (input is None) != (target is None):
        raise ConfigError("--input and --target go together")
    cfg = load(config, {"store": store, "backend.kind": backend, "compare.metric": metric,
                        "data.problem_type": problem_type}, dry_run)
    watch(cfg)
    artifacts, runner = open_project(cfg)
    with EventRenderer(verbose=verbose, live=not as_json) as events:
        summary = run_pipeline(cfg, artifacts, runner, input, target, id_column, tune, events,
                               algorithms=split_algos(algo), report=report)
    if show_plan(runner):
        return
    if as_json:
        typer.echo(json.dumps(summary_json(summary), indent=2))
        return
    leaderboard(summary.comparison, wide=wide)
    timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in summary.timings.items())
    console.print(f"stages: {timings} (total {sum(summary.timings.values()):.1f} s)")
    console.print(f"best model: [bold]{summary.comparison.best}[/]", markup=True)
    console.print(f"comparison: {summary.comparison.uri}")
    for uri in summary.transform.outputs:
        console.print(f"predictions: {uri}")
    console.print(f"manifest: {summary.store}/manifest.json")
    if summary.report is not None:
        console.print(f"report: {summary.report.uri} ({summary.report.seconds:.1f} s)")
