"""``smlp report``: the HTML report of the last comparison, written into the store."""

from __future__ import annotations

from typing import Annotated

import typer

from smlp.cli.common import ConfigOption, StoreOption, console, load
from smlp.cli.render import EventRenderer


def report(
    open_page: Annotated[bool, typer.Option(
        "--open", help="Open the report in the default browser.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Write report/index.html: leaderboard with uncertainty, plots, importance, tuning, data.

    One self-contained file (opens offline) with each figure as a PNG beside it.

    Example: `smlp report --open`
    """
    from smlp.report.build import build_report
    from smlp.store import open_store

    cfg = load(config, {"store": store})
    with EventRenderer() as events:
        result = build_report(cfg, open_store(cfg.store), events)
    console.print(f"report: {result.uri} ({len(result.figures)} figures, "
                  f"{result.seconds:.1f} s)")
    for note in result.notes:
        console.print(f"  note: {note}")
    if open_page:
        open_report(result.uri, cfg)


def open_report(uri: str, cfg: object) -> None:
    """A browser reads files, not S3: an S3 report is copied to the local scratch first (it is
    one self-contained file)."""
    import webbrowser
    from pathlib import Path

    path = Path(uri)
    if uri.startswith("s3://"):
        from smlp.store import open_store

        store = open_store(cfg.store)  # type: ignore[attr-defined]
        path = Path(".smlp/report/index.html").resolve()
        store.download(store.key(uri), path)
    webbrowser.open(path.as_uri())
