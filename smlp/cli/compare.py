"""``smlp compare``: every candidate scored on the same held-out split."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from smlp.cli.common import (
    BackendOption,
    ConfigOption,
    DryRunOption,
    MetricOption,
    StoreOption,
    VerboseOption,
    console,
    load,
    open_project,
    show_plan,
    watch,
)
from smlp.cli.render import EventRenderer, leaderboard


def compare(
    metric: MetricOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print comparison JSON only.")] = False,
    wide: Annotated[bool, typer.Option(
        "--wide", help="Every candidate's hyperparameters, not only the winner's.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Score every candidate on the same held-out split and pick the best.

    Example: `smlp compare --metric mae --json > comparison.json`
    """
    from smlp.stages.compare import compare as run_compare

    cfg = load(config, {"compare.metric": metric, "store": store, "backend.kind": backend},
               dry_run)
    watch(cfg)
    artifacts, runner = open_project(cfg, needs="candidates")
    with EventRenderer(verbose=verbose, quiet=as_json) as events:
        comparison = run_compare(cfg, artifacts, runner, cfg.compare.metric, events)
    if show_plan(runner):
        return
    if as_json:
        typer.echo(json.dumps(comparison.to_json(), indent=2))
        return
    leaderboard(comparison, wide=wide)
    console.print(f"best: [bold]{comparison.best}[/] — {comparison.uri}", markup=True)
