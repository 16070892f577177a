"""The stack the SageMaker backend runs on: data bucket, key, execution role, log groups and
an optional notebook instance with its own role.

Everything is derived from ``InfraConfig`` so the CLI, ``infra/app.py`` and the tests build
exactly the same template. cdk-nag's AwsSolutions pack is attached in ``build_app``; every
rule the stack deliberately does not follow is suppressed here, next to its reason.
"""

from __future__ import annotations

from pathlib import Path

# smlp/infra/__init__.py (run before this module) quiets jsii's Node banner.
import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions
from constructs import Construct

from smlp.config.infra import InfraConfig
from smlp.errors import ConfigError
from smlp.infra import images, policies
from smlp.infra.outputs import (
    OUT_BUCKET,
    OUT_JOB_SECURITY_GROUPS,
    OUT_JOB_SUBNETS,
    OUT_KEY,
    OUT_NOTEBOOK,
    OUT_REGION,
    OUT_ROLE,
    OUT_STORE,
    OUT_TRAINING_LOGS,
    OUT_TRANSFORM_LOGS,
)

# Log groups SageMaker writes to; tuning jobs' trials log as training jobs.
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
NOTEBOOK_LOG_GROUP = "/aws/sagemaker/NotebookInstances"

# Behaviour flags new CDK projects get in cdk.json; set here so every entry point agrees.
FEATURE_FLAGS = {
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-s3:createDefaultLoggingPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/aws-iam:standardizedServicePrincipals": True,
    "@aws-cdk/aws-kms:aliasNameRef": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
}


