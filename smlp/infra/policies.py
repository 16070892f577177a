"""The IAM statements of the stack: data access, the execution role's trust policy, its EC2
rights for jobs in a VPC, and what a notebook instance needs to run smlp.

Kept apart from ``stack.py`` so each list sits next to the document it was taken from. Every
function returns statements (or a principal); ``stack.py`` attaches them and suppresses the
cdk-nag findings they cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from smlp.algorithms import ALGORITHMS

SAGEMAKER = "sagemaker.amazonaws.com"
# Every job, model and transform smlp creates is tagged so (smlp/backends/sagemaker/requests.py).
MANAGED_TAG = "smlp:managed"

# Job names smlp gives (smlp/naming.py: "smlp-..."; smlp/stages/tune.py tuning_job_name:
# "<algo>-tune-..."). SageMaker names a tuning job's trials "<tuning job>-<n>-<id>"
# (API reference, CreateHyperParameterTuningJob: the name "is the prefix for the names of all
# training jobs that this tuning job launches"). SageMaker ARNs carry names in lower case.
SMLP_PREFIX = "smlp-"
# Processing jobs log here (SageMaker Developer Guide, monitoring-cloudwatch.md,
# /aws/sagemaker/ProcessingJobs; streams <job>/algo-N-...).
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def tuning_prefixes() -> list[str]:
    return [f"{name}-tune-" for name in ALGORITHMS]


@dataclass
class Statements:
    """Statements plus the wildcard resources among them, each with the reason it is needed."""

    statements: list[iam.PolicyStatement] = field(default_factory=list)
    wildcards: list[tuple[str, list[str]]] = field(default_factory=list)

    def add(self, statement: iam.PolicyStatement, reason: str | None = None,
            wildcards: list[str] | None = None) -> None:
        self.statements.append(statement)
        if reason is not None and wildcards:
            self.wildcards.append((reason, wildcards))

    def extend(self, other: Statements) -> None:
        self.statements += other.statements
        self.wildcards += other.wildcards


def data_access(bucket: s3.IBucket, prefix: str, key: kms.IKey | None,
                list_without_prefix: bool) -> Statements:
    """S3 under the prefix and the stack's key: what jobs and smlp itself read and write."""
    objects = bucket.arn_for_objects(f"{prefix}/*")
    granted = Statements()
    granted.add(iam.PolicyStatement(
        sid="ReadWriteSmlpPrefix",
        actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                 "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        resources=[objects],
    ), "Objects under the smlp prefix of this stack's bucket; job outputs have "
       "run-specific keys.", [objects])
    # smlp checks the bucket with HeadBucket (s3:ListBucket, no prefix in the request):
    # the notebook, which runs smlp, may list without a prefix; jobs always give one.
    operator = "StringLikeIfExists" if list_without_prefix else "StringLike"
    granted.add(iam.PolicyStatement(
        sid="ListSmlpPrefix",
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={operator: {"s3:prefix": [prefix, f"{prefix}/*"]}},
    ))
    granted.add(iam.PolicyStatement(
        sid="LocateBucket", actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn],
    ))
    if key is not None:
        granted.add(iam.PolicyStatement(
            sid="UseSmlpKey",
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                     "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom",
                     "kms:ReEncryptTo", "kms:DescribeKey"],
            resources=[key.key_arn],
        ))
        granted.add(iam.PolicyStatement(
            sid="GrantSmlpKeyToVolumes",
            actions=["kms:CreateGrant"],
            resources=[key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ))
    return granted


def execution_trust(stack: cdk.Stack) -> iam.IPrincipal:
    """sagemaker.amazonaws.com, only on behalf of this account's SageMaker resources here.

    "Cross-service confused deputy prevention" (SageMaker Developer Guide,
    security-confused-deputy-prevention) gives ``aws:SourceArn`` examples in the role trust
    policy for training jobs (``training-job/*``), batch transform jobs (``transform-job/*``)
    and inference/models (``arn:...:sagemaker:region:account:*``), and recommends both keys with
    ``arn:partition:sagemaker:region:account:*`` when several resource types use the role.
    A tuning job's trials are training jobs; all of these match the ``*`` pattern.
    The page lists no notebook instances: a key SageMaker does not send makes ``ArnLike`` false
    (IAM condition operators: "If the key ... is not present in the request context, the
    values do not match"), so the notebook gets its own role (``stack.py``), not this one.
    """
    return iam.ServicePrincipal(SAGEMAKER).with_conditions({
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {"aws:SourceArn": stack.format_arn(service="sagemaker", resource="*")},
    })


def job_vpc(stack: cdk.Stack, subnets: list[str], groups: list[str]) -> Statements:
    """EC2 rights SageMaker uses to attach jobs to ``subnets``, scoped as far as EC2 allows.

    Actions: SageMaker Developer Guide, "How to use SageMaker execution roles", sections
    CreateTrainingJob / CreateHyperParameterTuningJob / CreateModel: "If you specify a private
    VPC ..., add the following permissions" (the nine ec2 actions below). Resource types and
    condition keys: Service Authorization Reference, Amazon EC2 (list_amazonec2):
    CreateNetworkInterface authorizes the new network-interface (no subnet key there), the
    subnet and the security groups, so those two are named by ARN; CreateNetworkInterface-
    Permission, DeleteNetworkInterface and DeleteNetworkInterfacePermission authorize the
    network-interface, which carries ``ec2:Subnet`` (an ARN); the Describe actions have no
    resource type and need ``"*"``. The AWS managed policy
    SageMakerStudioProjectRoleMachineLearningPolicy scopes SageMaker training ENIs the same way
    (network-interface/subnet/security-group ARNs plus an ``ec2:Vpc`` condition).
    """
    out = Statements()
    if not subnets:
        return out

    def ec2(resource: str, name: str) -> str:
        return stack.format_arn(service="ec2", resource=resource, resource_name=name)

    subnet_arns = [ec2("subnet", subnet) for subnet in subnets]
    interfaces = ec2("network-interface", "*")
    out.add(iam.PolicyStatement(
        sid="JobNetworkInterfaces",
        actions=["ec2:CreateNetworkInterface"],
        resources=[interfaces, *subnet_arns, *(ec2("security-group", g) for g in groups)],
    ), "A job's network interfaces get IDs only when SageMaker creates them; creation is "
       "limited by naming the allowed subnets and security groups (CreateNetworkInterface "
       "authorizes all three resources).", [interfaces])
    out.add(iam.PolicyStatement(
        sid="JobNetworkInterfacesInSubnets",
        actions=["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                 "ec2:DeleteNetworkInterfacePermission"],
        resources=[interfaces],
        conditions={"ArnEquals": {"ec2:Subnet": subnet_arns}},
    ))
    out.add(iam.PolicyStatement(
        sid="JobNetworkDescribe",
        actions=["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
                 "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
        resources=["*"],
    ), "EC2 Describe* actions support no resource-level permissions (Service Authorization "
       "Reference, Amazon EC2); SageMaker needs them to check the job's VpcConfig.", ["*"])
    return out


def notebook_jobs(stack: cdk.Stack, execution_role: iam.IRole,
                  log_groups: tuple[str, ...]) -> Statements:
    """What ``smlp --backend sagemaker`` calls from a notebook instance, on smlp's jobs only.

    The calls: smlp/backends/sagemaker/{backend,tuning,transform,waiter}.py. Resource types
    and condition keys: Service Authorization Reference, Amazon SageMaker (list_amazonsagemaker):
    Create* accept ``aws:RequestTag/${TagKey}``, CreateTransformJob ``sagemaker:ModelArn``,
    AddTags ``sagemaker:TaggingAction``; training-job, transform-job, hyper-parameter-tuning-job
    and model resources accept ``aws:ResourceTag/${TagKey}``. Tags of a tuning job are added to
    its trials (API reference, CreateHyperParameterTuningJob, Tags).
    """
    out = Statements()
    tuning = tuning_prefixes()

    def arns(resource: str, prefixes: list[str]) -> list[str]:
        return [stack.format_arn(service="sagemaker", resource=resource,
                                 resource_name=f"{prefix}*") for prefix in prefixes]

    training, trials = arns("training-job", [SMLP_PREFIX]), arns("training-job", tuning)
    transforms, models = arns("transform-job", [SMLP_PREFIX]), arns("model", [SMLP_PREFIX])
    tunings = arns("hyper-parameter-tuning-job", tuning)
    # smlp data prepare --backend sagemaker (smlp/backends/sagemaker/processing.py): its fit
    # and apply jobs are named smlp-prepare-...; processing-job accepts aws:RequestTag and
    # aws:ResourceTag like the other job kinds (Service Authorization Reference, SageMaker).
    processing = arns("processing-job", [SMLP_PREFIX])
    tagged = {"StringEquals": {f"aws:RequestTag/{MANAGED_TAG}": "true"}}
    names = ("Job and model names are generated per run (smlp-<algo>-<time>-<id>, "
             "<algo>-tune-<time>-<id> and its trials); the ARNs are limited to those prefixes")

    creates = [("StartTrainingJobs", "CreateTrainingJob", training),
               ("StartTuningJobs", "CreateHyperParameterTuningJob", tunings),
               ("CreateSmlpModels", "CreateModel", models),
               ("StartProcessingJobs", "CreateProcessingJob", processing)]
    for sid, action, resources in creates:
        out.add(iam.PolicyStatement(
            sid=sid, actions=[f"sagemaker:{action}"], resources=resources, conditions=tagged,
        ), f"{names}; creation also requires the tag {MANAGED_TAG}=true.", resources)
    out.add(iam.PolicyStatement(
        sid="StartTransformJobs",
        actions=["sagemaker:CreateTransformJob"], resources=transforms,
        conditions={**tagged, "ArnLike": {"sagemaker:ModelArn": models}},
    ), f"{names}; the job must be tagged {MANAGED_TAG}=true and use an smlp model.",
        [*transforms, *models])
    created = [*training, *tunings, *models, *transforms, *processing]
    out.add(iam.PolicyStatement(
        sid="TagOnCreate",
        actions=["sagemaker:AddTags"], resources=created,
        conditions={"StringEquals": {
            "sagemaker:TaggingAction": [action for _, action, _ in creates]
            + ["CreateTransformJob"],
            f"aws:RequestTag/{MANAGED_TAG}": "true",
        }},
    ), f"{names}; tags only as part of creating them.", created)
    # No tag condition on reads: describing a name that does not exist must answer
    # "not found" (SageMakerBackend.describe tries each job kind in turn), not AccessDenied.
    jobs = [*training, *trials, *arns("transform-job", tuning), *transforms,
            *arns("hyper-parameter-tuning-job", [SMLP_PREFIX]), *tunings]
    out.add(iam.PolicyStatement(
        sid="WatchSmlpJobs",
        actions=["sagemaker:DescribeHyperParameterTuningJob", "sagemaker:DescribeTrainingJob",
                 "sagemaker:DescribeTransformJob",
                 "sagemaker:ListTrainingJobsForHyperParameterTuningJob"],
        resources=jobs,
    ), f"{names}; smlp status looks any recorded name up as each job kind.", jobs)
    out.add(iam.PolicyStatement(
        sid="WatchSmlpProcessing", actions=["sagemaker:DescribeProcessingJob"],
        resources=processing,
    ), f"{names}; data prepare waits for its processing jobs.", processing)
    owned = {"StringEquals": {f"aws:ResourceTag/{MANAGED_TAG}": "true"}}
    for sid, action, resources in (
            ("StopSmlpTraining", "StopTrainingJob", training),
            ("StopSmlpTuning", "StopHyperParameterTuningJob", tunings),
            ("StopSmlpTransform", "StopTransformJob", transforms),
            ("StopSmlpProcessing", "StopProcessingJob", processing),
            ("DeleteSmlpModels", "DeleteModel", models)):
        out.add(iam.PolicyStatement(sid=sid, actions=[f"sagemaker:{action}"],
                                    resources=resources, conditions=owned),
                f"{names}; only resources tagged {MANAGED_TAG}=true.", resources)
    out.add(iam.PolicyStatement(
        sid="PassExecutionRole",
        actions=["iam:PassRole"], resources=[execution_role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
    ))

    def group(name: str, suffix: str = "") -> str:
        return stack.format_arn(service="logs", resource="log-group", resource_name=name + suffix,
                                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)

    log_groups = (*log_groups, PROCESSING_LOG_GROUP)  # SageMaker creates it on first use
    listed = [arn for name in log_groups for arn in (group(name), group(name, ":*"))]
    out.add(iam.PolicyStatement(
        sid="FindJobLogStreams", actions=["logs:DescribeLogStreams"], resources=listed,
    ), "CloudWatch Logs authorizes DescribeLogStreams on the log group, written with or "
       "without a trailing :*; only SageMaker's training, transform and processing groups.",
        [group(name, ":*") for name in log_groups])
    streams = [group(name, f":log-stream:{SMLP_PREFIX}*") for name in log_groups]
    out.add(iam.PolicyStatement(
        sid="ReadJobLogs", actions=["logs:GetLogEvents"], resources=streams,
    ), "Log streams are named <job>/<host>; only streams of smlp's jobs.", streams)
    return out


def notebook_endpoints(stack: cdk.Stack) -> Statements:
    """What ``smlp deploy|invoke|endpoint`` call from a notebook instance, on smlp's endpoints.

    The calls: smlp/backends/sagemaker/endpoints.py (CreateModel and DeleteModel are granted
    with the jobs' models, ``notebook_jobs``). Service Authorization Reference, Amazon
    SageMaker: CreateEndpointConfig and CreateEndpoint accept ``aws:RequestTag/${TagKey}``;
    endpoint and endpoint-config resources accept ``aws:ResourceTag/${TagKey}``;
    InvokeEndpoint authorizes the endpoint. The execution role needs nothing more for an
    endpoint than for a transform job: the model from the prefix, the images, its
    ``/aws/sagemaker/Endpoints/*`` log group and metrics, and data capture writing under the
    prefix with the stack's key (``data_access``).
    """
    out = Statements()

    def arns(resource: str) -> list[str]:
        return [stack.format_arn(service="sagemaker", resource=resource,
                                 resource_name=f"{SMLP_PREFIX}*")]

    endpoints, configs = arns("endpoint"), arns("endpoint-config")
    both = [*configs, *endpoints]
    names = ("Endpoint names are chosen per deploy (smlp-<candidate> by default); the ARNs "
             "are limited to the smlp- prefix")
    tagged = {"StringEquals": {f"aws:RequestTag/{MANAGED_TAG}": "true"}}
    out.add(iam.PolicyStatement(
        sid="CreateSmlpEndpoints",
        actions=["sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint"],
        resources=both, conditions=tagged,
    ), f"{names}; creation also requires the tag {MANAGED_TAG}=true.", both)
    out.add(iam.PolicyStatement(
        sid="TagEndpointsOnCreate",
        actions=["sagemaker:AddTags"], resources=both,
        conditions={"StringEquals": {
            "sagemaker:TaggingAction": ["CreateEndpointConfig", "CreateEndpoint"],
            f"aws:RequestTag/{MANAGED_TAG}": "true"}},
    ), f"{names}; tags only as part of creating them.", both)
    out.add(iam.PolicyStatement(
        sid="WatchSmlpEndpoints",
        actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"],
        resources=both,
    ), f"{names}; a name that is not there must answer not found.", both)
    out.add(iam.PolicyStatement(
        sid="InvokeSmlpEndpoints", actions=["sagemaker:InvokeEndpoint"], resources=endpoints,
    ), f"{names}.", endpoints)
    owned = {"StringEquals": {f"aws:ResourceTag/{MANAGED_TAG}": "true"}}
    out.add(iam.PolicyStatement(
        sid="ChangeSmlpEndpoints",
        actions=["sagemaker:UpdateEndpointWeightsAndCapacities", "sagemaker:DeleteEndpoint",
                 "sagemaker:DeleteEndpointConfig"],
        resources=both, conditions=owned,
    ), f"{names}; only resources tagged {MANAGED_TAG}=true.", both)
    return out
