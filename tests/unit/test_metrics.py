from __future__ import annotations

import numpy as np
import pytest

from smlp.metrics import is_better, regression_metrics


def test_metrics_against_hand_computed_values() -> None:
    metrics = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 4.0])
    assert metrics["mse"] == pytest.approx((0.25 + 0 + 1 + 0) / 4)
    assert metrics["rmse"] == pytest.approx(np.sqrt(1.25 / 4))
    assert metrics["mae"] == pytest.approx(1.5 / 4)
    assert metrics["r2"] == pytest.approx(1 - 1.25 / 5.0)


def test_metrics_match_sklearn() -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rng = np.random.default_rng(0)
    y, p = rng.normal(size=500), rng.normal(size=500)
    metrics = regression_metrics(y, p)
    assert metrics["mse"] == pytest.approx(mean_squared_error(y, p))
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y, p))
    assert metrics["r2"] == pytest.approx(r2_score(y, p))


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        regression_metrics([1.0, 2.0], [1.0])


def test_direction() -> None:
    assert is_better("rmse", 0.4, 0.5)
    assert is_better("r2", 0.9, 0.8)
    assert not is_better("mae", 0.6, 0.5)
