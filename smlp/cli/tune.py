"""``smlp tune``: search hyperparameters; each algorithm's best trial becomes a candidate."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from smlp.cli.common import (
    AlgoOption,
    BackendOption,
    ConfigOption,
    DryRunOption,
    StoreOption,
    VerboseOption,
    console,
    load,
    open_project,
    show_plan,
    split_algos,
)
from smlp.cli.render import EventRenderer


def tune(
    algo: AlgoOption = None,
    max_jobs: Annotated[int | None, typer.Option(
        "--max-jobs", "-n", help="Trials per algorithm (default: tuning.max_jobs, 20).")] = None,
    max_parallel_jobs: Annotated[int | None, typer.Option(
        "--max-parallel-jobs", "-j",
        help="Trials side by side (default: tuning.max_parallel_jobs, 2).")
    ] = None,
    strategy: Annotated[Literal["Bayesian", "Random", "Grid", "Hyperband"] | None, typer.Option(
        "--strategy", help="Search strategy (default: tuning.strategy, Bayesian).")] = None,
    early_stopping: Annotated[Literal["Off", "Auto"] | None, typer.Option(
        "--early-stopping", help="Stop poor trials early, Auto = median rule "
        "(default: tuning.early_stopping, Off).")] = None,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", help="Wall-time budget of the whole tune, all algorithms, in seconds "
        "(default: tuning.timeout_seconds, none).")
    ] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the last unfinished search of each algorithm.")] = False,
    warm_start: Annotated[list[str] | None, typer.Option(
        "--warm-start", help="Parent tuning job from the manifest (repeatable), or 'latest'.")
    ] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the leaderboards (tuning.json) as JSON only.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Tune hyperparameters; the best trial of each algorithm becomes <algo>-tuned.

    Example: `smlp tune --algo xgboost --max-jobs 30 --max-parallel-jobs 2`
    """
    from smlp.cli.tune_render import trials_table
    from smlp.stages.tune import tune as run_tune

    overrides = {"tuning.max_jobs": max_jobs, "tuning.max_parallel_jobs": max_parallel_jobs,
                 "tuning.strategy": strategy, "tuning.early_stopping": early_stopping,
                 "tuning.timeout_seconds": timeout, "store": store, "backend.kind": backend}
    if max_jobs is not None and max_parallel_jobs is None:
        # `--max-jobs 1` alone should not trip over the default of 2 trials side by side.
        default = load(config).tuning.max_parallel_jobs
        overrides["tuning.max_parallel_jobs"] = min(default, max_jobs)
    cfg = load(config, overrides, dry_run)
    artifacts, runner = open_project(cfg, needs="data")
    # Trial logs stay in each job's logs.txt; -v shows each trial job's status changes.
    with EventRenderer(verbose=verbose, quiet=as_json) as events:
        outcomes = run_tune(cfg, artifacts, runner, split_algos(algo), resume=resume,
                            warm_start=warm_start, events=events)
    if show_plan(runner):
        return
    if as_json:
        typer.echo(json.dumps([o.leaderboard for o in outcomes], indent=2))
        return
    for outcome in outcomes:
        trials_table(outcome.leaderboard, console)
        if outcome.candidate is not None:
            console.print(f"{outcome.candidate.name}: {outcome.candidate.model.uri}")
        console.print(f"leaderboard: {outcome.leaderboard_artifact.uri}")
