"""``smlp transform``: batch prediction with Batch Transform semantics."""

from __future__ import annotations

from typing import Annotated

import typer

from smlp.cli.common import (
    BackendOption,
    ConfigOption,
    DryRunOption,
    StoreOption,
    console,
    load,
    open_project,
    show_plan,
    watch,
)
from smlp.cli.render import EventRenderer


def transform(
    input: Annotated[str | None, typer.Option(
        "--input", "-i", help="CSV file or folder (default: the test split).")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Output folder (default: in the store).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="'best' or a candidate name.")] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Batch-predict a file or folder with SageMaker Batch Transform semantics."""
    from smlp.stages.transform import transform as run_transform

    cfg = load(config, {"store": store, "backend.kind": backend}, dry_run)
    watch(cfg)
    artifacts, runner = open_project(cfg, needs="best" if model in (None, "best") else
                                     "candidates")
    with EventRenderer() as events:
        result = run_transform(cfg, artifacts, runner, input, output, model, events)
    if show_plan(runner):
        return
    rate = result.rows / result.seconds if result.seconds else 0
    console.print(f"{result.rows:,} rows in {result.seconds:.2f} s ({rate:,.0f} rows/s)")
    for uri in result.outputs:
        console.print(uri)
