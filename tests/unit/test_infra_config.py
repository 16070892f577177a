"""The ``infra:`` config section, the outputs -> config hand-off and the toolkit's preflight checks.

Nothing here imports aws_cdk or touches the network; the stack itself is tested in
tests/integration/test_infra_stack.py.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from smlp.config import load_config
from smlp.config.infra import InfraConfig
from smlp.errors import AwsError, ConfigError, SmlpError
from smlp.infra import outputs, toolkit

ROLE = "arn:aws:iam::123456789012:role/smlp-ExecutionRole-ABC"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0000-1111"
STACK_OUTPUTS = {
    outputs.OUT_BUCKET: "smlp-bucket-xyz",
    outputs.OUT_STORE: "s3://smlp-bucket-xyz/smlp",
    outputs.OUT_ROLE: ROLE,
    outputs.OUT_REGION: "eu-west-1",
    outputs.OUT_KEY: KEY,
}


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# -- InfraConfig ---------------------------------------------------------------------------------


def test_defaults_are_safe() -> None:
    infra = InfraConfig()
    assert infra.encryption == "kms"
    assert infra.removal_policy == "retain"
    assert infra.notebook is False
    assert infra.log_groups is True


def test_notebook_needs_a_subnet_and_security_group(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "smlp.yaml", {"infra": {"notebook": True}})
    with pytest.raises(ConfigError, match=r"smlp.yaml: infra: notebook: true needs "
                                          r"notebook_subnet_id and notebook_security_group_ids"):
        load_config(path)
    ok = InfraConfig(notebook=True, notebook_subnet_id="subnet-0123456789abcdef0",
                     notebook_security_group_ids=["sg-01234567"])
    assert ok.notebook_subnet_id == "subnet-0123456789abcdef0"


@pytest.mark.parametrize(("field", "value"), [
    ("log_retention_days", 31),          # CloudWatch has a fixed list of retention periods
    ("prefix", "smlp/*"),                # a wildcard would widen the role's S3 scope
    ("prefix", "/smlp"),
    ("bucket_name", "Not_A_Bucket"),
    ("region", "mars-1"),
    ("account", "1234"),
    ("encryption", "none"),
    ("notebook_security_group_ids", ["sg-1"]),
    ("job_subnet_ids", ["subnet-*"]),    # IDs become IAM resource ARNs: no wildcards
    ("job_security_group_ids", ["sg-0123456789abcdef0", "sg-*"]),
    ("job_subnet_ids", [f"subnet-{i:08x}" for i in range(17)]),  # VpcConfig: at most 16
    ("unknown_key", 1),
])
def test_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        InfraConfig(**{field: value})


def test_job_subnets_and_security_groups_go_together(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "smlp.yaml",
                      {"infra": {"job_subnet_ids": ["subnet-0123456789abcdef0"]}})
    with pytest.raises(ConfigError, match=r"infra: job_subnet_ids and job_security_group_ids "
                                          r"go together"):
        load_config(path)
    ok = InfraConfig(job_subnet_ids=["subnet-01234567"], job_security_group_ids=["sg-01234567"])
    assert ok.job_security_group_ids == ["sg-01234567"]


def test_bad_value_names_the_field_in_the_config(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "smlp.yaml", {"infra": {"log_retention_days": 31}})
    with pytest.raises(ConfigError, match=r"infra.log_retention_days: CloudWatch Logs accepts"):
        load_config(path)


def test_region_falls_back_to_the_sagemaker_backend(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "smlp.yaml",
                      {"backend": {"kind": "sagemaker", "region": "us-west-2"}})
    assert toolkit.infra_settings(load_config(path)).region == "us-west-2"
    path = write_yaml(tmp_path / "smlp.yaml", {"backend": {"kind": "sagemaker",
                                                           "region": "us-west-2"},
                                               "infra": {"region": "eu-west-1"}})
    assert toolkit.infra_settings(load_config(path)).region == "eu-west-1"
    assert toolkit.infra_settings(load_config(None)).region is None


def test_job_vpc_falls_back_to_the_sagemaker_backend(tmp_path: Path) -> None:
    """Jobs go where backend.subnets sends them: the role must allow exactly that."""
    backend = {"kind": "sagemaker", "subnets": ["subnet-0123456789abcdef0"],
               "security_group_ids": ["sg-0123456789abcdef0"]}
    infra = toolkit.infra_settings(load_config(write_yaml(tmp_path / "smlp.yaml",
                                                          {"backend": backend})))
    assert infra.job_subnet_ids == ["subnet-0123456789abcdef0"]
    assert infra.job_security_group_ids == ["sg-0123456789abcdef0"]
    chosen = {"job_subnet_ids": ["subnet-01234567"], "job_security_group_ids": ["sg-01234567"]}
    infra = toolkit.infra_settings(load_config(write_yaml(
        tmp_path / "smlp.yaml", {"backend": backend, "infra": chosen})))
    assert infra.job_subnet_ids == ["subnet-01234567"]
    assert toolkit.infra_settings(load_config(None)).job_subnet_ids == []


def test_bad_backend_subnets_are_named(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "smlp.yaml", {"backend": {
        "kind": "sagemaker", "subnets": ["subnet-*"], "security_group_ids": ["sg-01234567"]}})
    with pytest.raises(ConfigError, match=r"backend.subnets/security_group_ids \(used for "
                                          r"infra.job_subnet_ids\): String should match"):
        toolkit.infra_settings(load_config(path))


# -- outputs -> config --------------------------------------------------------------------------


def test_fragment_has_what_the_sagemaker_backend_needs() -> None:
    fragment = outputs.config_fragment(STACK_OUTPUTS, "test")
    assert fragment == {
        "backend": {"kind": "sagemaker", "region": "eu-west-1", "role_arn": ROLE,
                    "output_kms_key_id": KEY, "volume_kms_key_id": KEY},
        "store": "s3://smlp-bucket-xyz/smlp",
    }
    without_key = {k: v for k, v in STACK_OUTPUTS.items() if k != outputs.OUT_KEY}
    assert "output_kms_key_id" not in outputs.config_fragment(without_key, "test")["backend"]


def test_fragment_sends_jobs_into_the_stacks_vpc(tmp_path: Path) -> None:
    vpc = dict(STACK_OUTPUTS, **{outputs.OUT_JOB_SUBNETS: "subnet-01234567,subnet-89abcdef",
                                 outputs.OUT_JOB_SECURITY_GROUPS: "sg-01234567"})
    fragment = outputs.config_fragment(vpc, "test")
    assert fragment["backend"]["subnets"] == ["subnet-01234567", "subnet-89abcdef"]
    assert fragment["backend"]["security_group_ids"] == ["sg-01234567"]
    path = write_yaml(tmp_path / "smlp.yaml", {"backend": {"kind": "sagemaker",
                                                           "use_spot": True}})
    outputs.write_config(path, fragment)
    backend = load_config(path).backend
    assert backend.subnets == ["subnet-01234567", "subnet-89abcdef"]
    assert backend.security_group_ids == ["sg-01234567"]
    assert backend.use_spot is True
    assert "subnets" not in outputs.config_fragment(STACK_OUTPUTS, "test")["backend"]


def test_fragment_names_missing_outputs() -> None:
    with pytest.raises(SmlpError, match="lack RoleArn"):
        outputs.config_fragment({outputs.OUT_STORE: "s3://b/p", outputs.OUT_REGION: "x"}, "t")


def test_reads_cdk_outputs_file(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"smlp": STACK_OUTPUTS}), encoding="utf-8")
    assert outputs.read_outputs_file(path, "smlp") == STACK_OUTPUTS
    with pytest.raises(SmlpError, match=r"no outputs for stack 'other' \(stacks in the file: "
                                        r"smlp\); check infra.stack_name"):
        outputs.read_outputs_file(path, "other")
    with pytest.raises(SmlpError, match="outputs file not found"):
        outputs.read_outputs_file(tmp_path / "missing.json", "smlp")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(SmlpError, match="not a readable cdk outputs JSON"):
        outputs.read_outputs_file(tmp_path / "bad.json", "smlp")


def test_write_replaces_a_local_backend_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "smlp.yaml", {"backend": {"kind": "local", "work_dir": "jobs"},
                                               "data": {"rows": 500}})
    path.chmod(0o640)
    outputs.write_config(path, outputs.config_fragment(STACK_OUTPUTS, "test"))
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert written["data"] == {"rows": 500}
    assert written["backend"]["kind"] == "sagemaker"
    assert "work_dir" not in written["backend"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    config = load_config(path)
    assert config.backend.role_arn == ROLE
    assert config.store == "s3://smlp-bucket-xyz/smlp"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_write_updates_a_sagemaker_backend_in_place(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "smlp.yaml", {"backend": {"kind": "sagemaker", "use_spot": True,
                                                           "role_arn": "arn:aws:iam::1:role/x"}})
    outputs.write_config(path, outputs.config_fragment(STACK_OUTPUTS, "test"))
    backend = load_config(path).backend
    assert backend.use_spot is True
    assert backend.role_arn == ROLE


def test_write_creates_a_missing_config(tmp_path: Path) -> None:
    path = tmp_path / "new" / "smlp.yaml"
    outputs.write_config(path, outputs.config_fragment(STACK_OUTPUTS, "test"))
    assert load_config(path).backend.kind == "sagemaker"


def test_write_leaves_the_file_alone_when_the_result_would_not_load(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "smlp.yaml", {"data": {"rows": 500}})
    before = path.read_text(encoding="utf-8")
    bad = dict(STACK_OUTPUTS, **{outputs.OUT_ROLE: "not-an-arn"})
    with pytest.raises(ConfigError, match=r"smlp.yaml: backend.role_arn"):
        outputs.write_config(path, outputs.config_fragment(bad, "test"))
    assert path.read_text(encoding="utf-8") == before
    assert list(tmp_path.iterdir()) == [path]


class FakeCloudFormation:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def describe_stacks(self, StackName: str) -> dict:  # noqa: N803 (boto3's spelling)
        if self.error is not None:
            raise self.error
        return {"Stacks": [{"StackName": StackName, "Outputs": [
            {"OutputKey": key, "OutputValue": value} for key, value in STACK_OUTPUTS.items()
        ]}]}


def test_fetch_outputs_from_cloudformation() -> None:
    assert outputs.fetch_outputs("smlp", "eu-west-1", FakeCloudFormation()) == STACK_OUTPUTS


def test_fetch_outputs_maps_aws_errors() -> None:
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "ValidationError",
                                   "Message": "Stack with id smlp does not exist"}},
                        "DescribeStacks")
    with pytest.raises(AwsError, match="ValidationError in DescribeStacks: Stack with id smlp"):
        outputs.fetch_outputs("smlp", "eu-west-1", FakeCloudFormation(error))


@pytest.mark.usefixtures("no_aws_credentials")
def test_fetch_outputs_without_region_or_credentials() -> None:
    with pytest.raises(SmlpError, match="no AWS region: set infra.region"):
        outputs.fetch_outputs("smlp", None)
    with pytest.raises(SmlpError, match="no AWS credentials found.*--stack-outputs-file"):
        outputs.fetch_outputs("smlp", "eu-west-1")


# -- toolkit preflight --------------------------------------------------------------------------


def make_bin(tmp_path: Path, *names: str) -> str:
    """A PATH folder holding do-nothing executables called ``names``."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name in names:
        exe = folder / name
        exe.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        exe.chmod(0o755)
    return str(folder)


