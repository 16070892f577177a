"""``smlp data generate|prepare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from smlp.cli.common import (
    BackendOption,
    ConfigOption,
    DryRunOption,
    ProblemTypeOption,
    SplitsOption,
    StoreOption,
    VerboseOption,
    console,
    load,
    open_project,
    show_plan,
    split_fractions,
)
from smlp.cli.render import EventRenderer

app = typer.Typer(help="Create or import the dataset.", no_args_is_help=True)


@app.command()
def generate(
    config: ConfigOption = None,
    store: StoreOption = None,
    rows: Annotated[int | None, typer.Option(
        help="Rows to synthesize (default: data.rows, 20640).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: data.seed, 42).")] = None,
    splits: SplitsOption = None,
    problem_type: ProblemTypeOption = None,
) -> None:
    """Synthesize California-housing-style data and write SageMaker-format splits.

    --problem-type binary (Expensive: value above 2.5) or multiclass (PriceBand: four value
    bands) derives a classification target from the same generator.

    Example: `smlp data generate --rows 50000 --splits 0.8,0.1,0.1`
    """
    from smlp.stages.data import generate as run_generate
    from smlp.store import open_store

    cfg = load(config, {"data.rows": rows, "data.seed": seed, "store": store,
                        **split_fractions(splits),
                        "data.problem_type": problem_type})
    with EventRenderer() as events:
        record = run_generate(cfg, open_store(cfg.store), events)
    console.print(f"data ready in {_data_folder(record)}")


@app.command()
def prepare(
    input: Annotated[str, typer.Option(
        "--input", "-i", metavar="PATH", help="CSV or Parquet file; with --backend sagemaker, "
        "s3://bucket/key of one object or of a folder of CSV or Parquet objects.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Target column.")],
    id_column: Annotated[str | None, typer.Option("--id-column", help="ID column.")] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    seed: Annotated[int | None, typer.Option(help="Split seed (default: data.seed, 42).")] = None,
    standardize: Annotated[bool | None, typer.Option(
        "--standardize/--no-standardize",
        help="Scale numeric features (default: data.standardize, on).")] = None,
    splits: SplitsOption = None,
    problem_type: ProblemTypeOption = None,
    backend: BackendOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Turn your own table into SageMaker-format splits plus a recorded schema.

    With --backend sagemaker the input is already in S3 and two SageMaker Processing jobs
    prepare it (backend.processing: instance type and count, volume, runtime).

    Example: `smlp data prepare -i houses.csv -t price --id-column house_id`
    """
    from smlp.stages.data import prepare as run_prepare
    from smlp.store import open_store

    cfg = load(config, {"data.seed": seed, "data.standardize": standardize, "store": store,
                        **split_fractions(splits),
                        "data.problem_type": problem_type, "backend.kind": backend}, dry_run)
    from smlp.errors import ConfigError

    # A local file is prepared here (and uploaded to the store) even when the config trains on
    # SageMaker; Processing jobs run for input already in S3, or when --backend asks for them.
    if cfg.backend.kind == "sagemaker" and (input.startswith("s3://") or backend):
        _prepare_on_sagemaker(cfg, input, target, id_column, verbose)
        return
    if input.startswith("s3://"):
        raise ConfigError(f"--input {input}: the local backend reads local files; download it, "
                          "or prepare it where it is with --backend sagemaker")
    if dry_run:
        raise ConfigError(f"--dry-run: {input} is prepared on this machine, which sends no "
                          "request to plan; a dry run is for --backend sagemaker")
    with EventRenderer() as events:
        record = run_prepare(cfg, open_store(cfg.store), Path(input), target, id_column, events)
    console.print(f"{len(record.features)} features; data ready in {_data_folder(record)}")


def _prepare_on_sagemaker(cfg: Any, input: str, target: str, id_column: str | None,
                          verbose: bool) -> None:
    from smlp.stages.data_sagemaker import prepare_on_sagemaker

    artifacts, runner = open_project(cfg)
    with EventRenderer(verbose=verbose) as events:
        record = prepare_on_sagemaker(cfg, artifacts, runner, input, target, id_column,
                                      events)
    if show_plan(runner) or record is None:
        return
    console.print(f"{len(record.features)} features; data ready in {_data_folder(record)}")


def _data_folder(record: object) -> str:
    return record.splits["train"].uri.rsplit("/", 1)[0]  # type: ignore[attr-defined]
