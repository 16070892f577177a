"""Find and load the training scripts: the same files SageMaker runs in its containers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from smlp.algorithms import get_algorithm


def scripts_dir() -> Path:
    import training_scripts

    return Path(training_scripts.__file__).parent


def script_path(algorithm: str) -> Path:
    return scripts_dir() / get_algorithm(algorithm).entry_point


def load_script(algorithm: str) -> ModuleType:
    """Import an entry point as a module, as the serving container imports it for inference."""
    path = script_path(algorithm)
    name = f"smlp_entry_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # scripts import their helpers from their own folder
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_predictor(algorithm: str, model_dir: Path) -> Callable[[Any], Any]:
    """``model_fn`` once, then a ``predict_fn`` closure over the loaded model.

    A row of class probabilities per record becomes the one text field the container writes
    for it (the script's ``batch_lines``: ``[0.1, 0.9]`` for XGBoost, ``0.1,0.9`` for
    scikit-learn), so a batch still has one output per record.
    """
    module = load_script(algorithm)
    return Predictor(module, module.model_fn(str(model_dir)))


class Predictor:
    """A script's ``predict_fn`` over its loaded model, callable from several threads at once.

    ``set_threads`` is what the batch engine (``smlp.batch.engine``) looks for before it
    predicts blocks side by side: it caps the OpenMP threads one call uses, so that workers
    times threads fits the cores (an xgboost Booster's ``nthread``; faiss's per-thread
    OpenMP setting, which k-NN's searches use).
    """

    def __init__(self, module: ModuleType, model: Any) -> None:
        self.module = module
        self.model = model
        self.threads: int | None = None
        self._as_lines = getattr(module, "batch_lines", None)

    def set_threads(self, threads: int) -> None:
        self.threads = threads
        if hasattr(self.model, "set_param"):  # an xgboost Booster
            self.model.set_param({"nthread": threads})

    def __call__(self, features: Any) -> Any:
        if self.threads is not None and "faiss" in sys.modules:
            sys.modules["faiss"].omp_set_num_threads(self.threads)  # this thread's setting
        predictions = self.module.predict_fn(features, self.model)
        if self._as_lines is not None and getattr(predictions, "ndim", 1) == 2 \
                and predictions.shape[1] > 1:
            import numpy as np

            return np.array(self._as_lines(predictions), dtype=object)
        return predictions
