"""`smlp train --algo xgboost` end to end against the same training in plain xgboost.

Both sides start a fresh interpreter, read the same CSV splits, train the seed-default
model with the same evaluation sets and save it. Target: overhead ratio <= 1.5.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import SMLP, report, timed

PLAIN = """
import json, os, numpy as np, xgboost as xgb
splits = json.load(open("smlp-artifacts/manifest.json"))["data"]["splits"]
def load(split):  # the recorded data version's file (a key or an absolute path)
    path = os.path.join("smlp-artifacts", splits[split]["uri"])
    data = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return xgb.DMatrix(data[:, 1:], label=data[:, 0])
train = load("train")
validation = load("validation")
params = {"max_depth": 5, "eta": 0.2, "subsample": 0.8, "colsample_bytree": 0.8,
          "objective": "reg:squarederror"}
booster = xgb.train(params, train, 100, evals=[(train, "train"), (validation, "validation")],
                    verbose_eval=True)
booster.save_model("plain-model")
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed([SMLP, "data", "generate"], cwd=folder, repeat=1)
        (folder / "plain.py").write_text(PLAIN)
        baseline = timed([sys.executable, "plain.py"], cwd=folder, repeat=5)
        ours = timed([SMLP, "train", "--algo", "xgboost"], cwd=folder, repeat=5)
    report("train overhead", ours, baseline, "<= 1.5", ours / baseline <= 1.5)


if __name__ == "__main__":
    main()
