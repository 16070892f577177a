"""Fixtures the integration tests share."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.integration.cli_helpers import smlp, write_small_config


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated data and a trained XGBoost candidate, made once per test session: about 80
    tests start from it, and a project is relocatable (manifest keys are store-relative)."""
    folder = tmp_path_factory.mktemp("trained-template")
    previous = Path.cwd()
    os.chdir(folder)
    try:
        write_small_config(folder)
        smlp("data", "generate")
        smlp("train", "--algo", "xgboost")
    finally:
        os.chdir(previous)
    return folder


@pytest.fixture
def trained(project: Path, trained_template: Path) -> Path:
    """A project with the small config, generated data and a trained XGBoost candidate (a
    copy of the session's template, so a test may change or break it freely)."""
    shutil.copytree(trained_template, project, dirs_exist_ok=True)
    return project
