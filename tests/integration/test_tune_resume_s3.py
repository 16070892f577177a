"""``smlp tune --resume`` on another machine: only the S3 store is shared (moto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import SMALL_YAML
from tests.integration.test_tune import interrupt_after

STORE = "s3://smlp-test/projects/demo"


def test_resume_on_another_machine_continues_from_the_s3_store(
        project: Path, make_store: Any) -> None:
    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.stages.data import generate
    from smlp.stages.tune import tune
    from smlp.store import open_store

    store = make_store("s3")
    (project / "smlp.yaml").write_text(SMALL_YAML + "tuning:\n  max_jobs: 5\n")

    def machine(name: str) -> tuple[Any, Any, Any]:
        """Its own working folder (job folders); the store is the shared bucket."""
        config = load_config(project / "smlp.yaml", {
            "store": STORE, "backend.work_dir": str(project / name / ".smlp" / "jobs")})
        shared = open_store(config.store)
        return config, shared, get_backend(config, shared)

    first = machine("a")
    generate(first[0], first[1])
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        tune(*first, ["knn"], events=interrupt_after(2, done))
    (name,) = load_manifest_tuning(store)
    assert store.exists(f"tuning/{name}/study.journal")

    messages: list[str] = []
    outcomes = tune(*machine("b"), ["knn"], resume=True,
                    events=lambda e: messages.append(e.message))
    assert outcomes[0].job_name == name
    assert any("resuming" in m and "2 finished trials kept" in m for m in messages), messages
    record = load_manifest_tuning(store)[name]
    assert record.status == "Completed" and len(record.trials) == 5
    assert set(done) <= {t.name for t in record.trials}
    assert not [k for k in store.list("running") if k.endswith(".json")]  # markers removed


def load_manifest_tuning(store: Any) -> dict[str, Any]:
    from smlp.manifest import load_manifest

    return load_manifest(store).tuning
