"""``smlp status``: what the manifest holds."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from smlp.cli.common import (
    ConfigOption,
    StoreOption,
    console,
    err_console,
    load,
)


def status(
    config: ConfigOption = None,
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the status as JSON only (stages, candidates, tuning, data).")
    ] = False,
) -> None:
    """Show what the manifest holds: stages, candidates, metrics, artifacts.

    Example: smlp status --json | jq .stages.train.status
    """
    from smlp.errors import SmlpError
    from smlp.manifest import load_manifest, update_manifest
    from smlp.recovery import recover
    from smlp.store import open_store

    cfg = load(config, {"store": store})
    artifacts = open_store(cfg.store)
    try:  # a stage killed outright: recorded as interrupted, its leftovers cleaned
        found = recover(artifacts, update_manifest)
    except (SmlpError, OSError) as exc:
        err_console.print(f"could not check for interrupted stages: {exc}", markup=False)
        found = None
    state = collect(artifacts.root, load_manifest(artifacts), found)
    if as_json:
        typer.echo(json.dumps(state, indent=2))
    else:
        show(state)


def collect(root: str, manifest: Any, found: Any) -> dict[str, Any]:
    """Everything status shows, as JSON-ready data (the one source of both outputs)."""
    from dataclasses import asdict

    from smlp.algorithms.display import metric_split
    from smlp.recovery import interrupted_attempts, last_completed

    attempts = interrupted_attempts(manifest)
    successes = last_completed(manifest)
    stages: dict[str, Any] = {}
    for name, record in manifest.stages.items():
        entry = record.model_dump(mode="json", include={
            "command", "status", "started_at", "finished_at", "duration_s", "jobs", "error"})
        success = successes.get(name) if record.status != "completed" else None
        entry["last_success"] = _brief(success) if success is not None else None
        entry["interrupted_attempt"] = attempts.get(name)
        stages[name] = entry
    for name, attempt in attempts.items():
        stages.setdefault(name, {"command": attempt.get("command", ""), "status": "interrupted",
                                 "last_success": None, "interrupted_attempt": attempt})
    candidates = {}
    for name, candidate in manifest.candidates.items():
        entry = candidate.model_dump(mode="json", include={
            "algo", "source", "job_name", "hyperparameters", "training_metrics", "backend",
            "created_at"})
        entry["training_metrics_split"] = {
            metric: metric_split(candidate.algo, metric)
            for metric in candidate.training_metrics}
        entry["model"] = candidate.model.uri
        entry["best"] = name == manifest.best
        candidates[name] = entry
    tuning = {}
    for name, run in manifest.tuning.items():
        scores = [t.objective for t in run.trials if t.objective is not None]
        pick = min if run.objective_type == "Minimize" else max
        tuning[name] = {"algo": run.algo, "status": run.status, "strategy": run.strategy,
                        "objective_metric": run.objective_metric,
                        "objective_type": run.objective_type, "trials": len(run.trials),
                        "max_jobs": run.max_jobs, "best": run.best,
                        "best_objective": pick(scores) if scores else None}
    data = None
    if manifest.data is not None:
        data = {"rows": manifest.data.rows, "features": len(manifest.data.features),
                "shards": {name: len(split.shards)
                           for name, split in manifest.data.splits.items()}}
    running = []
    if found is not None:
        running = [asdict(marker) for marker in found.live + found.elsewhere]
    return {
        "store": root, "stages": stages, "candidates": candidates, "best": manifest.best,
        "tuning": tuning, "data": data,
        "comparison": manifest.comparison.uri if manifest.comparison is not None else None,
        "stale": manifest.stale_best(), "running": running,
        "recovered": {"stopped_jobs": found.stopped_jobs,
                      "removed_partials": found.removed_partials} if found is not None else None,
    }


def _brief(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("command", "status", "started_at", "finished_at", "duration_s")
    return {key: record.get(key) for key in keys}


def _when(stamp: str | None) -> str:
    """``2026-12-02T01:25:33+00:00`` as ``2026-12-02 01:25:33Z``: short enough to stay whole."""
    return (stamp or "").replace("T", " ").replace("+00:00", "Z")


def show(state: dict[str, Any]) -> None:
    from smlp.algorithms.display import shown_metrics
    from smlp.cli.render import Col, print_fitted

    stages, root = state["stages"], state["store"]
    if not stages:
        console.print(f"{root}: no stages recorded yet; start with `smlp run` or "
                      "`smlp data generate`", markup=False)
        return
    columns = [Col("stage"), Col("status", markup=True), Col("finished", drop=2),
               Col("seconds", "right", drop=3), Col("command", wrap=True)]
    rows = []
    colours = {"completed": "green", "failed": "red"}
    for name, entry in stages.items():
        success = entry.get("last_success")
        if success is not None:  # a later attempt failed: the stage's state is still this one
            rows.append([name, "[green]completed[/]",
                         _when(success.get("finished_at")),
                         f"{success.get('duration_s') or 0:.1f}", success.get("command", "")])
            name_shown = f"{name} ({entry['status']} attempt)"
        else:
            name_shown = name
        colour = colours.get(entry["status"], "yellow")
        rows.append([name_shown, f"[{colour}]{entry['status']}[/]", _when(entry.get("finished_at")),
                     f"{entry.get('duration_s') or 0:.1f}" if entry["status"] != "interrupted"
                     else "", entry.get("command", "")])
        attempt = entry.get("interrupted_attempt")
        if attempt is not None and entry["status"] != "interrupted":
            rows.append([f"{name} (interrupted attempt)", "[red]interrupted[/]", "", "",
                         attempt.get("command", "")])
    print_fitted(f"Stages — {root}", columns, rows, key=0)
    for name, entry in stages.items():
        if entry.get("error"):
            kept = (" — the completed run above (last success) is kept"
                    if entry.get("last_success") else "")
            console.print(f"[red]{name} failed:[/] {_plain(entry['error'])}{kept}", markup=True)
        attempt = entry.get("interrupted_attempt")
        if attempt is not None:
            last = entry.get("last_success") or (entry if entry["status"] == "completed" else None)
            kept = (f"; its last completed run ({last.get('finished_at')}) is kept"
                    if last is not None else "")
            console.print(f"[red]{name} interrupted[/] (started {attempt.get('started_at')}): "
                          f"{_plain(str(attempt.get('error')))}{kept}", markup=True)
    for marker in state["running"]:
        console.print(f"{marker['stage']} running since {marker['started_at']} (process "
                      f"{marker['pid']} on {marker['host']}): {marker['command']}", markup=False)
    recovered = state["recovered"] or {}
    if recovered.get("stopped_jobs"):
        console.print("job folders left InProgress, now Stopped (interrupted): "
                      + ", ".join(recovered["stopped_jobs"]), markup=False)
    if recovered.get("removed_partials"):
        console.print(f"removed {len(recovered['removed_partials'])} partial file(s) the "
                      "interrupted stage left", markup=False)
    if state["candidates"]:
        columns = [Col("candidate"), Col("source", drop=3), Col("job", drop=4),
                   Col("training metrics", wrap=True), Col("model", wrap=True, drop=5)]
        rows = [[name + (" ★" if entry["best"] else ""), entry["source"], entry["job_name"],
                 shown_metrics(entry["algo"], entry["training_metrics"]), entry["model"]]
                for name, entry in state["candidates"].items()]
        print_fitted("Candidates", columns, rows, key=0)
    if state["tuning"]:
        columns = [Col("job"), Col("algorithm", drop=3), Col("status", drop=2),
                   Col("strategy", drop=4), Col("trials"), Col("best", wrap=True)]
        rows = []
        for name, run in state["tuning"].items():
            best = ""
            if run["best_objective"] is not None:
                from smlp.algorithms.display import metric_label

                best = (f"{metric_label(run['algo'], run['objective_metric'])}="
                        f"{run['best_objective']:.4f}")
            rows.append([name, run["algo"], run["status"], run["strategy"],
                         f"{run['trials']}/{run['max_jobs']}", best])
        print_fitted("Tuning jobs", columns, rows, key=0)
    if state["data"] is not None:
        shards = state["data"].get("shards", {})
        rows_shown = ", ".join(
            f"{k} {v:,}" + (f" ({shards[k]} shards)" if shards.get(k, 1) > 1 else "")
            for k, v in state["data"]["rows"].items())
        console.print(f"data: {rows_shown}; {state['data']['features']} features", markup=False)
    if state["comparison"] is not None:
        console.print(f"comparison: {state['comparison']}", markup=False)
    if state["stale"] is not None:
        console.print(f"[yellow]the comparison is stale:[/] {_plain(state['stale'])}; run "
                      "`smlp compare`", markup=True)


def _plain(text: str) -> str:
    from rich.markup import escape

    return escape(text)
