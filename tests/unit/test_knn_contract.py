"""k-NN's hyperparameter contract as the AWS docs state it (kNN_hyperparameters, kNN-tuning):
the same names, values and padding rule in smlp's spec and in the local training script."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smlp.algorithms import get_algorithm
from smlp.algorithms.knn import PQ_M_VALUES, padded_dimension
from tests.unit.test_training_scripts import KNN_MSE, load_script, make_data, run_job

# The AWS k-NN hyperparameter table, row by row.
AWS_KNN_HYPERPARAMETERS = {
    "feature_dim", "k", "predictor_type", "sample_size", "dimension_reduction_target",
    "dimension_reduction_type", "faiss_index_ivf_nlists", "faiss_index_pq_m", "index_metric",
    "index_type", "mini_batch_size",
}
AWS_PQ_M = (1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"train": make_data(1200, seed=1), "test": make_data(300, seed=2)}


def base(**extra: str) -> dict[str, str]:
    return {"feature_dim": "8", "k": "10", "predictor_type": "regressor",
            "sample_size": "5000", **extra}


def test_spec_lists_exactly_the_aws_hyperparameters() -> None:
    spec = get_algorithm("knn")
    assert set(spec.hyperparameters) == AWS_KNN_HYPERPARAMETERS
    assert {n for n, h in spec.hyperparameters.items() if h.tunable} == {"k", "sample_size"}
    assert PQ_M_VALUES == AWS_PQ_M
    pq_m = spec.hyperparameters["faiss_index_pq_m"]
    assert pq_m.coerce("12") == 12
    with pytest.raises(ValueError, match="expected one of 1, 2, 3, 4, 8"):
        pq_m.coerce(5)
    assert spec.hyperparameters["k"].coerce(2048) == 2048  # "positive integer": no cap
    assert {m.name: m.direction for m in spec.tuning_metrics()} == {
        "test:mse": "Minimize", "test:accuracy": "Maximize"}
    with pytest.raises(KeyError, match="not a knn hyperparameter"):
        spec.validate({"seed": 1})
    with pytest.raises(KeyError, match="not a knn hyperparameter"):
        spec.validate({"epochs": 1})


@pytest.mark.parametrize("name", ["seed", "epochs"])
def test_script_rejects_what_aws_does_not_list(tmp_path: Path, data: dict, name: str) -> None:
    job = run_job(tmp_path, "knn_builtin.py", base(**{name: "1"}), data)
    assert job.returncode == 1, job.log
    assert f"unknown hyperparameter {name!r}" in (job.failure or ""), job.log


def test_padding_rule() -> None:
    assert padded_dimension(8, 3) == 9 and padded_dimension(8, 4) == 8
    assert padded_dimension(5, 8) == 8 and padded_dimension(96, 96) == 96


def test_pq_m_that_does_not_divide_pads_with_zeros(tmp_path: Path, data: dict) -> None:
    """8 features, pq_m 3: AWS grows the dimension to 9 with a zero column, no failure."""
    job = run_job(tmp_path, "knn_builtin.py",
                  base(index_type="faiss.IVFPQ", faiss_index_pq_m="3"), data)
    assert job.returncode == 0, job.log
    assert "dimension 9 with faiss.IVFPQ" in job.log
    module = load_script("knn_builtin")
    model = module.model_fn(str(job.model_dir))
    assert (model.params["dim"], model.params["pad"]) == (9, 1)
    assert model.index.d == 9 and model.index.pq.M == 3
    (mse,) = job.values(KNN_MSE)
    vx, vy = data["test"]
    predicted = module.predict_fn(vx, model)
    assert float(np.mean((predicted - vy) ** 2)) == pytest.approx(mse, rel=1e-9)
    assert mse < 0.6 * float(np.var(vy))


def test_pq_m_with_reduction_raises_the_target(tmp_path: Path, data: dict) -> None:
    """Target 5, pq_m 4: AWS raises dimension_reduction_target to 8 instead of padding."""
    job = run_job(tmp_path, "knn_builtin.py",
                  base(index_type="faiss.IVFPQ", faiss_index_pq_m="4",
                       dimension_reduction_type="fjlt", dimension_reduction_target="5"), data)
    assert job.returncode == 0, job.log
    model = load_script("knn_builtin").model_fn(str(job.model_dir))
    assert model.projection.shape == (8, 8) and model.params["pad"] == 0
    assert model.index.d == 8 and model.index.pq.M == 4
