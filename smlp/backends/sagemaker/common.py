"""What the SageMaker backend and its tuning and transform jobs share, importing none of them.

``backend`` imports ``tuning`` and ``transform`` (and ``requests``, ``rules``); they import this
module, never the backend: ``Backend`` names what they use of ``SageMakerBackend``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from smlp.errors import ConfigError, IntegrityError, MissingDependencyError

if TYPE_CHECKING:
    from smlp.algorithms.spec import AlgorithmSpec
    from smlp.config.backend import SageMakerBackendConfig
    from smlp.events import EventSink


@dataclass(frozen=True)
class JobSettings:
    """What every request shares: the resolved account-level settings."""

    region: str
    role_arn: str
    use_spot: bool = False
    spot_algorithms: tuple[str, ...] | None = None  # with use_spot: only these (None: all)
    max_wait_seconds: int | None = None
    checkpoint_s3_uri: str | None = None  # base; the job name is appended
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    volume_kms_key_id: str | None = None
    output_kms_key_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    input_modes: dict[str, str] = field(default_factory=dict)  # algorithm -> File|FastFile|Pipe

    @classmethod
    def from_config(cls, config: SageMakerBackendConfig, region: str, role_arn: str,
                    checkpoint_base: str | None,
                    input_modes: dict[str, str] | None = None) -> JobSettings:
        spot = config.use_spot
        return cls(
            region=region, role_arn=role_arn, use_spot=bool(spot),
            spot_algorithms=tuple(spot) if isinstance(spot, list) else None,
            max_wait_seconds=config.max_wait_seconds,
            checkpoint_s3_uri=config.checkpoint_s3_uri or checkpoint_base,
            subnets=tuple(config.subnets), security_group_ids=tuple(config.security_group_ids),
            volume_kms_key_id=config.volume_kms_key_id,
            output_kms_key_id=config.output_kms_key_id, tags=dict(config.tags),
            input_modes=dict(input_modes or {}),
        )


def image_uri(spec: AlgorithmSpec, region: str, version: str) -> str:
    """The algorithm's container image for the region, from the SageMaker SDK's tables."""
    try:
        from sagemaker.core import image_uris
    except ImportError:
        raise MissingDependencyError("the sagemaker backend", "aws") from None
    try:
        return image_uris.retrieve(spec.image_framework, region, version)
    except ValueError as exc:
        reason = str(exc).split(". You may need")[0]
        raise ConfigError(f"algorithms.{spec.name}.container_version {version!r}: no "
                          f"{spec.image_framework} image for it in {region} ({reason})") from None


def failure_reason(described: dict[str, Any], status: str, stop_call: str) -> str:
    reason = described.get("FailureReason") or ""
    if status == "Stopped":
        return f"Stopped: {reason or f'the job was stopped ({stop_call})'}"
    return reason or f"{status} without a FailureReason"


class Backend(Protocol):
    """What ``tuning.run`` and ``transform.run`` use of ``SageMakerBackend``."""

    settings: Any
    store: Any
    region: str
    dry_run: bool
    session: Any
    plan: Any

    @property
    def sagemaker(self) -> Any: ...

    def prepare(self) -> JobSettings: ...

    def validate(self, *requests: tuple[str, dict[str, Any]]) -> None: ...

    def connect(self) -> None: ...

    def send(self, operation: str, params: dict[str, Any]) -> dict[str, Any]: ...

    def call(self, operation: str, **params: Any) -> dict[str, Any]: ...

    def sourcedir(self) -> str: ...

    def upload_sourcedir(self) -> None: ...

    def wait_for(self, kind: str, name: str, describe: Callable[[], dict[str, Any]],
                 events: EventSink, on_log: Callable[[str], None] | None = None,
                 on_progress: Callable[[dict[str, Any]], None] | None = None
                 ) -> dict[str, Any]: ...

    def s3_sha256(self, uri: str) -> str | None: ...


def model_data_url(backend: Backend, model_uri: str, uploads: list[tuple[Any, str]]) -> str:
    """ModelDataUrl: the model.tar.gz on S3; a local one is queued for upload under its content
    hash (transform jobs and endpoints share the key, so one model goes up once)."""
    from pathlib import Path

    from smlp.fileio import sha256_file

    if model_uri.startswith("s3://"):
        return model_uri
    local = Path(model_uri)
    key = f"models/{sha256_file(local)[:16]}/model.tar.gz"
    uploads.append((local, key))
    return backend.store.uri(key)


def check_model(backend: Backend, model_uri: str, model_sha256: str | None) -> None:
    """The model on S3 is the one the manifest recorded (when small enough to hash)."""
    if model_uri.startswith("s3://") and model_sha256 and not backend.dry_run:
        digest = backend.s3_sha256(model_uri)
        if digest is not None and digest != model_sha256:
            raise IntegrityError(
                f"{model_uri}: sha256 {digest[:12]}… does not match the manifest's "
                f"{model_sha256[:12]}…; the model was changed after training (re-run "
                "`smlp train`)")
