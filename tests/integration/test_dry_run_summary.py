"""A dry run prints, on stderr, each job with its instance type, estimated cost and ceiling
(MaxRuntime × instances × rate), and where the rates come from; stdout stays pure JSON; a
dry-run tune names no "best trial"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cli_helpers import smlp

ROLE = "arn:aws:iam::123456789012:role/smlp"


@pytest.fixture
def sagemaker_project(project: Path, no_credentials: None,
                      monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMLP_PRICES_FILE", str(project / "user-prices.json"))
    (project / "smlp.yaml").write_text(
        "data: {rows: 1500}\n"
        "algorithms:\n  xgboost: {max_runtime_seconds: 3600, instance_count: 2,\n"
        "            hyperparameters: {num_round: 20}}\n"
        f"backend: {{kind: sagemaker, region: eu-west-1, role_arn: '{ROLE}'}}\n"
        "store: s3://my-smlp-bucket/smlp\n")
    return project


def test_dry_run_train_summarises_each_job_on_stderr(sagemaker_project: Path) -> None:
    from smlp.backends.sagemaker.pricing import hourly_price

    result = smlp("train", "--algo", "xgboost", "--dry-run")
    plan = json.loads(result.stdout)  # stdout: the JSON alone
    [job] = plan["estimated_cost"]["jobs"]
    rate = hourly_price("eu-west-1", "ml.m5.xlarge")[0]
    assert rate is not None
    estimated, ceiling = rate * 0.25 * 2, rate * 1.0 * 2  # 15 min assumed, 1 h limit, 2 instances
    line = next(text for text in result.stderr.splitlines() if job["job"] in text
                and "estimated" in text)
    assert "training, 2 × ml.m5.xlarge" in line
    assert f"estimated ${estimated:,.2f}, at most ${ceiling:,.2f}" in line
    assert f"total: estimated ${estimated:,.2f}, at most ${ceiling:,.2f}" in result.stderr
    assert "eu-west-1 prices as of 2024-06-01, built-in table" in result.stderr
    assert "unverified" in result.stderr and "smlp prices update" in result.stderr
    assert "dry run: nothing sent" not in result.stdout


def test_dry_run_tune_prints_no_best_trial(sagemaker_project: Path) -> None:
    result = smlp("tune", "--algo", "xgboost", "--max-jobs", "4", "--dry-run")
    plan = json.loads(result.stdout)
    assert [r["operation"] for r in plan["requests"]] == ["CreateHyperParameterTuningJob"]
    assert not any("best of" in line for line in result.stderr.splitlines())
    assert "best trial" not in result.stderr  # the plan's note says none is best
    assert "tuning, 4 trials × 2 × ml.m5.xlarge" in result.stderr
    assert "Trials —" not in result.stdout + result.stderr  # no leaderboard of placeholders


def test_dry_run_names_a_price_list_table_when_one_was_fetched(sagemaker_project: Path) -> None:
    (sagemaker_project / "user-prices.json").write_text(json.dumps({"regions": {"eu-west-1": {
        "as_of": "2026-12-01", "verified": True, "source": "AWS Price List API",
        "training": {"ml.m5.xlarge": 0.3}}}}))
    result = smlp("train", "--algo", "xgboost", "--dry-run")
    assert "estimated $0.15, at most $0.60" in result.stderr
    assert "eu-west-1 prices as of 2026-12-01, Price List API)" in result.stderr
    assert "unverified" not in result.stderr.split("total:")[1].splitlines()[0]
    assert json.loads(result.stdout)["estimated_cost"]["price_table_verified"] is True
