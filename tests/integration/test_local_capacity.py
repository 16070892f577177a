"""A data set too large for this machine's memory is refused before any local job starts, with
the size it would need and the SageMaker command to use instead (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlp.backends.local import capacity
from tests.integration.cli_helpers import assert_one_line_error, manifest, smlp, write_small_config


def test_training_that_would_not_fit_is_refused_before_any_job(project: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    write_small_config(project)
    smlp("data", "generate")
    rows = manifest(project)["data"]["rows"]
    monkeypatch.setattr(capacity, "available_bytes", lambda: 64 << 20)  # a 64 MiB machine
    result = smlp("train", "--algo", "xgboost", ok=False)
    assert_one_line_error(result, "xgboost: training locally needs about 0.5 GiB of memory "
                          f"({rows['train'] + rows['validation']:,} rows × 8 features in its "
                          "channels), and this machine has 0.1 GiB available; train it on "
                          "SageMaker instead: `smlp train --algo xgboost --backend sagemaker`", 6)
    jobs = project / ".smlp" / "jobs"
    assert not jobs.exists() or not any(jobs.iterdir())  # nothing started
    monkeypatch.setattr(capacity, "available_bytes", lambda: 64 << 30)
    smlp("train", "--algo", "xgboost")


def test_the_row_estimate_of_a_large_file_is_close(tmp_path: Path) -> None:
    lines = [f"{i % 7}.5,{i * 0.001:.4f},{i % 13},{(i * 7919) % 1000 / 7:.6f}"
             for i in range(200_000)]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    estimate = capacity.estimate("knn", {"train": str(tmp_path)})
    assert estimate is not None
    assert estimate.features == 3
    assert abs(estimate.rows - 200_000) < 200_000 * 0.05
    assert estimate.bytes == capacity.BASE_BYTES + estimate.rows * 4 * 12
