"""Figures are PNGs with stable bytes, whatever the user's matplotlib settings."""

from __future__ import annotations

import numpy as np

from smlp.report import figures


def _panels() -> bytes:
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    return figures.regression_panels("m", y, y + rng.normal(scale=0.3, size=500)).png


def test_same_data_same_png_bytes_without_a_software_stamp() -> None:
    first = _panels()
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert first == _panels()
    assert b"Software" not in first and b"matplotlib" not in first


def test_a_users_matplotlib_settings_change_nothing() -> None:
    import matplotlib

    before = _panels()
    with matplotlib.rc_context({"lines.linewidth": 6, "axes.facecolor": "black",
                                "font.size": 20}):
        assert _panels() == before


def test_decile_errors() -> None:
    y = np.arange(100, dtype=float)
    p = y + np.where(y < 50, 1.0, -2.0)
    found = figures.decile_errors(y, p)
    assert len(found["mae"]) == 10
    np.testing.assert_allclose(found["mae"], [1.0] * 5 + [2.0] * 5)
    np.testing.assert_allclose(found["bias"], [-1.0] * 5 + [2.0] * 5)
