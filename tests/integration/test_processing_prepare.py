"""``smlp data prepare --backend sagemaker`` against moto (``mock_aws``): the
CreateProcessingJob requests field by field, the dry run, bad inputs, and a stand-in for
SageMaker Processing's side that runs the uploaded script as the platform would.

The stand-in follows the Processing contract (SageMaker Developer Guide,
build-your-own-processing-container.md, use-scikit-learn-processing-container.md): every
S3Input downloaded to its LocalPath (S3Prefix, File mode; ShardedByS3Key gives each instance
whole objects, about as many each, FullyReplicated gives every instance all of them),
``/opt/ml/config/resourceconfig.json`` per host, ContainerEntrypoint plus ContainerArguments
run on each host, every S3Output's LocalPath uploaded at the end of the job, a non-zero exit
fails the job with ``/opt/ml/output/message`` as its ExitMessage. moto itself completes a
processing job at once and runs nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.cli_helpers import assert_one_line_error, smlp
from tests.integration.sagemaker_fixtures import (
    REGION,
    ROLE,
    STORE,
    attach_to_sagemaker_clients,
    split_s3,
)

CONTAINER = "/opt/ml"
INPUT = "s3://smlp-test/raw/houses/"


class ProcessingPlatform:
    """Records each CreateProcessingJob and plays SageMaker Processing's side of it."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.requests: list[dict[str, Any]] = []
        self.hosts: dict[str, dict[str, list[str]]] = {}  # job -> host -> data objects
        self._attached: set[int] = set()

    def attach(self, client: Any) -> None:
        if id(client) not in self._attached:
            self._attached.add(id(client))
            events = client.meta.events
            events.register("before-parameter-build.sagemaker.CreateProcessingJob",
                            self._record)
            events.register("after-call.sagemaker.CreateProcessingJob", self._run)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(json.loads(json.dumps(params)))

    @staticmethod
    def _s3() -> Any:
        import boto3

        return boto3.client("s3", region_name=REGION)

    def _keys(self, uri: str) -> tuple[str, list[str]]:
        bucket, prefix = split_s3(uri)
        pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                     Prefix=prefix)
        return bucket, sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    @staticmethod
    def _log(job: str, host: str, lines: list[str]) -> None:
        """The container's output in CloudWatch, one stream per host, as SageMaker names
        them (``/aws/sagemaker/ProcessingJobs``, ``<job>/<host>-<id>``)."""
        import time

        import boto3

        logs = boto3.client("logs", region_name=REGION)
        group = "/aws/sagemaker/ProcessingJobs"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        stream = f"{job}/{host}-1700000000"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)
                  if line.strip()]
        if events:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    def _run(self, **_: Any) -> None:
        request = self.requests[-1]  # moto has created (and completed) the job
        name = request["ProcessingJobName"]
        count = request["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
        hosts = [f"algo-{i + 1}" for i in range(count)]
        self.hosts[name] = {}
        failed = ""
        s3 = self._s3()
        for number, host in enumerate(hosts):
            base = self.work / name / host / "opt" / "ml"
            (base / "config").mkdir(parents=True)
            (base / "config" / "resourceconfig.json").write_text(json.dumps(
                {"current_host": host, "hosts": hosts}))
            for item in request["ProcessingInputs"]:
                source = item["S3Input"]
                bucket, keys = self._keys(source["S3Uri"])
                if source["S3DataDistributionType"] == "ShardedByS3Key":
                    keys = keys[number::count]
                    self.hosts[name][host] = keys
                prefix = split_s3(source["S3Uri"])[1]
                base_key = prefix if prefix.endswith("/") else prefix.rsplit("/", 1)[0] + "/"
                local = base / source["LocalPath"].removeprefix(CONTAINER + "/")
                for key in keys:
                    target = local / key[len(base_key):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            app = request["AppSpecification"]
            command = [sys.executable if part == "python3" else
                       str(base / part.removeprefix(CONTAINER + "/")) if part.startswith(
                           CONTAINER) else part for part in app["ContainerEntrypoint"]]
            done = subprocess.run([*command, *app.get("ContainerArguments", []),
                                   "--base-dir", str(base)], capture_output=True, text=True,
                                  timeout=300)
            self._log(name, host, (done.stdout + done.stderr).splitlines())
            message = base / "output" / "message"
            if done.returncode != 0:
                failed = message.read_text() if message.exists() else "no message"
                break
            for item in request["ProcessingOutputConfig"]["Outputs"]:
                target = item["S3Output"]
                local = base / target["LocalPath"].removeprefix(CONTAINER + "/")
                bucket, prefix = split_s3(target["S3Uri"])
                for path in sorted(p for p in local.rglob("*") if p.is_file()):
                    key = f"{prefix.rstrip('/')}/{path.relative_to(local).as_posix()}"
                    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        if failed:
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.sagemaker.models import sagemaker_backends

            job = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].processing_jobs[name]
            job.processing_job_status = "Failed"
            job.failure_reason = "AlgorithmError: See job logs for more information"
            job.exit_message = failed


@pytest.fixture
def platform(make_store: Any, project: Path, monkeypatch: pytest.MonkeyPatch
             ) -> ProcessingPlatform:
    make_store("s3")  # the moto bucket smlp-test
    recorder = ProcessingPlatform(project / ".platform")
    attach_to_sagemaker_clients(recorder, monkeypatch)
    return recorder


def upload_houses(rows: int = 900, seed: int = 0, objects: int = 3) -> None:
    """Objects of one CSV with a header each: numbers with gaps, text, booleans, an ID."""
    import boto3

    rng = np.random.default_rng(seed)
    s3 = boto3.client("s3", region_name=REGION)
    for number in range(objects):
        lines = ["house,size,rooms,city,garden,price"]
        for i in range(rows // objects):
            size = rng.normal(100, 30)
            city = rng.choice(["Lyon", "Paris", "Nice", ""], p=[.4, .3, .2, .1])
            garden = rng.choice(["True", "False"])
            price = 2 * size + 40 * (city == "Paris") + 10 * (garden == "True") \
                + rng.normal(0, 5)
            shown = "" if rng.random() < 0.05 else f"{size:.2f}"
            lines.append(f"h{number}-{i},{shown},{int(size // 30)},{city},{garden},{price:.2f}")
        s3.put_object(Bucket="smlp-test", Key=f"raw/houses/part-{number}.csv",
                      Body=("\n".join(lines) + "\n").encode())


def write_config(project: Path, stream_logs: bool = False, **processing: Any) -> Path:
    settings = {"instance_count": 2, **processing}
    config = {
        "data": {"seed": 3},
        "algorithms": {"xgboost": {"hyperparameters": {"num_round": 30}},
                       "sklearn-gbm": {"hyperparameters": {"n_estimators": 20}}},
        "store": STORE,
        "backend": {"kind": "sagemaker", "region": REGION, "role_arn": ROLE,
                    "poll_seconds": 0.01, "max_poll_seconds": 0.02, "stream_logs": stream_logs,
                    "volume_kms_key_id": "alias/smlp", "output_kms_key_id": "alias/smlp",
                    "tags": {"team": "ml"}, "processing": settings},
    }
    path = project / "smlp.yaml"
    path.write_text(json.dumps(config))  # YAML is a superset of JSON
    return path


def test_prepare_runs_two_processing_jobs_and_records_their_shards(project, platform):
    upload_houses()
    config = write_config(project)
    result = smlp("data", "prepare", "-i", INPUT.rstrip("/"), "-t", "price",
                  "--id-column", "house", "-c", str(config))
    fit, apply = platform.requests
    check_requests(fit, apply)
    # ShardedByS3Key: each of the two instances read whole objects, none read all.
    assert sorted(len(keys) for keys in platform.hosts[apply["ProcessingJobName"]].values()) \
        == [1, 2]

    from smlp.manifest import load_manifest
    from smlp.store import open_store

    store = open_store(STORE)
    data = load_manifest(store).data
    version = apply["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].split("/")[-2]
    assert data.splits["train"].uri == f"{STORE}/data/{version}/train"
    assert sum(data.rows.values()) == 900 and data.features[:2] == ["size", "rooms"]
    assert f"data ready in {STORE}/data/{version}" in result.output
    stage = load_manifest(store).stages["data"]
    assert stage.jobs == [fit["ProcessingJobName"], apply["ProcessingJobName"]]
    assert stage.parameters["instance_count"] == 2

    # smlp status can look the recorded job names up as processing jobs.
    from smlp.backends.sagemaker import SageMakerBackend
    from smlp.config import load_config

    backend = SageMakerBackend(load_config(config), store)
    described = backend.describe(fit["ProcessingJobName"])
    assert (described.status, described.details["operation"]) == (
        "Completed", "DescribeProcessingJob")

    # The recorded data trains and compares through the normal CLI on the local backend.
    local = ["-c", str(config), "--backend", "local"]
    smlp("train", "--algo", "xgboost,sklearn-gbm", *local)
    compared = smlp("compare", "--json", *local)
    scores = {c["name"]: c["metrics"] for c in json.loads(compared.stdout)["candidates"]}
    assert set(scores) == {"xgboost", "sklearn-gbm"}
    assert all(metrics["r2"] > 0.8 for metrics in scores.values()), scores


def check_requests(fit: dict[str, Any], apply: dict[str, Any]) -> None:
    """Field by field: API reference, CreateProcessingJob."""
    name = apply["ProcessingJobName"]
    assert fit["ProcessingJobName"] == f"{name}-fit" and name.startswith("smlp-prepare-")
    code_uri = fit["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert code_uri.startswith(f"{STORE}/code/processing-") and code_uri.endswith("/prepare.py")
    code = {"InputName": "code", "S3Input": {
        "S3Uri": code_uri, "LocalPath": "/opt/ml/processing/input/code",
        "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated"}}

    def data(distribution: str) -> dict[str, Any]:
        return {"InputName": "data", "S3Input": {
            "S3Uri": INPUT, "LocalPath": "/opt/ml/processing/input/data",
            "S3DataType": "S3Prefix", "S3InputMode": "File",
            "S3DataDistributionType": distribution}}

    work = f"{STORE}/processing/{name}"
    assert fit["ProcessingInputs"] == [code, data("FullyReplicated")]
    assert apply["ProcessingInputs"] == [code, data("ShardedByS3Key"), {
        "InputName": "schema", "S3Input": {
            "S3Uri": f"{work}/fit/", "LocalPath": "/opt/ml/processing/input/schema",
            "S3DataType": "S3Prefix", "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated"}}]

    def output(name_: str, uri: str) -> dict[str, Any]:
        return {"OutputName": name_, "S3Output": {
            "S3Uri": uri, "LocalPath": f"/opt/ml/processing/output/{name_}",
            "S3UploadMode": "EndOfJob"}}

    assert fit["ProcessingOutputConfig"] == {"Outputs": [output("schema", f"{work}/fit")],
                                             "KmsKeyId": "alias/smlp"}
    version = apply["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].split("/")[-2]
    assert apply["ProcessingOutputConfig"] == {"Outputs": [
        *(output(split, f"{STORE}/data/{version}/{split}")
          for split in ("train", "validation", "test")),
        output("summary", f"{work}/summary")], "KmsKeyId": "alias/smlp"}
    for request, count in ((fit, 1), (apply, 2)):
        assert request["ProcessingResources"] == {"ClusterConfig": {
            "InstanceCount": count, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30,
            "VolumeKmsKeyId": "alias/smlp"}}
        assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
        assert request["AppSpecification"]["ImageUri"] == (
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3")
        assert request["AppSpecification"]["ContainerEntrypoint"] == [
            "python3", "/opt/ml/processing/input/code/prepare.py"]
        assert request["RoleArn"] == ROLE
        assert {"Key": "smlp:managed", "Value": "true"} in request["Tags"]
        assert {"Key": "team", "Value": "ml"} in request["Tags"]
        assert "NetworkConfig" not in request
    assert fit["AppSpecification"]["ContainerArguments"] == [
        "fit", "--target", "price", "--seed", "3", "--splits", "0.7,0.15,0.15",
        "--standardize", "true", "--problem-type", "auto", "--shard-mb", "64",
        "--id-column", "house"]
    assert apply["AppSpecification"]["ContainerArguments"] == ["apply"]


def test_a_failed_job_is_one_line_with_its_exit_message_and_keeps_the_data(project,
                                                                           platform):
    upload_houses(rows=90)
    config = write_config(project, stream_logs=True, instance_count=1)
    result = smlp("data", "prepare", "-i", INPUT, "-t", "cost", "-c", str(config),
                  "--verbose", ok=False)
    assert_one_line_error(result, "target column 'cost' not found; columns are house, size", 6)
    assert "AlgorithmError" in result.output
    # --verbose follows the job's CloudWatch stream (/aws/sagemaker/ProcessingJobs).
    assert "  error: part-0.csv: target column 'cost' not found" in result.output
    assert len(platform.requests) == 1  # the apply job never started

    from smlp.manifest import load_manifest
    from smlp.store import open_store

    manifest = load_manifest(open_store(STORE))
    assert manifest.data is None
    assert manifest.stages["data"].status == "failed"


def test_dry_run_shows_both_jobs_sharded_input_and_cost_without_credentials(project,
                                                                           no_credentials):
    path = project / "smlp.yaml"
    path.write_text("store: s3://my-bucket/smlp\nbackend: {kind: sagemaker, region: eu-west-1,"
                    " processing: {instance_count: 2, instance_type: ml.c5.2xlarge},"
                    " subnets: [subnet-0abc], security_group_ids: [sg-0abc]}\n")
    result = smlp("data", "prepare", "-i", "s3://my-bucket/raw/", "-t", "y", "--dry-run")
    plan = json.loads(result.stdout)
    fit, apply = (r["params"] for r in plan["requests"])
    assert [r["operation"] for r in plan["requests"]] == ["CreateProcessingJob"] * 2
    assert [i["S3Input"]["S3DataDistributionType"] for i in apply["ProcessingInputs"]] == [
        "FullyReplicated", "ShardedByS3Key", "FullyReplicated"]
    for request in (fit, apply):  # jobs in the configured VPC, like training jobs
        assert request["NetworkConfig"] == {"VpcConfig": {
            "Subnets": ["subnet-0abc"], "SecurityGroupIds": ["sg-0abc"]}}
    assert fit["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert apply["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert fit["AppSpecification"]["ImageUri"].startswith(
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.9-0")

    from smlp.backends.sagemaker.pricing import hourly_price

    rate = hourly_price("eu-west-1", "ml.c5.2xlarge")[0]
    cost = plan["estimated_cost"]
    assert [(j["kind"], j["instance_count"]) for j in cost["jobs"]] == [
        ("processing", 1), ("processing", 2)]
    assert cost["total"] == pytest.approx(3 * rate * 0.25, abs=1e-4)
    assert cost["ceiling"] == pytest.approx(3 * rate * 24, abs=0.01)
    assert any("processing jobs priced at the training rate" in a for a in cost["assumptions"])
    assert any("2 instance(s), data ShardedByS3Key" in n for n in plan["notes"])
    assert any("s3://my-bucket/raw/ is outside the store (s3://my-bucket/smlp/): the "
               "execution role" in n for n in plan["notes"])
    assert "processing, 2 × ml.c5.2xlarge" in result.stderr
    assert not (project / "smlp-artifacts").exists()


def test_bad_inputs_are_one_line_errors(project, no_credentials, tmp_path):
    local_file = tmp_path / "houses.csv"
    local_file.write_text("x,y\n1,2\n")
    (project / "smlp.yaml").write_text(
        "store: s3://my-bucket/smlp\nbackend: {kind: sagemaker, region: eu-west-1}\n")
    assert_one_line_error(
        smlp("data", "prepare", "-i", str(local_file), "-t", "y", "--backend", "sagemaker",
             "--dry-run", ok=False),
        f"--input {local_file}: the sagemaker backend prepares data already in S3", 2)
    # without --backend a local file is prepared here, even for a SageMaker project
    assert_one_line_error(
        smlp("data", "prepare", "-i", str(local_file), "-t", "y", "--dry-run", ok=False),
        f"--dry-run: {local_file} is prepared on this machine", 2)
    (project / "smlp.yaml").unlink()
    assert_one_line_error(
        smlp("data", "prepare", "-i", "s3://my-bucket/raw/", "-t", "y", ok=False),
        "--input s3://my-bucket/raw/: the local backend reads local files", 2)
    (project / "smlp.yaml").write_text(
        "backend: {kind: sagemaker, processing: {instance_type: ml.m5.huge}}\n")
    assert_one_line_error(
        smlp("data", "prepare", "-i", "s3://b/raw/", "-t", "y", ok=False),
        "SageMaker Processing does not offer ml.m5.huge; e.g. ml.m5.large", 2)
    (project / "smlp.yaml").write_text(
        "backend: {kind: sagemaker, processing: {container_version: 1.2-1}}\n")
    assert_one_line_error(
        smlp("data", "prepare", "-i", "s3://b/raw/", "-t", "y", ok=False),
        "'1.2-1': the processing script needs pyarrow, which the scikit-learn container ships "
        "from 1.4-2 on", 2)


def test_an_input_prefix_without_objects_is_refused_before_any_job(project, platform):
    config = write_config(project)
    result = smlp("data", "prepare", "-i", "s3://smlp-test/nothing/", "-t", "y",
                  "-c", str(config), ok=False)
    assert_one_line_error(result, "--input s3://smlp-test/nothing/: no objects there", 2)
    assert platform.requests == []


def test_one_object_named_by_a_key_that_prefixes_others_is_refused(project, platform):
    """An S3Prefix input takes every object whose key starts with it (API reference,
    ProcessingS3Input, S3DataType)."""
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    for key in ("raw/houses.csv", "raw/houses.csv.bak"):
        s3.put_object(Bucket="smlp-test", Key=key, Body=b"x,y\n1,2\n")
    config = write_config(project)
    result = smlp("data", "prepare", "-i", "s3://smlp-test/raw/houses.csv", "-t", "y",
                  "-c", str(config), ok=False)
    assert_one_line_error(result, "--input s3://smlp-test/raw/houses.csv: as a SageMaker "
                          "S3Prefix it also matches raw/houses.csv.bak", 2)
    assert platform.requests == []


def test_clean_keeps_the_recorded_preparation_and_removes_an_older_one(project, platform):
    """A processing job's folder (schema, plan, summaries) is kept while the manifest names
    the job; a later prepare leaves the earlier job's folder and data version to smlp clean."""
    from smlp.store import open_store

    upload_houses(rows=300)
    config = write_config(project, instance_count=1)
    for _ in range(2):
        smlp("data", "prepare", "-i", INPUT, "-t", "price", "-c", str(config))
    first, second = (r["ProcessingJobName"] for r in platform.requests[1::2])
    store = open_store(STORE)
    versions = [r["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].split("/")[-2]
                for r in platform.requests[1::2]]
    assert store.list(f"processing/{first}/") and store.list(f"data/{versions[0]}/")
    smlp("clean", "-c", str(config))
    assert store.list(f"processing/{first}/") == []
    assert store.list(f"data/{versions[0]}/") == []
    assert store.list(f"processing/{second}/summary/")
    assert store.list(f"data/{versions[1]}/train/")
