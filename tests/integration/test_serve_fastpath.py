"""The endpoint's fast paths give what the slow ones give, bit for bit: XGBoost's C predict
against the script's ``predict_fn`` (``inplace_predict``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def booster(objective: str, classes: int = 0) -> Any:
    import xgboost

    rng = np.random.default_rng(3)
    features = rng.normal(size=(300, 6)).astype(np.float32)
    features[rng.random(features.shape) < 0.05] = np.nan
    label = (features[:, 0] > 0).astype(float) if objective == "binary:logistic" else (
        np.digitize(np.nan_to_num(features[:, 1]), [-0.5, 0.5]) if classes
        else np.nan_to_num(features[:, 0]) * 3 + 1)
    params: dict[str, Any] = {"objective": objective, "max_depth": 4, "nthread": 1}
    if classes:
        params["num_class"] = classes
    return xgboost.train(params, xgboost.DMatrix(features, label=label), num_boost_round=25)


def script_predict(model: Any) -> Any:
    from smlp.algorithms.entry_points import load_script

    module = load_script("xgboost")
    return lambda features: module.predict_fn(features, model)


@pytest.mark.parametrize("objective,classes", [("reg:squarederror", 0),
                                               ("binary:logistic", 0),
                                               ("multi:softprob", 3)])
def test_direct_predict_is_inplace_predicts_bits(objective: str, classes: int) -> None:
    from smlp.serving.booster import fast_booster_predict

    model = booster(objective, classes)
    slow = script_predict(model)
    fast = fast_booster_predict(model, slow)
    assert fast is not None
    rng = np.random.default_rng(11)
    for rows in (1, 2, 7, 1000):
        features = (rng.normal(size=(rows, 6)) * 10.0 ** rng.integers(-3, 4, size=(rows, 6))
                    ).astype(np.float32)
        features[rng.random(features.shape) < 0.1] = np.nan
        ours, theirs = fast(features), np.asarray(slow(features))
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        assert ours.tobytes() == theirs.tobytes()


def test_direct_predict_answers_are_not_overwritten_by_the_next_call() -> None:
    """XGBoost reuses its per-thread output buffer; inplace_predict's array is a view of it."""
    from smlp.serving.booster import fast_booster_predict

    model = booster("reg:squarederror")
    fast = fast_booster_predict(model, script_predict(model))
    assert fast is not None
    first_rows = np.zeros((4, 6), dtype=np.float32)
    first = fast(first_rows)
    kept = first.copy()
    fast(np.full((4, 6), 5.0, dtype=np.float32))
    assert first.tobytes() == kept.tobytes()


def test_other_inputs_take_the_scripts_path_and_its_errors() -> None:
    from smlp.serving.booster import fast_booster_predict

    model = booster("reg:squarederror")
    slow = script_predict(model)
    fast = fast_booster_predict(model, slow)
    assert fast is not None
    wide = np.ones((2, 6), dtype=np.float64)
    assert fast(wide).tobytes() == np.asarray(slow(wide)).tobytes()
    strided = np.ones((2, 12), dtype=np.float32)[:, ::2]
    assert fast(strided).tobytes() == np.asarray(slow(strided)).tobytes()
    with pytest.raises(ValueError, match="Feature shape mismatch"):
        fast(np.ones((2, 5), dtype=np.float32))


def test_no_fast_path_for_what_is_not_a_booster() -> None:
    from smlp.serving.booster import fast_booster_predict

    assert fast_booster_predict(object(), lambda features: features) is None


def test_deploy_serves_with_the_heap_settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """What is alive when serving starts (modules, models) is out of the collector's reach,
    so no full collection walks it again in the middle of a request."""
    import gc

    from smlp.serving import server as module

    frozen: list[int] = []

    class Server:
        started = True
        should_exit = False

        def run(self) -> None:
            frozen.append(gc.get_freeze_count())

    class Endpoint:
        stop = None

    monkeypatch.setattr(module, "make_server", lambda app, host, port: Server())
    gc.unfreeze()
    try:
        module.run_foreground(Endpoint(), None, "127.0.0.1", 0)
    finally:
        gc.unfreeze()
    assert frozen and frozen[0] > 1000