@pytest.fixture
def no_cdk_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(toolkit.CDK_ENV, raising=False)
    monkeypatch.delenv("JSII_NODE", raising=False)


@pytest.mark.usefixtures("no_cdk_override")
def test_missing_node_is_reported(tmp_path: Path) -> None:
    with pytest.raises(toolkit.ToolkitError, match="Node.js is not on PATH.*npm install -g"):
        toolkit.cdk_command(path=make_bin(tmp_path))


@pytest.mark.usefixtures("no_cdk_override")
def test_missing_cdk_cli_is_reported(tmp_path: Path) -> None:
    with pytest.raises(toolkit.ToolkitError, match="AWS CDK CLI is not on PATH.*npm install -g"):
        toolkit.cdk_command(path=make_bin(tmp_path, "node"))


@pytest.mark.usefixtures("no_cdk_override")
def test_prefers_cdk_then_npx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_bin(tmp_path, "node", "npx")
    assert toolkit.cdk_command(path=path) == list(toolkit.NPX_CDK)
    path = make_bin(tmp_path, "cdk")
    assert toolkit.cdk_command(path=path) == [str(Path(path) / "cdk")]
    monkeypatch.setenv(toolkit.CDK_ENV, "npx aws-cdk@2.1000.0")
    assert toolkit.cdk_command(path=path) == ["npx", "aws-cdk@2.1000.0"]


@pytest.fixture
def no_aws_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata probe


@pytest.mark.usefixtures("no_aws_credentials")
def test_missing_credentials_are_reported() -> None:
    with pytest.raises(toolkit.ToolkitError, match="no AWS credentials found"):
        toolkit.aws_environment(InfraConfig(region="eu-west-1"))


@pytest.mark.usefixtures("no_aws_credentials")
def test_missing_region_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(toolkit.ToolkitError, match="no AWS region: set infra.region"):
        toolkit.aws_environment(InfraConfig())
    env = toolkit.aws_environment(InfraConfig(region="eu-west-1"))
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
