"""``smlp transform``: batch prediction with Batch Transform semantics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from smlp.cli.common import (
    BackendOption,
    ConfigOption,
    DryRunOption,
    StoreOption,
    VerboseOption,
    console,
    load,
    open_project,
    show_plan,
    watch,
)
from smlp.cli.render import EventRenderer

# Below this many rows a rate measures fixed costs (the reader thread, the first parse, the
# output's rename) as much as the rows: 6 rows "at 2 rows/s" says nothing about 6 million.
# Measured with the benchmark's model: run_batch reaches ~65 % of its steady rate at 10,000
# rows and ~90 % at 100,000.
RATE_MIN_ROWS = 100_000


def transform(
    input: Annotated[str | None, typer.Option(
        "--input", "-i", help="CSV file or folder (default: the test split).")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Output folder (default: in the store).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="'best' or a candidate name.")] = None,
    raw: Annotated[bool, typer.Option(
        "--raw", help="SageMaker's output shape for input with a header too: the prediction "
        "alone, no header, no ID column.")] = False,
    input_filter: Annotated[str | None, typer.Option(
        "--input-filter", help="JSONPath of the columns fed to the model, e.g. '$[1:]' "
        "(SageMaker's DataProcessing.InputFilter).")] = None,
    join_source: Annotated[Literal["None", "Input"] | None, typer.Option(
        "--join-source", help="'Input' appends the prediction to the input row "
        "(DataProcessing.JoinSource).")] = None,
    output_filter: Annotated[str | None, typer.Option(
        "--output-filter", help="JSONPath of the fields written, e.g. '$[0,-1]' "
        "(DataProcessing.OutputFilter).")] = None,
    probabilities: Annotated[bool, typer.Option(
        "--probabilities", help="Classification: one probability per class under a header "
        "of the class names, instead of the predicted label.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Batch-predict a file or folder with SageMaker Batch Transform semantics.

    Input with a header gives a header and the ID column (from `smlp data prepare
    --id-column`) beside each prediction; --raw or any filter gives SageMaker's output.

    Examples: `smlp transform -i new.csv -o predictions/`;
    `smlp transform -i rows.csv --input-filter '$[1:]' --join-source Input
    --output-filter '$[0,-1]'`
    """
    from smlp.stages.transform import transform as run_transform

    _check_filters(input_filter, output_filter)
    cfg = load(config, {"store": store, "backend.kind": backend,
                        "transform.raw": True if raw else None,
                        "transform.input_filter": input_filter,
                        "transform.join_source": join_source,
                        "transform.output_filter": output_filter}, dry_run)
    watch(cfg)
    artifacts, runner = open_project(cfg, needs="best" if model in (None, "best") else
                                     "candidates")
    with EventRenderer(verbose=verbose) as events:
        result = run_transform(cfg, artifacts, runner, input, output, model, events,
                               probabilities=probabilities)
    if show_plan(runner):
        return
    console.print(throughput(result))
    for uri in result.outputs:
        console.print(uri)


def throughput(result: Any) -> str:
    """``N rows in T s``, with a rate only where it measures the rows.

    The rate is over the streaming part (read, predict, write), not the start-up and model
    load before it, and only from ``RATE_MIN_ROWS`` rows; SageMaker's job time includes its
    instances' start-up, so it gets no rate.
    """
    line = f"{result.rows:,} rows in {result.seconds:.2f} s"
    streaming = result.batch_seconds
    if streaming is None or streaming <= 0 or result.rows < RATE_MIN_ROWS:
        return line
    start_up = max(result.seconds - streaming, 0.0)
    return f"{line} ({result.rows / streaming:,.0f} rows/s after {start_up:.2f} s of start-up)"


def _check_filters(input_filter: str | None, output_filter: str | None) -> None:
    """A typo in a filter flag is named as the flag, before any config or store is read."""
    from smlp.batch.jsonpath import parse_path

    parse_path(input_filter, "--input-filter")
    parse_path(output_filter, "--output-filter")
