"""The CDK stack, synthesized for real: resource settings, cdk-nag, cfn-lint and the CLI.

Synthesis costs ~2 s, so each stack variant is built once per module. No AWS calls: synth is
offline and the CDK CLI is replaced by a script that records its arguments.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

# Via smlp.infra, which quiets jsii's Node banner before aws_cdk loads.
pytest.importorskip("smlp.infra.stack", reason="needs the infra extra: pip install 'smlp[infra]'")

from aws_cdk.assertions import Annotations, Match, Template  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from smlp.cli.main import app as cli  # noqa: E402
from smlp.config.infra import InfraConfig  # noqa: E402
from smlp.errors import ConfigError  # noqa: E402
from smlp.infra import images, toolkit  # noqa: E402
from smlp.infra.stack import build_app  # noqa: E402

NOTEBOOK = {
    "notebook": True,
    "notebook_subnet_id": "subnet-0123456789abcdef0",
    "notebook_security_group_ids": ["sg-0123456789abcdef0"],
}
JOB_VPC = {
    "job_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
    "job_security_group_ids": ["sg-0123456789abcdef1"],
}


class Synth:
    """One synthesized variant: the stack, its template and the template file on disk."""

    def __init__(self, config: InfraConfig, out: Path) -> None:
        app, self.stack = build_app(config, out)
        self.config = config
        self.template = Template.from_stack(self.stack)
        self.path = out / f"{config.stack_name}.template.json"
        self.json: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))

    def only(self, type_: str) -> dict[str, Any]:
        found = self.template.find_resources(type_)
        assert len(found) == 1, found
        return next(iter(found.values()))

    def logical_id(self, construct: Any) -> str:
        return self.stack.resolve(self.stack.get_logical_id(construct.node.default_child))

    def bucket(self) -> dict[str, Any]:
        return self.json["Resources"][self.logical_id(self.stack.bucket)]

    def resource(self, construct: Any) -> dict[str, Any]:
        return self.json["Resources"][self.logical_id(construct)]

    def statements(self, policy: str = "policy") -> dict[str, dict[str, Any]]:
        """The statements of ``stack.policy`` (execution role) or ``stack.notebook_policy``."""
        document = self.resource(getattr(self.stack, policy))["Properties"]["PolicyDocument"]
        return {s["Sid"]: s for s in document["Statement"]}

    def trust(self, role: str = "role") -> list[dict[str, Any]]:
        properties = self.resource(getattr(self.stack, role))["Properties"]
        return properties["AssumeRolePolicyDocument"]["Statement"]


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Packaged defaults: SSE-KMS, retain, no notebook, no account/region (env-agnostic)."""
    return Synth(InfraConfig(), tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Every switch flipped: S3-managed encryption, destroy, notebook, jobs in a VPC, fixed
    account/region."""
    config = InfraConfig(
        stack_name="smlp-dev", account="123456789012", region="eu-west-1",
        bucket_name="smlp-dev-data", prefix="team/smlp", encryption="s3",
        removal_policy="destroy", log_retention_days=14, tags={"project": "smlp", "env": "dev"},
        **NOTEBOOK, **JOB_VPC,
    )
    return Synth(config, tmp_path_factory.mktemp("variant"))


VARIANTS = ["default", "variant"]


@pytest.fixture(params=VARIANTS)
def synth(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


# -- data bucket -----------------------------------------------------------------------------


def test_bucket_is_versioned_private_and_logged(synth: Synth) -> None:
    props = synth.bucket()["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    log_bucket = synth.logical_id(synth.stack.log_bucket)
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}
    assert log_bucket != synth.logical_id(synth.stack.bucket)


def test_bucket_uses_the_stacks_kms_key(default: Synth) -> None:
    key_id = default.logical_id(default.stack.key)
    default.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    rule = default.bucket()["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule == [{"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}}]


def test_bucket_can_use_s3_managed_encryption(variant: Synth) -> None:
    rule = variant.bucket()["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    assert variant.bucket()["Properties"]["BucketName"] == "smlp-dev-data"


@pytest.mark.parametrize("which", ["bucket", "log_bucket"])
def test_buckets_deny_plain_http(synth: Synth, which: str) -> None:
    bucket_id = synth.logical_id(getattr(synth.stack, which))
    synth.template.has_resource_properties("AWS::S3::BucketPolicy", {
        "Bucket": {"Ref": bucket_id},
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Action": "s3:*", "Principal": {"AWS": "*"},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })])},
    })


def test_lifecycle_expires_old_versions_and_aborts_uploads(synth: Synth) -> None:
    rules = synth.bucket()["Properties"]["LifecycleConfiguration"]["Rules"]
    by_id = {rule["Id"]: rule for rule in rules}
    days = synth.config.noncurrent_version_days
    assert by_id["expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": days}
    assert by_id["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": synth.config.incomplete_upload_days}


def test_removal_policy_follows_the_config(default: Synth, variant: Synth) -> None:
    assert default.bucket()["DeletionPolicy"] == "Retain"
    assert variant.bucket()["DeletionPolicy"] == "Delete"
    for group in default.template.find_resources("AWS::Logs::LogGroup").values():
        assert group["DeletionPolicy"] == "Retain"


# -- execution role ------------------------------------------------------------------------------


def test_role_is_assumable_by_sagemaker_only(synth: Synth) -> None:
    [trust] = synth.trust()
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert (trust["Action"], trust["Effect"]) == ("sts:AssumeRole", "Allow")
    assert "ManagedPolicyArns" not in synth.resource(synth.stack.role)["Properties"]


def test_trust_policy_prevents_the_confused_deputy(default: Synth, variant: Synth) -> None:
    """SageMaker Developer Guide, "Cross-service confused deputy prevention": aws:SourceAccount
    and aws:SourceArn arn:<partition>:sagemaker:<region>:<account>:* in the role trust policy."""
    [fixed] = variant.trust()
    assert fixed["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:sagemaker:eu-west-1:123456789012:*"},
    }
    [deployed] = default.trust()  # account and region known only at deploy time
    assert deployed["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":",
            {"Ref": "AWS::AccountId"}, ":*"]]}},
    }


def test_s3_access_is_limited_to_the_prefix(synth: Synth) -> None:
    bucket_id = synth.logical_id(synth.stack.bucket)
    prefix = synth.config.prefix
    statements = synth.statements()
    assert statements["ReadWriteSmlpPrefix"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}/*"]]}
    listing = statements["ListSmlpPrefix"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}


def test_kms_use_is_limited_to_the_stacks_key(synth: Synth) -> None:
    key_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.key), "Arn"]}
    statements = synth.statements()
    assert statements["UseSmlpKey"]["Resource"] == key_arn
    assert statements["GrantSmlpKeyToVolumes"]["Resource"] == key_arn
    assert statements["GrantSmlpKeyToVolumes"]["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"}}
    actions = [a for s in statements.values() for a in _as_list(s["Action"])]
    assert not [a for a in actions if "*" in a], "no wildcard actions"


def test_only_unscopable_actions_use_star_resources(default: Synth, variant: Synth) -> None:
    def star(synth: Synth, policy: str = "policy") -> set[str]:
        return {sid for sid, s in synth.statements(policy).items()
                if "*" in _as_list(s["Resource"])}

    assert star(default) == {"EcrLogin", "SageMakerMetrics"}
    assert star(variant) == {"EcrLogin", "SageMakerMetrics", "JobNetworkDescribe"}
    assert star(variant, "notebook_policy") == set()
    metrics = default.statements()["SageMakerMetrics"]
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}


def test_logs_are_scoped_and_jobs_cannot_pass_roles(synth: Synth) -> None:
    statements = synth.statements()
    logs_arn = json.dumps(statements["SageMakerLogs"]["Resource"])
    assert ":log-group:/aws/sagemaker/*" in logs_arn
    actions = {a for s in statements.values() for a in _as_list(s["Action"])}
    # Jobs run training code: no iam:PassRole and no SageMaker control plane for them.
    assert "iam:PassRole" not in actions
    assert not [a for a in actions if a.startswith("sagemaker:")]


# -- jobs in a VPC -------------------------------------------------------------------------------


def test_vpc_rights_only_when_jobs_run_in_a_vpc(default: Synth) -> None:
    actions = {a for s in default.statements().values() for a in _as_list(s["Action"])}
    assert not [a for a in actions if a.startswith("ec2:")]
    assert not {"JobSubnetIds", "JobSecurityGroupIds"} & set(default.json["Outputs"])


def test_vpc_jobs_get_the_ec2_rights_sagemaker_documents(variant: Synth) -> None:
    """SageMaker Developer Guide, "How to use SageMaker execution roles" (CreateTrainingJob,
    CreateHyperParameterTuningJob, CreateModel): the ec2 actions a job with VpcConfig needs."""
    documented = {"ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                  "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
                  "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                  "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"}
    granted = {a for s in variant.statements().values() for a in _as_list(s["Action"])}
    assert documented <= granted


def test_vpc_rights_are_scoped_to_the_job_subnets(variant: Synth) -> None:
    statements = variant.statements()
    ec2 = "arn:aws:ec2:eu-west-1:123456789012"
    subnets = [f"{ec2}:subnet/{s}" for s in JOB_VPC["job_subnet_ids"]]
    create = statements["JobNetworkInterfaces"]
    assert create["Action"] == "ec2:CreateNetworkInterface"
    # The new interface has no ID yet; the subnet and security group it needs are named.
    assert sorted(create["Resource"]) == sorted([
        f"{ec2}:network-interface/*", *subnets,
        *(f"{ec2}:security-group/{g}" for g in JOB_VPC["job_security_group_ids"])])
    assert "Condition" not in create
    manage = statements["JobNetworkInterfacesInSubnets"]
    assert sorted(manage["Action"]) == ["ec2:CreateNetworkInterfacePermission",
                                        "ec2:DeleteNetworkInterface",
                                        "ec2:DeleteNetworkInterfacePermission"]
    assert manage["Resource"] == f"{ec2}:network-interface/*"
    assert manage["Condition"] == {"ArnEquals": {"ec2:Subnet": subnets}}
    describe = statements["JobNetworkDescribe"]
    assert all(a.startswith("ec2:Describe") for a in describe["Action"])
    assert describe["Resource"] == "*"
    assert "Condition" not in describe


def test_vpc_outputs_feed_the_backend(variant: Synth) -> None:
    outputs = variant.json["Outputs"]
    assert outputs["JobSubnetIds"]["Value"] == ",".join(JOB_VPC["job_subnet_ids"])
    assert outputs["JobSecurityGroupIds"]["Value"] == ",".join(JOB_VPC["job_security_group_ids"])


# -- notebook -------------------------------------------------------------------------------------


def test_notebook_runs_on_its_own_role(default: Synth, variant: Synth) -> None:
    assert default.stack.notebook_role is None
    default.template.resource_count_is("AWS::IAM::Role", 1)
    notebook = variant.only("AWS::SageMaker::NotebookInstance")
    role_id = variant.logical_id(variant.stack.notebook_role)
    assert notebook["Properties"]["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert variant.logical_id(variant.stack.notebook_policy) in notebook["DependsOn"]
    # No source conditions: the confused-deputy page lists none for notebook instances, and a
    # condition on a key SageMaker does not send would deny the notebook its role.
    assert variant.trust("notebook_role") == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"}}]


def test_notebook_passes_only_the_execution_role(variant: Synth) -> None:
    statements = variant.statements("notebook_policy")
    passing = [s for s in statements.values() if "iam:PassRole" in _as_list(s["Action"])]
    assert passing == [statements["PassExecutionRole"]]
    assert passing[0]["Resource"] == {
        "Fn::GetAtt": [variant.logical_id(variant.stack.role), "Arn"]}
    assert passing[0]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def _sagemaker_operations(folder: Path) -> set[str]:
    """SageMaker API operations named in smlp's SageMaker backend, per botocore's own model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    by_snake = {botocore.xform_name(name): name for name in model.operation_names}
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py")))
    quoted = set(re.findall(r'"([A-Za-z_]+)"', text))
    return ({name for name in quoted if name in model.operation_names}
            | {by_snake[name] for name in quoted if name in by_snake})


def test_notebook_may_call_everything_the_sagemaker_backend_calls(variant: Synth) -> None:
    import smlp.backends.sagemaker as backend

    called = _sagemaker_operations(Path(backend.__file__).parent)
    assert {"CreateTrainingJob", "CreateHyperParameterTuningJob", "CreateModel",
            "CreateTransformJob", "DeleteModel", "CreateProcessingJob", "StopProcessingJob",
            "ListTrainingJobsForHyperParameterTuningJob"} <= called  # the scan finds them
    statements = variant.statements("notebook_policy")
    granted = {a.removeprefix("sagemaker:") for s in statements.values()
               for a in _as_list(s["Action"]) if a.startswith("sagemaker:")}
    assert called <= granted, called - granted
    # Log streaming (waiter.LogTail): DescribeLogStreams, then GetLogEvents per stream.
    logs = {a for s in statements.values() for a in _as_list(s["Action"])
            if a.startswith("logs:")}
    assert {"logs:DescribeLogStreams", "logs:GetLogEvents"} <= logs


def test_notebook_sagemaker_rights_are_scoped_to_smlp_resources(variant: Synth) -> None:
    from smlp.algorithms import ALGORITHMS

    arn = "arn:aws:sagemaker:eu-west-1:123456789012:"
    names = ("smlp-", *(f"{name}-tune-" for name in ALGORITHMS))
    statements = variant.statements("notebook_policy")
    for sid, statement in statements.items():
        if not any(a.startswith("sagemaker:") for a in _as_list(statement["Action"])):
            continue
        for resource in _as_list(statement["Resource"]):
            kind, _, name = resource.removeprefix(arn).partition("/")
            assert resource.startswith(arn) and kind, (sid, resource)
            assert name.endswith("*") and name[:-1] in names, (sid, resource)
    # Creation needs the tag every smlp request carries (requests.tags) ...
    for sid in ("StartTrainingJobs", "StartTuningJobs", "CreateSmlpModels",
                "StartTransformJobs", "StartProcessingJobs"):
        assert statements[sid]["Condition"]["StringEquals"] == {
            "aws:RequestTag/smlp:managed": "true"}, sid
    assert statements["StartTrainingJobs"]["Resource"] == f"{arn}training-job/smlp-*"
    assert sorted(statements["StartTuningJobs"]["Resource"]) == sorted(
        f"{arn}hyper-parameter-tuning-job/{name}-tune-*" for name in ALGORITHMS)
    assert statements["StartTransformJobs"]["Condition"]["ArnLike"] == {
        "sagemaker:ModelArn": [f"{arn}model/smlp-*"]}
    # Reads carry no tag condition: smlp status asks each job kind for a name, and a name that
    # is not of that kind must answer "not found"; trials are named after their tuning job.
    watch = statements["WatchSmlpJobs"]
    assert "Condition" not in watch
    assert f"{arn}training-job/xgboost-tune-*" in watch["Resource"]
    # ... tags are added only while creating those ...
    assert statements["TagOnCreate"]["Condition"]["StringEquals"]["sagemaker:TaggingAction"] == [
        "CreateTrainingJob", "CreateHyperParameterTuningJob", "CreateModel",
        "CreateProcessingJob", "CreateTransformJob"]
    # ... and only resources carrying it can be stopped or deleted.
    for sid in ("StopSmlpTraining", "StopSmlpTuning", "StopSmlpTransform", "StopSmlpProcessing",
                "DeleteSmlpModels"):
        assert statements[sid]["Condition"] == {
            "StringEquals": {"aws:ResourceTag/smlp:managed": "true"}}, sid


def test_notebook_reads_only_smlp_job_logs(variant: Synth) -> None:
    logs = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/"
    statements = variant.statements("notebook_policy")
    assert sorted(statements["ReadJobLogs"]["Resource"]) == [
        f"{logs}ProcessingJobs:log-stream:smlp-*", f"{logs}TrainingJobs:log-stream:smlp-*",
        f"{logs}TransformJobs:log-stream:smlp-*"]
    assert statements["ReadJobLogs"]["Action"] == "logs:GetLogEvents"
    assert statements["FindJobLogStreams"]["Action"] == "logs:DescribeLogStreams"
    # HeadBucket (smlp's bucket check) is s3:ListBucket without a prefix.
    assert list(statements["ListSmlpPrefix"]["Condition"]) == ["StringLikeIfExists"]


def test_ecr_pull_is_limited_to_sagemaker_algorithm_repos(default: Synth, variant: Synth) -> None:
    # Known region: literal ARNs in the AWS-owned registry accounts.
    resources = variant.statements()["PullAlgorithmImages"]["Resource"]
    framework, algorithm = images.FRAMEWORK_ACCOUNTS["eu-west-1"], images.ALGORITHM_ACCOUNTS[
        "eu-west-1"]
    assert sorted(resources) == sorted([
        f"arn:aws:ecr:eu-west-1:{framework}:repository/sagemaker-xgboost",
        f"arn:aws:ecr:eu-west-1:{framework}:repository/sagemaker-scikit-learn",
        f"arn:aws:ecr:eu-west-1:{algorithm}:repository/knn",
    ])
    # Region decided at deploy time: a mapping, guarded by a rule for unknown regions.
    text = json.dumps(default.statements()["PullAlgorithmImages"]["Resource"])
    assert text.count("Fn::FindInMap") == 3
    assert set(default.json["Mappings"]["ImageRegistries"]) == set(images.REGIONS)
    assert "KnownRegion" in default.json["Rules"]


def test_unknown_region_is_a_config_error(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'xx-nowhere-1' is not a region SageMaker runs"):
        InfraConfig(region="xx-nowhere-1")  # the config refuses it first ...
    with pytest.raises(ConfigError, match="infra.region: no SageMaker image registry known"):
        # ... and the stack, built from a config that skipped validation, still does.
        build_app(InfraConfig.model_construct(region="xx-nowhere-1"), tmp_path, nag=False)


# -- logs, notebook, outputs, tags --------------------------------------------------------------


def test_log_groups_have_retention(default: Synth, variant: Synth) -> None:
    for synth, expected in ((default, 2), (variant, 3)):
        groups = synth.template.find_resources("AWS::Logs::LogGroup")
        assert len(groups) == expected
        for group in groups.values():
            assert group["Properties"]["RetentionInDays"] == synth.config.log_retention_days
    names = {g["Properties"]["LogGroupName"]
             for g in default.template.find_resources("AWS::Logs::LogGroup").values()}
    assert names == {"/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs"}


def test_notebook_is_off_by_default(default: Synth) -> None:
    default.template.resource_count_is("AWS::SageMaker::NotebookInstance", 0)


def test_notebook_is_locked_down(variant: Synth) -> None:
    props = variant.only("AWS::SageMaker::NotebookInstance")["Properties"]
    assert props["DirectInternetAccess"] == "Disabled"
    assert props["RootAccess"] == "Disabled"
    assert props["KmsKeyId"] == {"Ref": variant.logical_id(variant.stack.key)}
    assert props["SubnetId"] == NOTEBOOK["notebook_subnet_id"]
    assert props["SecurityGroupIds"] == NOTEBOOK["notebook_security_group_ids"]


def test_outputs_feed_the_sagemaker_backend(default: Synth, variant: Synth) -> None:
    assert set(default.json["Outputs"]) == {
        "BucketName", "StoreUri", "RoleArn", "Region", "KmsKeyArn",
        "TrainingLogGroup", "TransformLogGroup"}
    assert "NotebookInstanceName" in variant.json["Outputs"]
    bucket_ref = {"Ref": variant.logical_id(variant.stack.bucket)}
    assert variant.json["Outputs"]["StoreUri"]["Value"] == {
        "Fn::Join": ["", ["s3://", bucket_ref, "/team/smlp"]]}


def test_config_tags_reach_the_resources(variant: Synth) -> None:
    variant.template.has_resource_properties("AWS::S3::Bucket", {
        "Tags": Match.array_with([{"Key": "env", "Value": "dev"}])})
    env = variant.stack.environment
    assert env == "aws://123456789012/eu-west-1"


# -- cdk-nag and cfn-lint -----------------------------------------------------------------------


def test_cdk_nag_aws_solutions_has_no_unsuppressed_findings(synth: Synth) -> None:
    annotations = Annotations.from_stack(synth.stack)
    nag = Match.string_like_regexp("AwsSolutions-.*")
    assert annotations.find_error("*", nag) == []
    assert annotations.find_warning("*", nag) == []


def test_every_nag_suppression_has_a_reason(synth: Synth) -> None:
    suppressions = [
        rule
        for resource in synth.json["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert {rule["id"] for rule in suppressions} == {"AwsSolutions-S1", "AwsSolutions-IAM5"}
    for rule in suppressions:
        assert len(rule["reason"]) >= 40, rule


def test_synth_refuses_unsuppressed_nag_errors(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the zero-findings tests above against cdk-nag silently not running."""
    from aws_cdk import aws_s3 as s3

    from smlp.config import load_config
    from smlp.infra import stack as stack_module

    def careless_app(*args: Any, **kwargs: Any) -> Any:
        app, stack = build_app(*args, **kwargs)
        s3.Bucket(stack, "Careless")
        return app, stack

    monkeypatch.setattr(stack_module, "build_app", careless_app)
    with pytest.raises(toolkit.ToolkitError) as caught:
        toolkit.synth(load_config(None).model_copy(
            update={"infra": InfraConfig(log_groups=False)}), tmp_path)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("stack smlp has 2 unsuppressed cdk-nag error(s)")
    assert lines[1:] == [
        "/smlp/Careless/Resource: AwsSolutions-S1: The S3 Bucket has server access logs disabled",
        "/smlp/Careless/Resource: AwsSolutions-S10: The S3 Bucket or bucket policy does not "
        "require requests to use SSL",
    ]


def test_templates_pass_cfn_lint(default: Synth, variant: Synth) -> None:
    from cfnlint.api import lint_file

    for synth in (default, variant):
        matches = lint_file(synth.path)
        errors = [f"{m.rule.id} {m.message} (line {m.linenumber})"
                  for m in matches if m.rule.id.startswith("E")]
        assert errors == [], synth.path


# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write_config(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "smlp.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_cli_synth_writes_templates_offline(runner: CliRunner, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = write_config(tmp_path, {"infra": {"stack_name": "smlp-ci", "encryption": "s3"}})
    out = tmp_path / "assembly"
    result = runner.invoke(cli, ["infra", "synth", "--out", str(out), "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.glob("*.template.json")] == ["smlp-ci.template.json"]
    assert "smlp-ci.template.json" in result.output
    assert "no unsuppressed errors" in result.output


def test_cli_outputs_prints_and_writes_config(runner: CliRunner, tmp_path: Path) -> None:
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps({"smlp": {
        "BucketName": "b", "StoreUri": "s3://b/smlp", "Region": "eu-west-1",
        "RoleArn": "arn:aws:iam::123456789012:role/smlp-role", "KmsKeyArn": "arn:aws:kms:k",
    }}), encoding="utf-8")
    config = write_config(tmp_path, {"data": {"rows": 300}})
    args = ["infra", "outputs", "--stack-outputs-file", str(outputs_file), "-c", str(config)]

    printed = runner.invoke(cli, args)
    assert printed.exit_code == 0, printed.output
    fragment = yaml.safe_load(printed.stdout)
    assert fragment["backend"]["role_arn"] == "arn:aws:iam::123456789012:role/smlp-role"
    assert fragment["store"] == "s3://b/smlp"

    written = runner.invoke(cli, [*args, "--write"])
    assert written.exit_code == 0, written.output
    saved = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert saved["backend"]["kind"] == "sagemaker"
    assert saved["data"] == {"rows": 300}
    shown = runner.invoke(cli, ["config", "show", "-c", str(config)])
    assert "s3://b/smlp" in shown.output


def test_cli_outputs_error_names_the_stack(runner: CliRunner, tmp_path: Path) -> None:
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps({"other": {}}), encoding="utf-8")
    result = runner.invoke(cli, ["infra", "outputs", "--stack-outputs-file", str(outputs_file)])
    assert result.exit_code == 3  # a bad input file: the README's exit codes
    assert "no outputs for stack 'smlp'" in result.output


@pytest.mark.parametrize(("tools", "message"), [
    ((), "error: Node.js is not on PATH"),
    (("node",), "error: the AWS CDK CLI is not on PATH: install it with `npm install -g aws-cdk`"),
])
@pytest.mark.parametrize("verb", ["diff", "deploy", "destroy"])
def test_cli_reports_missing_node_or_cdk(runner: CliRunner, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, verb: str,
                                         tools: tuple[str, ...], message: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv(toolkit.CDK_ENV, raising=False)
    monkeypatch.delenv("JSII_NODE", raising=False)
    result = runner.invoke(cli, ["infra", verb, "--yes"] if verb == "destroy"
                           else ["infra", verb])
    assert result.exit_code == 2, result.output  # set-up
    assert message in result.output


def test_cli_synth_needs_node(runner: CliRunner, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JSII_NODE", raising=False)
    result = runner.invoke(cli, ["infra", "synth", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output  # set-up, the README's exit codes
    assert "error: Node.js is not on PATH" in result.output


FAKE_CDK = """#!{python}
import json, sys
from pathlib import Path
Path({log!r}).write_text(json.dumps(sys.argv[1:]))
if "--outputs-file" in sys.argv:
    target = Path(sys.argv[sys.argv.index("--outputs-file") + 1])
    target.write_text(json.dumps({{"smlp": {{
        "StoreUri": "s3://deployed/smlp", "Region": "eu-west-1", "BucketName": "deployed",
        "RoleArn": "arn:aws:iam::123456789012:role/deployed"}}}}))
"""


def test_cli_deploy_runs_cdk_on_the_synthesized_assembly(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "cdk-args.json"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "cdk"
    fake.write_text(FAKE_CDK.format(python=sys.executable, log=str(log)), encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv(toolkit.CDK_ENV, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    out = tmp_path / "assembly"

    result = runner.invoke(cli, ["infra", "deploy", "--yes", "--out", str(out)])
    assert result.exit_code == 0, result.output
    argv = json.loads(log.read_text(encoding="utf-8"))
    assert argv == ["deploy", "--app", str(out), "smlp", "--outputs-file",
                    str(out / "outputs.json"), "--require-approval", "never"]
    assert (out / "smlp.template.json").is_file()
    assert "role_arn: arn:aws:iam::123456789012:role/deployed" in result.stdout
    assert "smlp infra outputs --stack-outputs-file" in result.output

    result = runner.invoke(cli, ["infra", "destroy", "--out", str(out)], input="n\n")
    assert result.exit_code == 1  # declined: nothing runs
    assert json.loads(log.read_text(encoding="utf-8"))[0] == "deploy"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
