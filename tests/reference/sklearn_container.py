"""The scikit-learn container (``sagemaker-scikit-learn:1.9-0``), with its real toolkits.

Training runs the ``sagemaker-training`` toolkit from PyPI exactly as the container's image
does: its ``train`` entry point (``sagemaker_training.cli.train``) with
``SAGEMAKER_TRAINING_MODULE`` set to :func:`train_main`, which makes the call that
``sagemaker_sklearn_container/training.py`` (``main``/``train``) makes. The toolkit reads
``hyperparameters.json`` (JSON-decoding each value), downloads and unpacks
``sagemaker_submit_directory``, and runs ``python <sagemaker_program> --name value ...`` with
the ``SM_*`` environment. ``SAGEMAKER_BASE_DIR`` points it at a temporary ``/opt/ml``.

Serving mirrors ``sagemaker_sklearn_container/serving.py`` (``import_module``,
``_user_module_transformer``) with the transformer of the real ``sagemaker-inference``
package: ``model_fn(model_dir)`` once, then per request the body (decoded as UTF-8 for
``text/csv``/``application/json``), ``input_fn(body, content_type)``, ``predict_fn``,
``output_fn(prediction, accept)``, and an absent or ``*/*`` Accept replaced by
``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (default ``application/json``). The container's
single-model path uses the same sequence from ``sagemaker-containers`` (``_transformer.py``:
``Transformer.transform``/``_default_transform_fn``; ``_worker.py``: ``Request.content``,
``Request.accept``); that package pins ``flask==1.1.1`` and the ``typing`` backport, which
cannot live beside moto's Flask 3, so ``sagemaker-inference`` (the container's multi-model
path, same contract) stands in for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CHANNEL_DEFAULTS = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None"}


class ContainerError(Exception):
    """A request the container answered with an error status."""


def train_main() -> None:
    """``sagemaker_sklearn_container.training.main``: run the user entry point in a process."""
    from sagemaker_training import entry_point, environment, runner

    env = environment.Environment()
    entry_point.run(uri=env.module_dir, user_entry_point=env.user_entry_point,
                    args=env.to_cmd_args(), env_vars=env.to_env_vars(),
                    runner_type=runner.ProcessRunnerType)


def write_config(base: Path, hyperparameters: dict[str, str],
                 content_types: dict[str, str]) -> None:
    """``/opt/ml/input/config`` as SageMaker writes it: ``hyperparameters.json`` holds the
    request's ``HyperParameters`` map as sent (every value a string), ``inputdataconfig.json``
    one entry per channel, ``resourceconfig.json`` a single host."""
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (base / "model").mkdir(exist_ok=True)
    (base / "output" / "data").mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {name: {"ContentType": content_type, **CHANNEL_DEFAULTS}
         for name, content_type in content_types.items()}))
    (config / "resourceconfig.json").write_text(json.dumps({
        "current_host": "algo-1", "hosts": ["algo-1"], "current_instance_type": "ml.m5.large",
        "current_group_name": "homogeneousCluster", "network_interface_name": "eth0",
        "instance_groups": [{"instance_group_name": "homogeneousCluster",
                             "instance_type": "ml.m5.large", "hosts": ["algo-1"]}]}))


def lay_out(base: Path, hyperparameters: dict[str, str],
            channels: dict[str, tuple[Path, str]]) -> None:
    """A whole ``/opt/ml``: the config files, and each channel's files copied from a folder."""
    write_config(base, hyperparameters, {name: kind for name, (_, kind) in channels.items()})
    for name, (folder, _) in channels.items():
        target = base / "input" / "data" / name
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir()):
            if path.is_file():
                (target / path.name).write_bytes(path.read_bytes())


def run_training(base: Path) -> subprocess.CompletedProcess[str]:
    """The container's ``train`` command over ``base``; stdout and stderr as CloudWatch shows
    them (one stream). The job succeeded when it exits 0 and writes ``output/success``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SM_", "SAGEMAKER_"))}
    env.update({
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGEMAKER_TRAINING_MODULE": f"{__name__}:train_main",
        # algo-1 only resolves inside SageMaker's network; the toolkit's own switch skips the
        # DNS wait (entry_point.run), nothing else changes.
        "SM_STUDIO_LOCAL_MODE": "true",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    })
    return subprocess.run([sys.executable, "-m", "sagemaker_training.cli.train"], env=env,
                          cwd=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600, check=False)


def unpack(archive: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(target, filter="data")
    return target


class _Context:
    """The model server's per-request context, as ``Transformer.transform`` reads it."""

    def __init__(self, model_dir: Path, headers: dict[str, str]) -> None:
        self.system_properties = {"model_dir": str(model_dir)}
        self.request_processor = [self]
        self.headers = headers
        self.status = 200
        self.content_type: str | None = None

    def get_request_properties(self) -> dict[str, str]:
        return self.headers

    def set_response_content_type(self, index: int, content_type: str) -> None:
        self.content_type = content_type

    def set_response_status(self, code: int, phrase: str) -> None:
        self.status = code


class SklearnServing:
    """One serving container: the user module from ``code_dir``, the model from ``model_dir``.

    Use as a context manager: the module is imported from ``code_dir`` alone (as in the
    container, where ``/opt/ml/code`` holds it) and ``sys.path``/``sys.modules`` and the
    environment are restored on exit.
    """

    def __init__(self, code_dir: Path, model_dir: Path, program: str) -> None:
        self.code_dir = code_dir
        self.model_dir = model_dir
        self.program = program
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> SklearnServing:
        from sagemaker_inference.default_inference_handler import DefaultInferenceHandler
        from sagemaker_inference.transformer import Transformer

        names = [p.stem for p in self.code_dir.glob("*.py")]
        self._saved = {"path": list(sys.path), "env": os.environ.get("SAGEMAKER_PROGRAM"),
                       "modules": {n: sys.modules.pop(n) for n in names if n in sys.modules}}
        self._names = names
        sys.path.insert(0, str(self.code_dir))
        os.environ["SAGEMAKER_PROGRAM"] = self.program  # CreateModel's container Environment
        # The script defines model_fn/input_fn/predict_fn/output_fn, so the container's
        # defaults (handler_service.DefaultSKLearnUserModuleInferenceHandler) never run.
        self.transformer = Transformer(default_inference_handler=DefaultInferenceHandler())
        self.transformer.validate_and_initialize(model_dir=str(self.model_dir))
        return self

    def __exit__(self, *_: Any) -> None:
        sys.path[:] = self._saved["path"]
        for name in self._names:
            sys.modules.pop(name, None)
        sys.modules.update(self._saved["modules"])
        if self._saved["env"] is None:
            os.environ.pop("SAGEMAKER_PROGRAM", None)
        else:
            os.environ["SAGEMAKER_PROGRAM"] = self._saved["env"]

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        context = _Context(self.model_dir, {"Content-Type": content_type, "Accept": accept})
        [response] = self.transformer.transform([{"body": body}], context)
        if context.status != 200:
            raise ContainerError(f"HTTP {context.status}: {str(response).splitlines()[0]}")
        return response.encode() if isinstance(response, str) else bytes(response)
