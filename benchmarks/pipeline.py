"""`smlp run` on the default config against the same work as one plain script.

The plain script: the same synthetic data as numpy arrays, the three seed-default models
fitted with xgboost and scikit-learn directly, each scored on the test split, the best one's
test predictions written to CSV. Target: ratio <= 2.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import SMLP, report, timed

PLAIN = """
import numpy as np, xgboost as xgb
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.neighbors import KNeighborsRegressor
from smlp.data.synthetic import generate
table = generate(20640, 42)
data = np.column_stack([table.column(i).to_numpy() for i in range(table.num_columns)])
X, y = data[:, :-1], data[:, -1]
order = np.random.default_rng(42).permutation(len(y))
n_train, n_val = int(0.7 * len(y)), int(0.15 * len(y))
tr, va, te = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
mean, std = X[tr].mean(0), X[tr].std(0)
X = (X - mean) / std
dtrain, dval = xgb.DMatrix(X[tr], label=y[tr]), xgb.DMatrix(X[va], label=y[va])
params = {"max_depth": 5, "eta": 0.2, "subsample": 0.8, "colsample_bytree": 0.8,
          "objective": "reg:squarederror"}
booster = xgb.train(params, dtrain, 100, evals=[(dtrain, "train"), (dval, "validation")])
models = {
    "xgboost": lambda Z: booster.inplace_predict(Z),
    "knn": KNeighborsRegressor(10, algorithm="brute").fit(X[tr], y[tr]).predict,
    "sklearn-gbm": GradientBoostingRegressor(n_estimators=100, max_depth=3, learning_rate=0.1,
                                             random_state=0).fit(X[tr], y[tr]).predict,
}
scores = {name: float(np.sqrt(np.mean((f(X[te]) - y[te]) ** 2))) for name, f in models.items()}
best = min(scores, key=scores.get)
np.savetxt("predictions.csv", np.column_stack([y[te], models[best](X[te])]), delimiter=",")
print(scores, best)
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "plain.py").write_text(PLAIN)
        baseline = timed([sys.executable, "plain.py"], cwd=folder, repeat=3)
        ours = timed([SMLP, "run"], cwd=folder, repeat=3)
    report("pipeline", ours, baseline, "<= 2.0", ours / baseline <= 2.0)


if __name__ == "__main__":
    main()
