"""A two-instance job through the real CLI's dry run: the train channel sharded by S3 key,
validation replicated, the summary saying so, and a note when the split has fewer files than
instances; Batch Transform on several instances likewise (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli_helpers import smlp
from tests.integration.test_sagemaker_dryrun_rules import configure

CLUSTER = "    instance_count: 2\n    input_mode: Pipe\n"


def test_dry_run_of_a_two_instance_job_shows_sharded_channels(project: Path,
                                                             no_credentials: None) -> None:
    configure(project, "transform: {instance_count: 2, max_concurrent_transforms: 2}\n")
    config = (project / "smlp.yaml").read_text().replace("  xgboost:\n",
                                                         "  xgboost:\n" + CLUSTER, 1)
    (project / "smlp.yaml").write_text(config)
    result = smlp("train", "--algo", "xgboost", "--dry-run")
    body = json.loads(result.stdout)
    (request,) = [r["params"] for r in body["requests"]
                  if r["operation"] == "CreateTrainingJob"]
    assert request["ResourceConfig"]["InstanceCount"] == 2
    spread = {c["ChannelName"]: (c["DataSource"]["S3DataSource"]["S3DataDistributionType"],
                                 c["InputMode"]) for c in request["InputDataConfig"]}
    assert spread == {"train": ("ShardedByS3Key", "Pipe"),
                      "validation": ("FullyReplicated", "Pipe")}
    assert (f"{request['TrainingJobName']}  2 instances, Pipe mode: train ShardedByS3Key, "
            "validation FullyReplicated") in result.stderr
    # The rehearsed split is one file: one of the two instances would get no share of it.
    assert any("holds 1 file(s) for 2 instances" in note for note in body["notes"]), body
