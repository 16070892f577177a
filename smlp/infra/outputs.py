"""Stack outputs back into smlp config: the hand-off from ``smlp infra deploy`` to the backend.

Outputs come from a ``cdk deploy --outputs-file`` JSON (offline, testable) or from
CloudFormation's ``DescribeStacks``. They become a ``backend:``/``store:`` fragment that is
printed as YAML or merged into the config file. No aws_cdk here: this works without the extra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smlp.errors import AwsError, BackendError, ConfigError, DataError

# Output keys the stack declares (smlp.infra.stack) and this module reads.
OUT_BUCKET = "BucketName"
OUT_STORE = "StoreUri"
OUT_ROLE = "RoleArn"
OUT_KEY = "KmsKeyArn"
OUT_REGION = "Region"
OUT_TRAINING_LOGS = "TrainingLogGroup"
OUT_TRANSFORM_LOGS = "TransformLogGroup"
OUT_NOTEBOOK = "NotebookInstanceName"
# Comma-separated; declared only when the stack lets jobs run in a VPC.
OUT_JOB_SUBNETS = "JobSubnetIds"
OUT_JOB_SECURITY_GROUPS = "JobSecurityGroupIds"

REQUIRED = (OUT_STORE, OUT_ROLE, OUT_REGION)


def read_outputs_file(path: Path, stack_name: str) -> dict[str, str]:
    """``{OutputKey: value}`` of ``stack_name`` from a ``cdk deploy --outputs-file`` JSON."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: outputs file not found; `smlp infra deploy` writes it") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable cdk outputs JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get(stack_name), dict):
        found = ", ".join(sorted(data)) if isinstance(data, dict) and data else "none"
        raise DataError(f"{path}: no outputs for stack {stack_name!r} (stacks in the file: "
                        f"{found}); check infra.stack_name")
    return {str(key): str(value) for key, value in data[stack_name].items()}


