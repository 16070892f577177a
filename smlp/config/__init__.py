"""The one config tree every command reads: packaged defaults, then the YAML file, then flags.

A config file holds only what differs from the defaults: it is deep-merged over them before
validation, and ``extra="forbid"`` everywhere turns a misspelt key into an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from smlp.config.algorithms import AlgorithmConfig, AlgorithmsConfig
from smlp.config.backend import BackendConfig, LocalBackendConfig, SageMakerBackendConfig
from smlp.config.base import Strict
from smlp.config.compare import CompareConfig, Metric, TransformConfig
from smlp.config.data import DataConfig
from smlp.config.endpoint import EndpointConfig
from smlp.config.infra import InfraConfig
from smlp.config.tuning import TuningConfig
from smlp.errors import ConfigError

DEFAULT_FILE = "smlp.yaml"
DEFAULT_STORE = "smlp-artifacts"


class Config(Strict):
    data: DataConfig = DataConfig()
    algorithms: AlgorithmsConfig = AlgorithmsConfig()
    compare: CompareConfig = CompareConfig()
    transform: TransformConfig = TransformConfig()
    tuning: TuningConfig = TuningConfig()
    backend: BackendConfig = Field(default_factory=LocalBackendConfig)
    store: str = Field(DEFAULT_STORE, description="local folder or s3://bucket/prefix")
    infra: InfraConfig = InfraConfig()
    endpoint: EndpointConfig = EndpointConfig()

    @field_validator("store")
    @classmethod
    def _store_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty; give a folder (e.g. smlp-artifacts) or s3://bucket/prefix")
        return value


def default_dict() -> dict[str, Any]:
    return Config().model_dump(mode="json", by_alias=True)


def resolve_path(path: Path | None) -> Path | None:
    """``--config`` if given, else ``./smlp.yaml`` if present, else None (packaged defaults)."""
    if path is not None:
        return path
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None,
                flags: dict[str, str] | None = None) -> Config:
    """Build the config from defaults, ``path`` (resolved as the CLI does) and dotted overrides.

    ``overrides`` maps dotted keys (``data.rows``) to values, applied after the file; ``flags``
    names the option each came from (``compare.metric`` -> ``--metric``), so an error blames
    the flag the user typed rather than a config section they never wrote.
    """
    path = resolve_path(path)
    merged = default_dict()
    source = "defaults"
    if path is not None:
        source = str(path)
        user = read_yaml(path)
        if "backend" in user and isinstance(user["backend"], dict):
            # A different backend kind replaces the default section instead of merging into it.
            merged["backend"] = {}
        _deep_merge(merged, user)
    for dotted, value in (overrides or {}).items():
        if dotted == "backend.kind" and merged.get("backend", {}).get("kind") != value:
            merged["backend"] = {}  # another kind's settings do not carry over
        _set_dotted(merged, dotted, value)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        given = {key: flags[key] for key in overrides or {} if flags and key in flags}
        raise ConfigError(format_validation_error(exc, source, given)) from None


def read_yaml(path: Path) -> dict[str, Any]:
    from smlp.config.yaml_file import read_yaml_mapping

    return read_yaml_mapping(path)


def format_validation_error(exc: ValidationError, source: str,
                            flags: dict[str, str] | None = None) -> str:
    """One ``source: field.path: message`` line per problem (``--flag: message`` when the value
    came from a flag)."""
    import re

    from smlp.config.yaml_file import shorten
    from smlp.suggest import did_you_mean

    lines = []
    for error in exc.errors(include_url=False):
        parts = [str(part) for part in error["loc"] if not _is_union_tag(part)]
        loc = ".".join(parts)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            hint = did_you_mean(parts[-1], known_keys(error["loc"][:-1])) if parts else ""
            message = f"unknown key{hint or ' (check its spelling against `smlp config show`)'}"
        elif error["type"] in {"literal_error", "enum", "union_tag_invalid"}:
            context = error.get("ctx", {})
            expected = context.get("expected", context.get("expected_tags", ""))
            choices = re.findall(r"'([^']*)'", str(expected))
            got = context.get("tag", error.get("input"))
            message = (f"expected one of {', '.join(choices)}, got {got!r}"
                       f"{did_you_mean(str(got), choices)}" if choices
                       else f"{message}, got {got!r}")
        message = shorten(message)
        flag = next((flag for key, flag in (flags or {}).items() if loc and (
            key == loc or key.startswith(loc + ".") or loc.startswith(key + "."))), None)
        if flag is not None:
            lines.append(f"{flag}: {message}")
        else:
            lines.append(f"{source}: {loc}: {message}" if loc else f"{source}: {message}")
    return "\n".join(lines)


def known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the config accepts at ``loc`` (every variant of a union), for suggestions."""
    import typing

    from pydantic import BaseModel

    models: list[type[BaseModel]] = [Config]
    for part in loc:
        if _is_union_tag(part):
            continue
        found: list[type[BaseModel]] = []
        for model in models:
            field = model.model_fields.get(str(part))
            if field is None:
                continue
            stack = [field.annotation]
            while stack:
                kind = stack.pop()
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    found.append(kind)
                else:
                    stack.extend(typing.get_args(kind))
        models = found
    return [name for model in models for name in model.model_fields]


def write_config_file(path: Path, text: str) -> None:
    """Write a config through a temp file that must load cleanly, then rename it into place,
    so smlp never leaves behind a config it cannot read."""
    import os

    from smlp.fileio import temp_path_for

    tmp = temp_path_for(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        if path.exists():
            tmp.chmod(path.stat().st_mode & 0o777)
        try:
            load_config(tmp)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(tmp), str(path))) from None
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def to_yaml(config: Config) -> str:
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json", by_alias=True), sort_keys=False)


def _is_union_tag(part: object) -> bool:
    return part in {"local", "sagemaker", "continuous", "integer", "categorical"}


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = target
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--{dotted}: {part} is not a section")
    node[last] = value


__all__ = [
    "AlgorithmConfig",
    "Config",
    "ConfigError",
    "LocalBackendConfig",
    "Metric",
    "SageMakerBackendConfig",
    "TransformConfig",
    "load_config",
    "to_yaml",
]
