"""``smlp status``: what the manifest holds."""

from __future__ import annotations

from smlp.cli.common import (
    ConfigOption,
    StoreOption,
    console,
    err_console,
    load,
)


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
