"""Shared fixtures: a project folder per test, small configs, stores of each kind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
# Idle OpenMP threads sleep instead of spinning (libgomp's default spins): xdist's workers and
# the training jobs they start share the cores, and spinning threads took ~20-35% of the
# suite's CPU. Results and thread counts are unchanged; only how an idle thread waits.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _share_botocore_data() -> None:
    """One botocore data loader for every session in this process.

    Each new boto3/botocore session parses the service models again (SageMaker's is several
    MB of JSON; ~0.3 s a session) and tests make hundreds of sessions. The models are static
    files, read-only once loaded; clients, credentials and stubs stay per session."""
    import functools

    import botocore.loaders
    import botocore.session

    class _Paths(list):  # boto3 appends its data folder once per session
        def append(self, path: Any) -> None:
            if path not in self:
                super().append(path)

    create = botocore.loaders.create_loader

    @functools.cache
    def shared(search_path_string: str | None = None) -> Any:
        loader = create(search_path_string)
        loader._search_paths = _Paths(loader.search_paths)
        return loader

    botocore.session.create_loader = shared


_share_botocore_data()

SMALL = {
    "data.rows": 1500,
    "algorithms.xgboost.hyperparameters.num_round": 20,
    "algorithms.sklearn-gbm.hyperparameters.n_estimators": 20,
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder: the default store and job folders land inside it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def small_config(project: Path) -> Any:
    from smlp.config import load_config

    return load_config(None, SMALL)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    import boto3

    # boto3 caches credentials in its default session; a test must not inherit another's.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def make_store(project: Path, aws_env: None) -> Iterator[Any]:
    """A factory: ``make_store("local")`` or ``make_store("s3")`` (moto), same interface."""
    from moto import mock_aws

    with mock_aws():
        def factory(kind: str) -> Any:
            from smlp.store import LocalStore, S3Store

            if kind == "local":
                return LocalStore(project / "store")
            import boto3

            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket="smlp-test")
            return S3Store("s3://smlp-test/projects/demo", client=client)

        yield factory


@pytest.fixture
def no_credentials(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere, and nothing that could look for them on the network."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION",
                "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(project / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(project / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
