"""A dry run's rehearsal of the upstream stages a command needs and the store lacks.

``smlp train --dry-run`` in a fresh project has no prepared data: the data stage runs over the
in-memory :class:`~smlp.backends.sagemaker.dryrun.DryRunStore` first, and its requests and
writes are dropped from the plan. Running stages is the stages' business, never a backend's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from smlp.manifest import load_manifest
from smlp.stages import data as data_stage
from smlp.stages.compare import compare
from smlp.stages.train import train

if TYPE_CHECKING:
    from smlp.backends.sagemaker.dryrun import DryRunPlan, DryRunStore
    from smlp.store import Store


def rehearse(config: Any, store: DryRunStore, backend: Any, needs: str | None) -> None:
    """Simulate, in ``store``, the upstream stages a command needs and the store lacks.

    ``needs``: ``data`` (train, tune), ``candidates`` (compare), ``best`` (transform).
    The simulated stages' own requests and writes are dropped from the plan afterwards.
    """
    if needs is None:
        return
    plan: DryRunPlan = backend.plan
    manifest = load_manifest(store)
    why = (f" (it could not be read: {store.unreadable})" if store.unreadable else "")
    if manifest.data is None:
        _simulate_data(config, store)
        plan.note(f"{store.root} has no prepared data{why}: the requests assume the splits "
                  "`smlp data` would write from this config")
        manifest = load_manifest(store)
    if needs in {"candidates", "best"} and not manifest.candidates:
        train(config, store, backend)
        plan.note("no trained candidates in the store: the requests assume `smlp train` ran "
                  "first (its own requests are not shown)")
        manifest = load_manifest(store)
    if needs == "best" and manifest.best is None:
        compare(config, store, backend)
        plan.note("no compared best model in the store: the transform is shown with the "
                  "candidate a dry-run comparison picks, which is not meaningful")
    plan.reset()
    store.writes.clear()


def _simulate_data(config: Any, store: Store) -> None:
    data = config.data
    if data.source == "file":
        data_stage.prepare(config, store, Path(data.input or ""), data.target or "",
                           data.id_column)
    else:
        data_stage.generate(config, store)
