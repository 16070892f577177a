"""The job-folder contract the local backend and its tuning workers share.

A training job's folder is laid out like ``/opt/ml`` (channels, string hyperparameters,
``model/``, ``output/failure``), sees the ``SM_*`` variables a container sees, has its log lines
rendered as CloudWatch shows them and its model tarred as SageMaker tars it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from smlp.algorithms import get_algorithm
from smlp.backends.base import TrainingJobSpec
from smlp.events import Event, EventSink

_CONTROL = re.compile(r"[\x00-\x08\x09\x0b-\x1f]")
STATUS_FILE = "job.json"


def cloudwatch_line(line: str) -> str:
    """Render control characters as CloudWatch does (a tab becomes ``#011``)."""
    return _CONTROL.sub(lambda m: f"#{ord(m.group()):03o}", line)


def last_log_line(log_path: Path, lines: int = 1) -> str:
    try:
        text = log_path.read_text(encoding="utf-8").strip().splitlines()
    except OSError:
        return "the job exited with an error and wrote no failure reason"
    return " | ".join(text[-lines:]) or "the job exited with an error and wrote no log"


def lay_out(job: TrainingJobSpec, job_dir: Path, fetch: Any) -> None:
    """The ``/opt/ml`` layout: string hyperparameters, channel declarations, channel files.

    ``fetch(uri, folder)`` brings a channel's files into its folder.
    """
    spec = get_algorithm(job.algorithm)
    config_dir = job_dir / "input" / "config"
    config_dir.mkdir(parents=True)
    (job_dir / "model").mkdir()
    (job_dir / "output" / "data").mkdir(parents=True)
    (config_dir / "hyperparameters.json").write_text(json.dumps(job.hyperparameters))
    (config_dir / "inputdataconfig.json").write_text(json.dumps(
        {channel: {"ContentType": spec.content_type, "TrainingInputMode": "File"}
         for channel in job.channels}
    ))
    (config_dir / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    for channel, uri in job.channels.items():
        target = job_dir / "input" / "data" / channel
        target.mkdir(parents=True)
        fetch(uri, target)


def link_files(uri: str, target: Path) -> None:
    """Hard-link (else copy) a local file, or a folder's visible files, into ``target``."""
    source = Path(uri)
    files = [source] if source.is_file() else sorted(
        p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")
    ) if source.is_dir() else []
    for path in files:
        link = target / path.name
        try:
            link.hardlink_to(path)
        except OSError:
            shutil.copyfile(path, link)


# Hyperparameters SageMaker keeps for itself, besides every ``sagemaker_*`` name: the training
# toolkit never passes them to a script-mode entry point (sagemaker-training, params.py
# SAGEMAKER_HYPERPARAMETERS, split off in environment.Environment).
SAGEMAKER_OWN = ("_tuning_objective_metric", "default_user_module_name")


def script_arguments(hyperparameters: dict[str, str]) -> list[str]:
    """The arguments the training toolkit gives a script-mode entry point.

    sagemaker-training: ``environment.read_hyperparameters`` JSON-decodes each value (keeping
    the string when it is not JSON), ``Environment`` drops SageMaker's own names, and
    ``mapping.to_cmd_args`` sorts the rest into ``--name value`` (``-n`` for one letter) with
    ``str()`` of each value. A tuning job's ``_tuning_objective_metric`` never reaches the script.
    """
    args: list[str] = []
    for name in sorted(hyperparameters):
        if name in SAGEMAKER_OWN or name.startswith("sagemaker_"):
            continue
        try:
            value = json.loads(hyperparameters[name])
        except ValueError:
            value = hyperparameters[name]
        if isinstance(value, dict):
            text = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            text = "" if value is None else str(value)
        args += [f"--{name}" if len(name) > 1 else f"-{name}", text]
    return args


def job_environment(job: TrainingJobSpec, job_dir: Path) -> dict[str, str]:
    """The ``SM_*`` variables a training container sees, pointing into ``job_dir``."""
    env = {
        "OPT_ML": str(job_dir),
        "SM_MODEL_DIR": str(job_dir / "model"),
        "SM_OUTPUT_DIR": str(job_dir / "output"),
        "SM_OUTPUT_DATA_DIR": str(job_dir / "output" / "data"),
        "SM_INPUT_DIR": str(job_dir / "input"),
        "SM_INPUT_CONFIG_DIR": str(job_dir / "input" / "config"),
        "SM_CHANNELS": json.dumps(sorted(job.channels)),
        "SM_HPS": json.dumps(job.hyperparameters),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_CURRENT_HOST": "algo-1",
        "PYTHONUNBUFFERED": "1",
    }
    for channel in job.channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = str(job_dir / "input" / "data" / channel)
    return env


def tar_model(job_dir: Path, compresslevel: int = 6) -> Path:
    """``model/`` contents at the archive root, as SageMaker tars them."""
    tar_path = job_dir / "output" / "model.tar.gz"
    import tarfile

    with tarfile.open(tar_path, "w:gz", compresslevel=compresslevel) as archive:
        for path in sorted((job_dir / "model").iterdir()):
            archive.add(path, arcname=path.name)
    return tar_path


def write_status(job_dir: Path, status: str, reason: str | None = None) -> None:
    """``job.json``: what ``describe`` reads back."""
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / STATUS_FILE).write_text(json.dumps({"status": status, "failure_reason": reason}))


# The line an algorithm logs once per boosting round (as CloudWatch shows it), and what to add
# to its round number to count rounds done. XGBoost's EvaluationMonitor, which the built-in
# container installs (sagemaker-xgboost-container, src/sagemaker_xgboost_container/callback.py),
# prints ``[<iteration from 0>]\t<channel>-<metric>:<value>...``; training_scripts/sklearn_gbm.py
# prints ``[stage <n from 1>] validation:rmse=...``. k-NN has no rounds.
ROUND_LINES: dict[str, tuple[re.Pattern[str], int]] = {
    "xgboost": (re.compile(r"^\[(\d+)\]#011"), 1),
    "sklearn-gbm": (re.compile(r"^\[stage (\d+)\]"), 0),
}


class RoundProgress:
    """Turns a training job's per-round log lines into ``progress`` events (unit ``rounds``):
    rounds done out of the algorithm's round budget (``num_round``, ``n_estimators``)."""

    def __init__(self, job: TrainingJobSpec) -> None:
        spec = get_algorithm(job.algorithm)
        self.job = job.name
        self.pattern = ROUND_LINES.get(spec.name)
        try:
            self.total: int | None = int(float(job.hyperparameters[spec.resource or ""]))
        except (KeyError, ValueError):
            self.total = None

    def __call__(self, line: str, events: EventSink) -> None:
        if self.pattern is None or not self.total:
            return
        match = self.pattern[0].match(line)
        if match:
            done = int(match.group(1)) + self.pattern[1]
            events(Event("progress", "", {"task": self.job, "done": done, "total": self.total,
                                          "unit": "rounds"}))