def fetch_outputs(stack_name: str, region: str | None, client: Any = None) -> dict[str, str]:
    """``{OutputKey: value}`` of the deployed stack, from CloudFormation."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        if client is None:
            client = boto3.client("cloudformation", region_name=region)
        stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    except NoRegionError:
        raise ConfigError("no AWS region: set infra.region (or backend.region) in the config, "
                          "or AWS_DEFAULT_REGION") from None
    except NoCredentialsError:
        from smlp.aws import NO_CREDENTIALS

        raise ConfigError(f"{NO_CREDENTIALS}, or pass --stack-outputs-file") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(error.get("Code", "Unknown"), error.get("Message", str(exc)),
                       "DescribeStacks") from None
    except BotoCoreError as exc:
        raise BackendError(f"cannot reach CloudFormation: {exc}") from None
    outputs = stacks[0].get("Outputs", []) if stacks else []
    return {item["OutputKey"]: item["OutputValue"] for item in outputs}


def config_fragment(outputs: dict[str, str], source: str) -> dict[str, Any]:
    """The ``backend:`` and ``store:`` settings the SageMaker backend needs from the stack."""
    missing = [key for key in REQUIRED if not outputs.get(key)]
    if missing:
        raise DataError(f"{source}: stack outputs lack {', '.join(missing)}; deploy the stack "
                        "with this version of smlp (`smlp infra deploy`)")
    backend: dict[str, Any] = {
        "kind": "sagemaker",
        "region": outputs[OUT_REGION],
        "role_arn": outputs[OUT_ROLE],
    }
    if outputs.get(OUT_KEY):
        backend["output_kms_key_id"] = outputs[OUT_KEY]
        backend["volume_kms_key_id"] = outputs[OUT_KEY]
    if outputs.get(OUT_JOB_SUBNETS) and outputs.get(OUT_JOB_SECURITY_GROUPS):
        # The role has EC2 rights in these subnets only: send the jobs there.
        backend["subnets"] = _split(outputs[OUT_JOB_SUBNETS])
        backend["security_group_ids"] = _split(outputs[OUT_JOB_SECURITY_GROUPS])
    return {"backend": backend, "store": outputs[OUT_STORE]}


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def to_yaml(fragment: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(fragment, sort_keys=False)


def write_config(path: Path, fragment: dict[str, Any]) -> None:
    """Merge ``fragment`` into the config file at ``path`` (created if absent), validated first.

    A backend section of another kind is replaced, one of kind sagemaker is updated in place so
    settings like ``use_spot`` survive. Comments in the file are not preserved (PyYAML).
    """
    from smlp.config import read_yaml, write_config_file

    user = read_yaml(path) if path.exists() else {}
    backend = user.get("backend")
    if not isinstance(backend, dict) or backend.get("kind", "local") != "sagemaker":
        backend = {}
    user["backend"] = {**backend, **fragment["backend"]}
    user["store"] = fragment["store"]
    write_config_file(path, to_yaml(user))


# -- what a synthesized stack creates, and what it costs standing ---------------------------------
# Resource types counted from the template, in the order they are listed.
SUMMARY_TYPES = {
    "AWS::S3::Bucket": "bucket",
    "AWS::KMS::Key": "KMS key",
    "AWS::IAM::Role": "IAM role",
    "AWS::Logs::LogGroup": "log group",
    "AWS::SageMaker::NotebookInstance": "notebook instance",
    "AWS::Lambda::Function": "Lambda function",
}
# AWS KMS pricing: each customer managed key costs $1/month (prorated hourly); the first 20,000
# requests a month are free, then $0.03 per 10,000 (https://aws.amazon.com/kms/pricing/).
KMS_KEY_MONTHLY_USD = 1.0


def read_template(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CloudFormation template ({exc})") from None
    return data if isinstance(data, dict) else {}


def summarize_template(template: dict[str, Any]) -> tuple[list[str], float]:
    """Lines saying what the template creates and what each kind costs while it exists, and
    the standing monthly total in USD (what is paid with no job running)."""
    resources = [r for r in (template.get("Resources") or {}).values() if isinstance(r, dict)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(str(resource.get("Type")), []).append(resource)
    counts = [(label, len(by_type.get(kind, []))) for kind, label in SUMMARY_TYPES.items()]
    made = ", ".join(f"{n} {label}{'s' if n != 1 else ''}" for label, n in counts if n)
    others = len(resources) - sum(n for _, n in counts)
    lines = [f"creates {made}" + (f" (+{others} policies and settings)" if others else "")]
    keys = by_type.get("AWS::KMS::Key", [])
    standing = KMS_KEY_MONTHLY_USD * len(keys)
    if keys:
        rotation = any((k.get("Properties") or {}).get("EnableKeyRotation") for k in keys)
        lines.append(f"  KMS key: ${KMS_KEY_MONTHLY_USD:.2f}/month each, ${standing:.2f}/month "
                     "standing (AWS KMS pricing; requests beyond 20,000/month $0.03 per 10,000"
                     + ("; rotated key material may add to it" if rotation else "") + ")")
    buckets = by_type.get("AWS::S3::Bucket", [])
    if buckets:
        lines.append("  buckets: no standing fee; storage, requests and transfer paid per use")
    groups = by_type.get("AWS::Logs::LogGroup", [])
    if groups:
        names = [str((g.get("Properties") or {}).get("LogGroupName", "?")) for g in groups]
        days = {(g.get("Properties") or {}).get("RetentionInDays") for g in groups}
        kept = ", ".join(f"{d} days" if d else "forever" for d in sorted(days, key=str))
        lines.append(f"  log groups ({', '.join(names)}): no standing fee; ingestion and "
                     f"storage paid per use, kept {kept}")
    if by_type.get("AWS::IAM::Role"):
        lines.append("  IAM roles: free")
    for notebook in by_type.get("AWS::SageMaker::NotebookInstance", []):
        kind = (notebook.get("Properties") or {}).get("InstanceType", "?")
        lines.append(f"  notebook instance {kind}: billed per hour while InService, not "
                     "counted here; stop it when idle")
    if by_type.get("AWS::Lambda::Function"):
        lines.append("  Lambda functions (CDK helpers): paid per invocation, only when the stack "
                     "changes")
    lines.append(f"standing cost: ${standing:.2f}/month" + (
        " plus the notebook's hours" if by_type.get("AWS::SageMaker::NotebookInstance") else "")
                 + "; jobs, storage and logs are paid per use")
    return lines, standing
