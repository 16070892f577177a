"""``smlp prices update|show`` through Typer's runner: the Price List API behind botocore's
Stubber, the user table in a temporary folder, credentials checked before any request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import assert_one_line_error, smlp
from tests.unit.test_prices import stub_eu_west_1, stubbed, user_table  # noqa: F401 (fixtures)


def test_prices_update_and_show(user_table: Path, stubbed: Any,  # noqa: F811
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from smlp.backends.sagemaker import pricelist

    client, stubber = stubbed
    stub_eu_west_1(stubber)
    monkeypatch.setattr(pricelist, "_client", lambda: client)
    before = smlp("prices", "show", "--region", "eu-west-1").stdout
    assert "unverified" in before and "0.2565" in before
    result = smlp("prices", "update", "--region", "eu-west-1")
    assert f"wrote {user_table}" in result.stdout.replace("\n", "")
    assert "eu-west-1: 3 training, 1 batch transform, 1 real-time hosting rates" in (
        result.stderr.replace("\n", " "))
    assert json.loads(user_table.read_text())["regions"]["eu-west-1"]["verified"] is True
    after = smlp("prices", "show", "--region", "eu-west-1").stdout
    assert "0.257 " in after and "Price List API" in after and "unverified" not in after


def test_prices_update_without_credentials_is_one_line(user_table: Path,  # noqa: F811
                                                       no_credentials: None) -> None:
    result = smlp("prices", "update", "--region", "eu-west-1", ok=False)
    assert_one_line_error(result, "no AWS credentials found", 2)
    assert not user_table.exists()
