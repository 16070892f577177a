"""The report in a real browser: headless Chromium (Debian's package) renders it with no
console error and no network request; the detectors themselves are checked on a page that
does both wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.browser import CHROMIUM, ink, network_requests, visit
from tests.integration.cli_helpers import smlp


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends "
                    "chromium (.ci/run does it in CI)")
    return CHROMIUM


def test_report_renders_offline_without_errors(trained: Path, chromium: Path,
                                               tmp_path: Path) -> None:
    smlp("compare")
    smlp("report")
    page = trained / "smlp-artifacts" / "report" / "index.html"
    found = visit(page.as_uri(), tmp_path / "profile")
    assert found.console_errors == []
    assert network_requests(found) == []
    assert found.requests and found.requests[0] == page.as_uri()  # the detector saw the load
    share, colours = ink(found.screenshot)
    assert share > 0.05 and colours > 50, (share, colours)  # text, tables and figures drawn


def test_the_checks_catch_a_page_that_reaches_out_or_fails(chromium: Path,
                                                           tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                   '<script>console.error("boom"); undefinedFunction();</script></body></html>')
    found = visit(bad.as_uri(), tmp_path / "profile-bad")
    assert network_requests(found) == ["http://127.0.0.1:9/x.png"]
    assert any("boom" in e for e in found.console_errors)
    assert any("undefinedFunction" in e for e in found.console_errors)
    assert ink(found.screenshot)[0] < 0.01  # and a page with nothing on it is blank