class SmlpStack(cdk.Stack):
    """Bucket, KMS key, least-privilege execution role, log groups, optional notebook and role."""

    def __init__(self, scope: Construct, config: InfraConfig, **kwargs: object) -> None:
        super().__init__(
            scope, config.stack_name,
            description="smlp: S3 store, KMS key and SageMaker execution role",
            **kwargs,
        )
        self.config = config
        removal = (cdk.RemovalPolicy.DESTROY if config.removal_policy == "destroy"
                   else cdk.RemovalPolicy.RETAIN)
        needs_key = config.encryption == "kms" or config.notebook
        self.key = self._key(removal) if needs_key else None
        self.log_bucket = self._log_bucket(removal)
        self.bucket = self._bucket(removal)
        self.log_groups = self._log_groups(removal) if config.log_groups else []
        self.role = self._role()
        self.notebook_role = self._notebook_role() if config.notebook else None
        self.notebook = (self._notebook(self.key)
                         if config.notebook and self.key is not None else None)
        self._outputs()
        for name, value in config.tags.items():
            cdk.Tags.of(self).add(name, value)

    # -- resources ---------------------------------------------------------------------------

    def _key(self, removal: cdk.RemovalPolicy) -> kms.Key:
        return kms.Key(
            self, "Key",
            description=f"smlp ({self.config.stack_name}): data, model and job volume encryption",
            enable_key_rotation=True,
            removal_policy=removal,
        )

    def _log_bucket(self, removal: cdk.RemovalPolicy) -> s3.Bucket:
        bucket = s3.Bucket(
            self, "AccessLogBucket",
            # S3 server access logging can only deliver to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(self.config.access_log_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(
                        self.config.incomplete_upload_days),
                ),
            ],
            removal_policy=removal,
        )
        NagSuppressions.add_resource_suppressions(bucket, [NagPackSuppression(
            id="AwsSolutions-S1",
            reason="This is the server-access-log destination; logging it into itself "
                   "would create an endless loop of log objects.",
        )])
        return bucket

    def _bucket(self, removal: cdk.RemovalPolicy) -> s3.Bucket:
        cfg = self.config
        if self.key is not None and cfg.encryption == "kms":
            encryption = {"encryption": s3.BucketEncryption.KMS, "encryption_key": self.key,
                          "bucket_key_enabled": True}
        else:
            encryption = {"encryption": s3.BucketEncryption.S3_MANAGED}
        return s3.Bucket(
            self, "Bucket",
            bucket_name=cfg.bucket_name,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix=f"{cfg.stack_name}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=cdk.Duration.days(cfg.noncurrent_version_days),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(
                        cfg.incomplete_upload_days),
                ),
            ],
            removal_policy=removal,
            **encryption,
        )

    def _log_groups(self, removal: cdk.RemovalPolicy) -> list[logs.LogGroup]:
        names = {"TrainingLogs": TRAINING_LOG_GROUP, "TransformLogs": TRANSFORM_LOG_GROUP}
        if self.config.notebook:
            names["NotebookLogs"] = NOTEBOOK_LOG_GROUP
        groups = []
        for construct_id, name in names.items():
            group = logs.LogGroup(self, construct_id, log_group_name=name, removal_policy=removal)
            # InfraConfig only admits values CloudWatch accepts, so set the number directly.
            group.node.default_child.retention_in_days = self.config.log_retention_days
            groups.append(group)
        return groups

    def _role(self) -> iam.Role:
        cfg = self.config
        role = iam.Role(
            self, "ExecutionRole",
            assumed_by=policies.execution_trust(self),
            description=f"smlp ({cfg.stack_name}): SageMaker training, tuning and transform jobs",
        )
        log_groups = self.format_arn(
            service="logs", resource="log-group", resource_name="/aws/sagemaker/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        granted = policies.data_access(self.bucket, self.config.prefix, self.key,
                                       list_without_prefix=False)
        granted.add(iam.PolicyStatement(
            sid="SageMakerLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                     "logs:DescribeLogStreams"],
            resources=[log_groups],
        ), "SageMaker's own /aws/sagemaker/* log groups; it names the streams per job.",
            [log_groups])
        granted.add(iam.PolicyStatement(
            sid="SageMakerMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ), "cloudwatch:PutMetricData supports no resource-level permissions; it is limited by "
           "the cloudwatch:namespace condition instead.", ["*"])
        granted.add(iam.PolicyStatement(
            sid="PullAlgorithmImages",
            actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                     "ecr:GetDownloadUrlForLayer"],
            resources=self._image_repositories(),
        ))
        granted.add(iam.PolicyStatement(
            sid="EcrLogin",
            actions=["ecr:GetAuthorizationToken"],
            resources=["*"],
        ), "ecr:GetAuthorizationToken supports no resource-level permissions.", ["*"])
        granted.extend(policies.job_vpc(self, cfg.job_subnet_ids, cfg.job_security_group_ids))
        self.policy = iam.Policy(self, "ExecutionPolicy", statements=granted.statements,
                                 roles=[role])
        self._suppress_wildcards(self.policy, granted)
        return role

    def _notebook_role(self) -> iam.Role:
        """The notebook instance's own role: smlp's data, and starting smlp's jobs only.

        Separate from the execution role so jobs (running arbitrary training code) get no
        control-plane rights, and so the execution role's trust policy can demand
        aws:SourceArn, which the SageMaker docs do not list for notebook instances.
        """
        role = iam.Role(
            self, "NotebookRole",
            assumed_by=iam.ServicePrincipal(policies.SAGEMAKER),
            description=f"smlp ({self.config.stack_name}): notebook instance running smlp",
        )
        granted = policies.data_access(self.bucket, self.config.prefix, self.key,
                                       list_without_prefix=True)
        groups = self.format_arn(
            service="logs", resource="log-group", resource_name=f"{NOTEBOOK_LOG_GROUP}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        granted.add(iam.PolicyStatement(
            sid="NotebookLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                     "logs:DescribeLogStreams"],
            resources=[self.format_arn(
                service="logs", resource="log-group", resource_name=NOTEBOOK_LOG_GROUP,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME), groups],
        ), "The notebook instance's own log group; SageMaker names its streams.", [groups])
        granted.extend(policies.notebook_jobs(self, self.role,
                                              (TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP)))
        granted.extend(policies.notebook_endpoints(self))
        self.notebook_policy = iam.Policy(self, "NotebookPolicy",
                                          statements=granted.statements, roles=[role])
        self._suppress_wildcards(self.notebook_policy, granted)
        return role

    def _image_repositories(self) -> list[str]:
        """ARNs of the algorithm repos, looked up now if the region is known, else at deploy."""
        region = self.config.region
        if region is not None and region not in images.REGIONS:
            raise ConfigError(
                f"infra.region: no SageMaker image registry known for {region!r}; "
                f"known regions: {', '.join(images.REGIONS)}"
            )
        if region is not None:
            framework, algorithm = (images.FRAMEWORK_ACCOUNTS[region],
                                    images.ALGORITHM_ACCOUNTS[region])
        else:
            mapping = cdk.CfnMapping(self, "ImageRegistries", mapping={
                name: {"framework": images.FRAMEWORK_ACCOUNTS[name],
                       "algorithm": images.ALGORITHM_ACCOUNTS[name]}
                for name in images.REGIONS
            })
            cdk.CfnRule(self, "KnownRegion", assertions=[cdk.CfnRuleAssertion(
                assert_=cdk.Fn.condition_contains(list(images.REGIONS), cdk.Aws.REGION),
                assert_description="smlp knows SageMaker's image registries only for "
                                   + ", ".join(images.REGIONS),
            )])
            framework = mapping.find_in_map(cdk.Aws.REGION, "framework")
            algorithm = mapping.find_in_map(cdk.Aws.REGION, "algorithm")
        arns = []
        for account, repos in ((framework, images.FRAMEWORK_REPOSITORIES),
                               (algorithm, images.ALGORITHM_REPOSITORIES)):
            arns += [self.format_arn(service="ecr", account=account, resource="repository",
                                     resource_name=repo) for repo in repos]
        return arns

    def _suppress_wildcards(self, policy: iam.Policy, granted: policies.Statements) -> None:
        """AwsSolutions-IAM5 suppressed for exactly the wildcard resources granted, each with
        every reason given for it (``"*"`` serves several actions)."""
        reasons: dict[str, list[str]] = {}
        for reason, resources in granted.wildcards:
            for arn in resources:
                given = reasons.setdefault(f"Resource::{_nag_string(self.resolve(arn))}", [])
                if reason not in given:
                    given.append(reason)
        by_reason: dict[str, list[str]] = {}
        for applies_to, given in reasons.items():
            by_reason.setdefault(" ".join(given), []).append(applies_to)
        NagSuppressions.add_resource_suppressions(policy, [
            NagPackSuppression(id="AwsSolutions-IAM5", reason=reason, applies_to=sorted(targets))
            for reason, targets in by_reason.items()
        ])

    def _notebook(self, key: kms.Key) -> sagemaker.CfnNotebookInstance:
        cfg = self.config
        assert self.notebook_role is not None
        notebook = sagemaker.CfnNotebookInstance(
            self, "Notebook",
            instance_type=cfg.notebook_instance_type,
            role_arn=self.notebook_role.role_arn,
            direct_internet_access="Disabled",
            root_access="Disabled",
            kms_key_id=key.key_id,
            volume_size_in_gb=cfg.notebook_volume_gb,
            subnet_id=cfg.notebook_subnet_id,
            security_group_ids=cfg.notebook_security_group_ids,
        )
        # The policy is a separate resource: the instance must not start before it exists.
        notebook.node.add_dependency(self.notebook_policy)
        return notebook

    def _outputs(self) -> None:
        def out(key: str, value: str, description: str) -> None:
            cdk.CfnOutput(self, key, value=value, description=description)

        prefix = self.config.prefix
        out(OUT_BUCKET, self.bucket.bucket_name, "S3 bucket for data, models and manifests")
        out(OUT_STORE, f"s3://{self.bucket.bucket_name}/{prefix}", "smlp store URI")
        out(OUT_ROLE, self.role.role_arn, "SageMaker execution role (backend.role_arn)")
        out(OUT_REGION, cdk.Aws.REGION, "region of the stack (backend.region)")
        if self.key is not None:
            out(OUT_KEY, self.key.key_arn, "KMS key for bucket, job outputs and volumes")
        if self.config.log_groups:
            out(OUT_TRAINING_LOGS, TRAINING_LOG_GROUP, "log group of training and tuning jobs")
            out(OUT_TRANSFORM_LOGS, TRANSFORM_LOG_GROUP, "log group of batch transform jobs")
        if self.config.job_subnet_ids:
            out(OUT_JOB_SUBNETS, ",".join(self.config.job_subnet_ids),
                "subnets the role may run jobs in (backend.subnets)")
            out(OUT_JOB_SECURITY_GROUPS, ",".join(self.config.job_security_group_ids),
                "security groups of those jobs (backend.security_group_ids)")
        if self.notebook is not None:
            out(OUT_NOTEBOOK, self.notebook.attr_notebook_instance_name, "notebook instance")


def build_app(config: InfraConfig, outdir: Path | str | None = None,
              nag: bool = True) -> tuple[cdk.App, SmlpStack]:
    """A CDK app holding the smlp stack, with cdk-nag's AwsSolutions checks attached."""
    app = cdk.App(
        outdir=str(outdir) if outdir is not None else None,
        analytics_reporting=False,
        # Stack traces in the metadata only bloat the assembly; nothing reads them.
        context={**FEATURE_FLAGS, "aws:cdk:disable-stack-trace": True},
    )
    env = None
    if config.account or config.region:
        env = cdk.Environment(account=config.account, region=config.region)
    stack = SmlpStack(app, config, env=env)
    if nag:
        cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def _nag_string(resolved: object) -> str:
    """How cdk-nag spells a resolved ARN in ``appliesTo`` (``<AWS::Region>``, ``<Bucket.Arn>``)."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        return f"<{'.'.join(resolved['Fn::GetAtt'])}>"
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return separator.join(_nag_string(part) for part in parts)
    raise TypeError(f"cannot render {resolved!r} for cdk-nag")
