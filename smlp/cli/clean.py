"""``smlp clean``: job folders, unpacked models, partial files and unreferenced artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from smlp.cli.common import ConfigOption, StoreOption, console, err_console, load


def clean(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List what would be removed and its size; remove nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON only.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Remove local scratch (.smlp/) and store files the manifest no longer references.

    Job folders, unpacked models, partial files, old data versions, replaced models and old
    outputs go; nothing the manifest references does. Refused while a stage runs.

    Example: smlp clean --dry-run
    """
    from smlp.clean import clean as run_clean
    from smlp.store import open_store

    cfg = load(config, {"store": store})
    work_dir = getattr(cfg.backend, "work_dir", ".smlp/jobs")
    report = run_clean(open_store(cfg.store), Path(work_dir), dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    for stage in report.recovered:
        err_console.print(f"recorded as interrupted: {stage}")
    if report.no_manifest:
        err_console.print(f"{report.store} has no manifest.json: its files were left alone "
                          "(only local scratch is cleaned)")
    verb = "would remove" if dry_run else "removed"
    if not report.items:
        console.print(f"nothing to clean in {report.store} or {report.scratch[0]} "
                      f"({report.kept_keys} store files referenced by the manifest, kept)")
        return
    if dry_run:
        for item in report.items:
            console.print(f"{item.kind:12} {human_bytes(item.bytes):>9}  {item.location}",
                          markup=False)
    parts = [f"{count} {kind}{'s' if count != 1 else ''} ({human_bytes(size)})"
             for kind, (count, size) in report.by_kind().items()]
    console.print(f"{verb} {human_bytes(report.total_bytes)}: " + ", ".join(parts)
                  + f"; kept {report.kept_keys} store files the manifest references",
                  markup=False)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
