"""``smlp train``: each algorithm trained becomes a candidate."""

from __future__ import annotations

from typing import Annotated

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
    watch,
)
from smlp.cli.render import EventRenderer


def train(
    algo: AlgoOption = None,
    hp: Annotated[list[str] | None, typer.Option(
        "--hp", metavar="NAME=VALUE", help="Hyperparameter override name=value or "
        "algo.name=value (repeatable; default: algorithms.<algo>.hyperparameters).")] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Train one or more algorithms on the prepared data; each becomes a candidate.

    Example: `smlp train --algo xgboost --hp max_depth=8 --hp eta=0.1`
    """
    from smlp.stages.train import train as run_train

    cfg = load(config, {"store": store, "backend.kind": backend}, dry_run)
    watch(cfg)
    artifacts, runner = open_project(cfg, needs="data")
    with EventRenderer(verbose=verbose) as events:
        candidates = run_train(cfg, artifacts, runner, split_algos(algo), hp, events)
    if show_plan(runner):
        return
    for candidate in candidates:
        console.print(f"{candidate.name}: {candidate.model.uri}")
