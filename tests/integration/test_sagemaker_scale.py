"""A two-instance job through the real CLI's dry run: the train channel sharded by S3 key,
validation replicated, the summary saying so, and a note when the split has fewer files than
instances; Batch Transform on several instances likewise (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smlp.events import Event
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
    # The rehearsed data (as `smlp data` writes it from this config) has one train shard per
    # instance under the channel's prefix: each instance gets one whole shard, none sits idle.
    (train_uri,) = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]
                    if c["ChannelName"] == "train"]
    assert any(f"the train channel {train_uri} holds 2 shards for 2 instances, ShardedByS3Key: "
               "1 whole shard(s) per instance" in note for note in body["notes"]), body
    assert not any("sit idle" in note and "train channel" in note for note in body["notes"])


def test_data_prepared_for_fewer_instances_is_warned(make_store: Any) -> None:
    """Data prepared before instance_count grew has fewer train shards than instances."""
    from smlp.backends.sagemaker.backend import SageMakerBackend
    from smlp.backends.sagemaker.dryrun import DryRunStore
    from smlp.config import load_config
    from smlp.stages.data import generate
    from smlp.stages.train import train
    from tests.conftest import SMALL
    from tests.integration.sagemaker_fixtures import sagemaker_config

    store = make_store("s3")
    generate(load_config(None, SMALL), store)  # one instance configured: one train shard
    config = sagemaker_config(load_config(None, {**SMALL, "algorithms.xgboost.instance_count": 2}),
                              dry_run=True)
    events: list[Event] = []
    backend = SageMakerBackend(config, DryRunStore(store))
    train(config, backend.store, backend, ["xgboost"], events=events.append)
    (warning,) = [e.message for e in events if "sit idle" in e.message]
    assert warning.startswith("warning: ") and "holds 1 file(s) for 2 instances" in warning
    assert "re-run `smlp data` with this config" in warning
    assert any("holds 1 file(s) for 2 instances" in note for note in backend.plan.notes)
