"""The local backend starts and stops jobs the way SageMaker does.

Script-mode arguments are checked against the real training toolkit (``sagemaker-training``,
which the scikit-learn container runs) reading the job folder the local backend lays out. The
time limit is checked on jobs that hang without printing a line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smlp.backends.base import TrainingJobSpec, TrainingResult
from smlp.backends.local import LocalBackend, lay_out, link_files, script_arguments
from smlp.store import LocalStore

# What SageMaker puts in hyperparameters.json for a tuning trial of a script-mode job: the
# SDK's JSON-encoded sagemaker_* entries and the tuning job's _tuning_objective_metric.
TRIAL_HYPERPARAMETERS = {
    "n_estimators": "12",
    "learning_rate": "0.10",
    "min_samples_leaf": "2",
    "loss": "huber",
    "alpha": "0.9",
    "_tuning_objective_metric": "validation:mae",
    "sagemaker_program": '"sklearn_gbm.py"',
    "sagemaker_submit_directory": '"s3://bucket/smlp/code/sourcedir.tar.gz"',
    "sagemaker_container_log_level": "20",
    "sagemaker_job_name": '"sklearn-gbm-tune-001"',
    "sagemaker_region": '"eu-west-1"',
}


def write_split(folder: Path, rows: int, seed: int) -> str:
    """A header-less CSV split (target first) under ``folder``; returns the folder."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    y = x[:, 0] * 2 + np.sin(x[:, 1]) + rng.normal(scale=0.1, size=rows)
    folder.mkdir(parents=True)
    np.savetxt(folder / "part-0.csv", np.column_stack([y, x]), delimiter=",", fmt="%.10g")
    return str(folder)


@pytest.fixture
def channels(project: Path) -> dict[str, str]:
    return {"train": write_split(project / "data" / "train", 400, 0),
            "validation": write_split(project / "data" / "validation", 100, 1)}


@pytest.fixture
def backend(small_config: Any, project: Path) -> LocalBackend:
    return LocalBackend(small_config, LocalStore(project / "store"))


def training_job(project: Path, algorithm: str, hyperparameters: dict[str, str],
                 channels: dict[str, str], **extra: Any) -> TrainingJobSpec:
    return TrainingJobSpec(name=f"{algorithm}-job", algorithm=algorithm,
                           hyperparameters=hyperparameters, channels=channels,
                           output_uri=str(project / "store" / "training"),
                           container_version="1.9-0", **extra)


# ------------------------------------------------------------------------------ script mode


def test_script_arguments_are_the_training_toolkits(project: Path,
                                                    channels: dict[str, str]) -> None:
    hyperparameters = {**TRIAL_HYPERPARAMETERS, "default_user_module_name": "x",
                       "x": "1e-5", "flag": "true", "empty": "null", "mapping": '{"b": 2, "a": 1}'}
    job = training_job(project, "sklearn-gbm", hyperparameters, channels)
    job_dir = project / "job"
    lay_out(job, job_dir, link_files)
    # The reference: sagemaker-training's Environment reading that job folder as /opt/ml.
    probe = ("import json\nfrom sagemaker_training import environment\n"
             "print(json.dumps(environment.Environment().to_cmd_args()))")
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(job_dir), "AWS_DEFAULT_REGION": "eu-west-1"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    toolkit = json.loads(done.stdout.strip().splitlines()[-1])
    assert script_arguments(job.hyperparameters) == toolkit
    assert "--_tuning_objective_metric" not in toolkit  # SageMaker keeps it for itself


def test_a_script_mode_tuning_trial_trains_locally(project: Path, backend: LocalBackend,
                                                   channels: dict[str, str]) -> None:
    result = backend.train(training_job(project, "sklearn-gbm", TRIAL_HYPERPARAMETERS,
                                        channels))
    assert result.status == "Completed", result.failure_reason
    assert set(result.final_metrics) >= {"validation:rmse", "validation:mae"}


# ------------------------------------------------------------------------------- time limit


class ScriptBackend(LocalBackend):
    """The local backend running a given Python program as the job's entry point."""

    program = ""

    def _command(self, job: TrainingJobSpec) -> list[str]:
        return [sys.executable, "-c", self.program]


@pytest.fixture
def script_backend(small_config: Any, project: Path) -> ScriptBackend:
    return ScriptBackend(small_config, LocalStore(project / "store"))


HANG = """
import os, pathlib, signal, time
pathlib.Path("pid").write_text(str(os.getpid()))
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("[0] started", flush=True)
time.sleep(3600)  # silent from here on
"""


def run_guarded(backend: LocalBackend, job: TrainingJobSpec) -> TrainingResult:
    """``backend.train`` with a hang guard: a job the backend never stops fails the test
    (instead of hanging it) and is killed afterwards."""
    results: list[TrainingResult] = []
    thread = threading.Thread(target=lambda: results.append(backend.train(job)), daemon=True)
    thread.start()
    thread.join(timeout=300)  # a guard against hanging, far beyond the 1 s limit set
    if thread.is_alive():
        pid_file = backend.work_dir / job.name / "pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        thread.join(timeout=60)
        pytest.fail("the job outlived its MaxRuntimeInSeconds and was never stopped")
    return results[0]


@pytest.mark.parametrize("ignores_sigterm", [False, True], ids=["exits", "ignores_sigterm"])
def test_a_silent_job_is_stopped_at_its_max_runtime(
    project: Path, script_backend: ScriptBackend, channels: dict[str, str],
    monkeypatch: pytest.MonkeyPatch, ignores_sigterm: bool
) -> None:
    backend = script_backend
    backend.program = HANG
    backend.stop_grace_seconds = 1.0
    if ignores_sigterm:  # then SIGKILL ends it once the grace period is over
        monkeypatch.setenv("IGNORE_TERM", "1")
    job = replace(training_job(project, "xgboost", {"num_round": "5"}, channels),
                  max_runtime_seconds=1)
    result = run_guarded(backend, job)
    assert result.status == "Stopped"  # SageMaker: Stopped, secondary status MaxRuntimeExceeded
    assert result.failure_reason is not None
    assert result.failure_reason.startswith("MaxRuntimeExceeded:")
    assert "MaxRuntimeInSeconds (1 s)" in result.failure_reason
    assert result.model_uri is None
    assert backend.describe(job.name).status == "Stopped"
    assert "[0] started" in Path(result.log_uri or "").read_text()
