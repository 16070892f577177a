"""smlp.number_text writes numbers as Arrow's cast does; the batch engine and the endpoint
share it, so the engine needs nothing of smlp.serving."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa

from smlp.number_text import QUICK_TEXT_VALUES, arrow_texts


def test_arrow_texts_is_arrows_cast_text() -> None:
    rng = np.random.default_rng(11)
    edges = [10.0 ** e for e in range(-8, 12)] + [0.0, -0.0, np.nan, np.inf, -np.inf, 0.1]
    for dtype in (np.float32, np.float64):
        bits = rng.integers(0, 2**63, 800, dtype=np.uint64)
        raw = (bits.astype(np.uint32).view(np.float32) if dtype is np.float32
               else bits.view(np.float64))
        values = np.concatenate([np.array(edges, dtype=dtype), raw])
        for at in range(0, len(values), QUICK_TEXT_VALUES):
            chunk = values[at:at + QUICK_TEXT_VALUES]
            assert arrow_texts(chunk) == pa.array(chunk).cast(pa.string()).to_pylist()
    assert arrow_texts(np.zeros(QUICK_TEXT_VALUES + 1)) is None
    assert arrow_texts(np.array([1, 2])) is None


def test_the_batch_engine_imports_nothing_of_serving() -> None:
    code = ("import sys, smlp.batch.engine\n"
            "print(sorted(m for m in sys.modules if m.startswith('smlp.serving')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
