"""What every command shares: the ``--config`` option, config loading, consoles, rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c",
        help="YAML config (default: ./smlp.yaml if present, else the packaged defaults).",
        dir_okay=False,
    ),
]
StoreOption = Annotated[
    str | None, typer.Option("--store", help="Artifact store: a folder or s3://bucket/prefix "
                             "(default: store, smlp-artifacts).")
]
AlgoOption = Annotated[
    list[str] | None,
    typer.Option("--algo", "-a", help="xgboost, knn, sklearn-gbm or all (repeatable, or "
                 "comma-separated; default: every enabled algorithm)."),
]
BackendOption = Annotated[
    Literal["local", "sagemaker"] | None,
    typer.Option("--backend", help="Where jobs run (default: backend.kind, local)."),
]
# Kept here, not imported from smlp.config (pydantic would slow `smlp --help`); a unit test
# holds it equal to smlp.config.compare.Metric.
METRICS = ("rmse", "mse", "mae", "r2", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc",
           "log_loss")
MetricOption = Annotated[
    Literal["rmse", "mse", "mae", "r2", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc",
            "log_loss"] | None,
    typer.Option("--metric", "-m", metavar="METRIC", help="Ranking metric: rmse, mse, mae, r2 "
                 "(regression); accuracy, balanced_accuracy, f1_macro, roc_auc, log_loss "
                 "(classification). Default: compare.metric, else rmse or accuracy."),
]
ProblemTypeOption = Annotated[
    Literal["auto", "regression", "binary", "multiclass"] | None,
    typer.Option("--problem-type", help="auto: text/bool targets are classes (2 of them "
                 "binary), numbers regression (default: data.problem_type, auto)."),
]
SplitsOption = Annotated[str | None, typer.Option(
    "--splits", metavar="T,V,T",
    help="Train,validation,test fractions summing to 1 (default: data.splits, 0.7,0.15,0.15).")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Stream job logs.")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="SageMaker only: print the exact requests (JSON) and "
                       "an estimated cost; send nothing, no credentials needed.")
]


# The flag behind each dotted override, so a bad value is blamed on what the user typed.
FLAGS = {
    "store": "--store",
    "backend.kind": "--backend",
    "compare.metric": "--metric",
    "data.rows": "--rows",
    "data.seed": "--seed",
    "data.standardize": "--standardize",
    "data.problem_type": "--problem-type",
    "data.splits": "--splits",
    "data.splits.train": "--splits",
    "data.splits.validation": "--splits",
    "data.splits.test": "--splits",
    "tuning.max_jobs": "--max-jobs",
    "tuning.max_parallel_jobs": "--max-parallel-jobs",
    "tuning.strategy": "--strategy",
    "tuning.early_stopping": "--early-stopping",
    "tuning.timeout_seconds": "--timeout",
}


def split_fractions(text: str | None) -> dict[str, float]:
    """``--splits 0.8,0.1,0.1`` -> the three ``data.splits.*`` overrides."""
    from smlp.errors import ConfigError

    if text is None:
        return {}
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 3:
        raise ConfigError(f"--splits {text}: expected three fractions train,validation,test "
                          "summing to 1, e.g. 0.7,0.15,0.15")
    return dict(zip(("data.splits.train", "data.splits.validation", "data.splits.test"),
                    values, strict=True))


def split_algos(algo: list[str] | None) -> list[str] | None:
    """``--algo a,b --algo c`` -> ``[a, b, c]``; None when not given."""
    names = [name.strip() for item in algo or [] for name in item.split(",") if name.strip()]
    return names or None


def load(config: Path | None, overrides: dict[str, Any] | None = None,
         dry_run: bool = False) -> Any:
    """Load the config, applying only the flags the user actually gave."""
    from smlp.config import load_config
    from smlp.errors import ConfigError

    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    loaded = load_config(config, given, FLAGS)
    if not dry_run:
        return loaded
    if loaded.backend.kind != "sagemaker":
        raise ConfigError("--dry-run shows the requests the sagemaker backend would send; "
                          "add --backend sagemaker (or set backend.kind: sagemaker)")
    return loaded.model_copy(update={"backend": loaded.backend.model_copy(
        update={"dry_run": True})})


def open_project(config: Any, needs: str | None = None) -> tuple[Any, Any]:
    """The store and backend a loaded config names.

    In a dry run the store keeps every write in memory, and the upstream stages a command
    ``needs`` (``data``, ``candidates``, ``best``) are rehearsed if the store lacks them.
    """
    from smlp.backends import get_backend
    from smlp.store import open_store

    store = open_store(config.store)
    if getattr(config.backend, "dry_run", False):
        from smlp.backends.sagemaker.dryrun import DryRunStore
        from smlp.stages.rehearse import rehearse

        store = DryRunStore(store)
        backend = get_backend(config, store)
        rehearse(config, store, backend, needs)
        return store, backend
    backend = get_backend(config, store)
    if hasattr(backend, "interrupt"):  # remote jobs: Ctrl-C asks whether to stop them
        backend.confirm_stop = _confirm_stop
        _forward_sigint(backend.interrupt)
    return store, backend


def _forward_sigint(interrupt: Any) -> None:
    """On Ctrl-C, also wake the threads waiting for remote jobs, then interrupt as usual."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        interrupt()
        if callable(previous):
            previous(signum, frame)
        else:
            signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, handler)


def _confirm_stop(job: str) -> bool:
    """Asked on Ctrl-C while a remote job runs: it keeps running (and billing) otherwise."""
    err_console.print()
    return typer.confirm(f"Stop the remote {job} too?", default=False, err=True)


def show_plan(backend: Any) -> bool:
    """Print a dry run's plan: JSON on stdout (for programs), a summary of each job and its
    cost on stderr (for people); False (nothing printed) when this was not a dry run."""
    import json

    if not getattr(backend, "dry_run", False):
        return False
    from smlp.backends.sagemaker.dryrun import plan_summary

    report = backend.dry_run_report()
    for line in plan_summary(report):
        err_console.print(line, markup=False)
    typer.echo(json.dumps(report, indent=2))
    return True


def watch(cfg: Any) -> None:
    """Let this command's crash marker name its job folders (see smlp.recovery)."""
    from smlp.recovery import watch_work_dir

    if cfg.backend.kind == "local":
        watch_work_dir(cfg.backend.work_dir)
