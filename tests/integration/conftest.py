"""Fixtures the integration tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_helpers import smlp, write_small_config


@pytest.fixture
def trained(project: Path) -> Path:
    """A project with the small config, generated data and a trained XGBoost candidate."""
    write_small_config(project)
    smlp("data", "generate")
    smlp("train", "--algo", "xgboost")
    return project
