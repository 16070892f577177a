"""Backends by name, imported only when used, with an install hint when an extra is missing."""

from __future__ import annotations

import importlib
from typing import Any

from smlp.errors import ConfigError, MissingDependencyError

BACKENDS = {
    "local": ("smlp.backends.local:LocalBackend", None),
    "sagemaker": ("smlp.backends.sagemaker:SageMakerBackend", "aws"),
}


def get_backend(config: Any, store: Any) -> Any:
    """Build the backend ``config.backend.kind`` names, over ``store``."""
    kind = config.backend.kind
    try:
        target, extra = BACKENDS[kind]
    except KeyError:
        raise ConfigError(f"backend.kind: unknown backend {kind!r}; expected "
                          + " or ".join(BACKENDS)) from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra and exc.name and not exc.name.startswith("smlp"):
            raise MissingDependencyError(f"the {kind} backend", extra) from None
        raise
    return getattr(module, class_name)(config, store)
