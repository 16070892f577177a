"""After kill -9: the next command records the interrupted stage and cleans what it left.

A real ``smlp train`` runs in a subprocess long enough to be killed mid-stage (a million
XGBoost rounds, no early stopping); it is killed with SIGKILL once its job folder says
InProgress. Outcomes are asserted, never timings; waits are generous.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.cli_helpers import SMALL_YAML, manifest, smlp

LONG = SMALL_YAML.replace(
    "hyperparameters: {num_round: 20}",
    "hyperparameters: {num_round: 1000000, early_stopping_rounds: null}")
WAIT_SECONDS = 300


def smlp_binary() -> str:
    return str(Path(sys.executable).with_name("smlp"))


def wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def in_progress_jobs(project: Path) -> list[Path]:
    jobs = project / ".smlp" / "jobs"
    found = []
    for status in jobs.glob("*/job.json") if jobs.exists() else []:
        try:
            if json.loads(status.read_text())["status"] == "InProgress":
                found.append(status.parent)
        except (OSError, ValueError):
            continue
    return found


@pytest.fixture
def killed_train(project: Path) -> tuple[Path, Path]:
    """A project whose last `smlp train` completed, then a second one killed by SIGKILL."""
    (project / "smlp.yaml").write_text(LONG)
    smlp("data", "generate")
    smlp("train", "--algo", "xgboost", "--hp", "num_round=5")
    process = subprocess.Popen([smlp_binary(), "train", "--algo", "xgboost"], cwd=project,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        running = project / "smlp-artifacts" / "running"
        wait_for(lambda: in_progress_jobs(project) and any(running.glob("train-*.json")),
                 "the training job to start")
        (job,) = in_progress_jobs(project)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=WAIT_SECONDS)
    finally:  # the orphaned training process of the killed command, in its process group
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=WAIT_SECONDS)
    assert process.returncode == -signal.SIGKILL
    return project, job


def test_kill_9_mid_stage_is_recorded_and_cleaned_by_the_next_command(
        killed_train: tuple[Path, Path]) -> None:
    project, job = killed_train
    store = project / "smlp-artifacts"
    assert len(list((store / "running").glob("train-*.json"))) == 1
    # What an atomic write the kill cut short leaves: a hidden partial beside its target,
    # no longer written to.
    partial = store / "models" / ".model.tar.gz.k9x2ab.tmp"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"half a model")
    frozen = time.time() - 10
    os.utime(partial, (frozen, frozen))
    assert json.loads((job / "job.json").read_text())["status"] == "InProgress"

    result = smlp("status")

    assert "train interrupted (started" in result.output and "its last completed run" in \
        result.output
    assert "removed 1 partial file" in result.output
    state = manifest(project)
    assert state["stages"]["train"]["status"] == "completed"  # the last success is kept
    attempt = state["extra"]["interrupted"]["train"]
    assert attempt["status"] == "interrupted" and attempt["host"] == socket.gethostname()
    assert attempt["command"].startswith("smlp train")
    status = json.loads((job / "job.json").read_text())
    assert status["status"] == "Stopped" and "interrupted" in status["failure_reason"]
    assert not partial.exists()
    assert not list((store / "running").glob("*.json"))

    # The next stage runs normally; a later success hides the old attempt from status.
    smlp("train", "--algo", "xgboost", "--hp", "num_round=5")
    assert "train interrupted" not in smlp("status").output


def test_a_live_stage_and_another_hosts_stage_are_left_alone(project: Path) -> None:
    """Only a marker whose process is gone is judged interrupted: not a running one (this
    test's own process), not a reused pid's, not one from a host that cannot be checked."""
    from smlp.manifest import load_manifest, update_manifest
    from smlp.recovery import Marker, recover
    from smlp.store import LocalStore

    store = LocalStore(project / "store")
    me = os.getpid()
    own_start = int(Path(f"/proc/{me}/stat").read_text().rsplit(")", 1)[1].split()[19])
    cases = {
        "live": (me, socket.gethostname(), own_start),
        "reused": (me, socket.gethostname(), own_start - 1),  # same pid, another process
        "elsewhere": (1, "another-host", None),
    }
    for stage, (pid, host, start) in cases.items():
        marker = Marker(stage=stage, command=f"smlp {stage}", pid=pid, host=host,
                        process_start=start, started=time.time(), started_at="now")
        store.write_bytes(f"running/{stage}.json", json.dumps(marker.__dict__).encode())
    found = recover(store, update_manifest)
    assert [m.stage for m in found.interrupted] == ["reused"]
    assert [m.stage for m in found.live] == ["live"]
    assert [m.stage for m in found.elsewhere] == ["elsewhere"]
    assert list(load_manifest(store).extra["interrupted"]) == ["reused"]
    assert sorted(p.name for p in (project / "store" / "running").iterdir()) == [
        "elsewhere.json", "live.json"]


def test_a_failed_attempt_keeps_the_last_success_beside_it(trained: Path) -> None:
    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.events import Event
    from smlp.stages.train import train
    from smlp.store import open_store

    project = trained  # SMALL_YAML, generated data, an XGBoost candidate
    success = manifest(project)["stages"]["train"]

    def ctrl_c(event: Event) -> None:
        if event.kind == "job":
            raise KeyboardInterrupt

    config = load_config(project / "smlp.yaml", {})
    store = open_store(config.store)
    with pytest.raises(KeyboardInterrupt):
        train(config, store, get_backend(config, store), ["xgboost"], events=ctrl_c)
    state = manifest(project)
    assert state["stages"]["train"]["status"] == "failed"
    kept = state["extra"]["last_completed"]["train"]
    assert {k: kept[k] for k in ("status", "command", "started_at", "finished_at")} == {
        k: success[k] for k in ("status", "command", "started_at", "finished_at")}
    output = smlp("status").output
    assert "(last" in output and "success)" in output and "its last completed run" not in output

    smlp("train", "--algo", "xgboost")  # a new success: nothing older is shown beside it
    assert "train" not in manifest(project)["extra"].get("last_completed", {})
