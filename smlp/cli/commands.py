"""Top-level commands: train, compare, transform, run, status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from smlp.cli.common import (
    AlgoOption,
    BackendOption,
    ConfigOption,
    DryRunOption,
    StoreOption,
    console,
    err_console,
    load,
    open_project,
    show_plan,
    split_algos,
)
from smlp.cli.render import EventRenderer, leaderboard

VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Stream job logs.")]


def watch(cfg: Any) -> None:
    """Let this command's crash marker name its job folders (see smlp.recovery)."""
    from smlp.recovery import watch_work_dir

    if cfg.backend.kind == "local":
        watch_work_dir(cfg.backend.work_dir)


def train(
    algo: AlgoOption = None,
    hp: Annotated[list[str] | None, typer.Option(
        "--hp", help="Hyperparameter override name=value or algo.name=value (repeatable).")] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Train one or more algorithms on the prepared data; each becomes a candidate."""
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


def compare(
    metric: Annotated[str | None, typer.Option(
        "--metric", "-m", help="rmse, mse, mae or r2 (default: from config).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print comparison JSON only.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Score every candidate on the same held-out split and pick the best."""
    from smlp.stages.compare import compare as run_compare

    cfg = load(config, {"compare.metric": metric, "store": store, "backend.kind": backend},
               dry_run)
    watch(cfg)
    artifacts, runner = open_project(cfg, needs="candidates")
    with EventRenderer(quiet=as_json) as events:
        comparison = run_compare(cfg, artifacts, runner, cfg.compare.metric, events)
    if show_plan(runner):
        return
    if as_json:
        typer.echo(json.dumps(comparison.to_json(), indent=2))
        return
    leaderboard(comparison)
    console.print(f"best: [bold]{comparison.best}[/] — {comparison.uri}", markup=True)


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


def run(
    input: Annotated[Path | None, typer.Option(
        "--input", "-i", help="Your CSV/Parquet instead of synthetic data.")] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Target column.")] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="ID column.")] = None,
    tune: Annotated[bool, typer.Option("--tune", help="Tune hyperparameters too.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """The whole pipeline: data, train, compare, transform the test split."""
    from smlp.errors import ConfigError
    from smlp.stages.run import run_pipeline

    if (input is None) != (target is None):
        raise ConfigError("--input and --target go together")
    cfg = load(config, {"store": store, "backend.kind": backend}, dry_run)
    watch(cfg)
    artifacts, runner = open_project(cfg)
    with EventRenderer(verbose=verbose) as events:
        summary = run_pipeline(cfg, artifacts, runner, input, target, id_column, tune, events)
    if show_plan(runner):
        return
    leaderboard(summary.comparison)
    timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in summary.timings.items())
    console.print(f"stages: {timings} (total {sum(summary.timings.values()):.1f} s)")
    console.print(f"best model: [bold]{summary.comparison.best}[/]", markup=True)
    console.print(f"comparison: {summary.comparison.uri}")
    for uri in summary.transform.outputs:
        console.print(f"predictions: {uri}")
    console.print(f"manifest: {summary.store}/manifest.json")


def status(config: ConfigOption = None, store: StoreOption = None) -> None:
    """Show what the manifest holds: stages, candidates, metrics, artifacts."""
    from rich.table import Table

    from smlp.errors import SmlpError
    from smlp.manifest import load_manifest, update_manifest
    from smlp.recovery import interrupted_attempts, last_completed, recover
    from smlp.store import open_store

    cfg = load(config, {"store": store})
    artifacts = open_store(cfg.store)
    try:  # a stage killed outright: recorded as interrupted, its leftovers cleaned
        found = recover(artifacts, update_manifest)
    except (SmlpError, OSError) as exc:
        err_console.print(f"could not check for interrupted stages: {exc}")
        found = None
    manifest = load_manifest(artifacts)
    attempts = interrupted_attempts(manifest)
    successes = last_completed(manifest)
    if not manifest.stages and not attempts:
        console.print(f"{artifacts.root}: no stages recorded yet; start with `smlp run` or "
                      "`smlp data generate`")
        return
    stages = Table(title=f"Stages — {artifacts.root}")
    for column in ("stage", "status", "finished", "seconds", "command"):
        stages.add_column(column)
    for name, record in manifest.stages.items():
        colour = {"completed": "green", "failed": "red"}.get(record.status, "yellow")
        stages.add_row(name, f"[{colour}]{record.status}[/]", record.finished_at or "",
                       f"{record.duration_s or 0:.1f}", record.command)
        success = successes.get(name)
        if success is not None and record.status != "completed":  # the failure replaced it
            stages.add_row(f"{name} (last success)", "[green]completed[/]",
                           success.get("finished_at") or "",
                           f"{success.get('duration_s') or 0:.1f}", success.get("command", ""))
        if name in attempts:  # interrupted after this record was written
            stages.add_row(f"{name} (interrupted attempt)", "[red]interrupted[/]", "", "",
                           attempts[name].get("command", ""))
    for name, attempt in attempts.items():
        if name not in manifest.stages:
            stages.add_row(name, "[red]interrupted[/]", "", "", attempt.get("command", ""))
    console.print(stages)
    for name, record in manifest.stages.items():
        if record.error:
            console.print(f"[red]{name} failed:[/] {record.error}", markup=True)
    for name, attempt in attempts.items():
        record = manifest.stages.get(name)
        last = successes.get(name) if record is not None and record.status != "completed" \
            else (record.model_dump() if record is not None else None)
        kept = (f"; its last completed run ({last.get('finished_at')}) is kept"
                if last is not None else "")
        console.print(f"[red]{name} interrupted[/] (started {attempt.get('started_at')}): "
                      f"{attempt.get('error')}{kept}", markup=True)
    if found is not None:
        for marker in found.live + found.elsewhere:
            console.print(f"{marker.stage} running since {marker.started_at} "
                          f"(process {marker.pid} on {marker.host}): {marker.command}")
        if found.stopped_jobs:
            console.print("job folders left InProgress, now Stopped (interrupted): "
                          + ", ".join(found.stopped_jobs))
        if found.removed_partials:
            console.print(f"removed {len(found.removed_partials)} partial file(s) the "
                          "interrupted stage left")
    if manifest.candidates:
        table = Table(title="Candidates")
        for column in ("candidate", "source", "job", "training metrics", "model"):
            table.add_column(column)
        for name, candidate in manifest.candidates.items():
            marker = " ★" if name == manifest.best else ""
            metrics = ", ".join(f"{k}={v:.4f}" for k, v in candidate.training_metrics.items()
                                if not k.startswith("train:"))
            table.add_row(name + marker, candidate.source, candidate.job_name, metrics,
                          candidate.model.uri)
        console.print(table)
    if manifest.tuning:
        tuning = Table(title="Tuning jobs")
        for column in ("job", "algorithm", "status", "strategy", "trials", "best"):
            tuning.add_column(column)
        for name, run in manifest.tuning.items():
            scores = [t.objective for t in run.trials if t.objective is not None]
            pick = min if run.objective_type == "Minimize" else max
            best = f"{run.objective_metric}={pick(scores):.4f}" if scores else ""
            tuning.add_row(name, run.algo, run.status, run.strategy,
                           f"{len(run.trials)}/{run.max_jobs}", best)
        console.print(tuning)
    if manifest.data is not None:
        rows = ", ".join(f"{k} {v:,}" for k, v in manifest.data.rows.items())
        console.print(f"data: {rows}; {len(manifest.data.features)} features")
    if manifest.comparison is not None:
        console.print(f"comparison: {manifest.comparison.uri}")
    stale = manifest.stale_best()
    if stale is not None:
        console.print(f"[yellow]the comparison is stale:[/] {stale}; run `smlp compare`",
                      markup=True)


def register(app: typer.Typer) -> None:
    for command in (train, compare, transform, run, status):
        app.command()(command)
