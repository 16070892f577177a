"""An XGBoost Booster's prediction without ``inplace_predict``'s per-call Python.

``Booster.inplace_predict`` spends ~150 µs of Python per call (imports, type probes, a class
built for the result) around one C call, ``XGBoosterPredictFromDense``, that takes ~90 µs for
one row: most of a one-row request. This calls that C function directly with the arguments
``inplace_predict`` passes for a C-contiguous float32 matrix (value predictions, every tree,
NaN missing), so the numbers are the same bits; the script's ``predict_fn`` stays the path
for anything else, and the fast path is only used if it agrees with ``predict_fn`` on probe
rows when the model is loaded.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Callable
from typing import Any

# What inplace_predict(data) sends (xgboost.core.Booster.inplace_predict: make_jcargs with
# its defaults: predict_type "value", iteration_range (0, 0), missing NaN, no strict shape).
_ARGS = json.dumps({"type": 0, "training": False, "iteration_begin": 0, "iteration_end": 0,
                    "missing": float("nan"), "strict_shape": False, "cache_id": 0}).encode()


def fast_booster_predict(model: Any, predict_fn: Callable[[Any], Any]
                         ) -> Callable[[Any], Any] | None:
    """A ``predict(features)`` equal to ``predict_fn`` for ``model`` (an xgboost Booster), or
    None when this xgboost does not offer the C entry point or the two disagree."""
    import numpy as np

    try:
        from xgboost import core

        lib, check = core._LIB, core._check_call  # noqa: SLF001 (the C API's own binding)
        entry = lib.XGBoosterPredictFromDense
        width = int(model.num_features())
        model.handle  # noqa: B018 (a Booster has one; read per call: the closure keeps model)
    except Exception:  # another xgboost, or not a Booster: the script's path only
        return None
    float32, c_ulong = np.float32, ctypes.c_uint64
    byref, memmove = ctypes.byref, ctypes.memmove

    def predict(features: Any) -> Any:
        if not (type(features) is np.ndarray and features.dtype == float32
                and features.ndim == 2 and features.shape[1] == width
                and features.shape[0] and features.flags.c_contiguous):
            return predict_fn(features)
        interface = (b'{"data": [%d, false], "strides": null, "typestr": "<f4", '
                     b'"shape": [%d, %d], "version": 3}'
                     % (features.ctypes.data, features.shape[0], width))
        shape = ctypes.POINTER(c_ulong)()
        dims = c_ulong()
        values = ctypes.POINTER(ctypes.c_float)()
        check(entry(model.handle, interface, _ARGS, None, byref(shape), byref(dims),
                    byref(values)))
        if dims.value == 1 or (dims.value == 2 and shape[1] == 1):
            out = np.empty(shape[0], dtype=float32)  # predict_fn's 1-D answer
        elif dims.value == 2:
            out = np.empty((shape[0], shape[1]), dtype=float32)  # a row of class scores
        else:
            return predict_fn(features)
        memmove(out.ctypes.data, values, out.nbytes)  # the C buffer is reused by the next call
        return out

    probe = np.array([[0.0] * width, [float("nan")] * width,
                      [float(i + 1) / 3 for i in range(width)]], dtype=float32)
    try:
        same = all(_identical(predict(rows), predict_fn(rows))
                   for rows in (probe, probe[:1], probe[2:]))
    except Exception:
        return None
    return predict if same else None


def _identical(ours: Any, theirs: Any) -> bool:
    import numpy as np

    theirs = np.asarray(theirs)
    return bool(ours.shape == theirs.shape and ours.dtype == theirs.dtype
                and ours.tobytes() == theirs.tobytes())
