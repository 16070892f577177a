"""Synthesizing the stack in-process and handing the result to the AWS CDK CLI.

``synth`` needs only aws-cdk-lib (and the Node.js it runs on): no credentials, no network.
``diff``/``deploy``/``destroy`` synthesize first and run ``cdk <verb> --app <assembly dir>``,
so the CLI deploys exactly the template smlp built and cdk-nag checked. Failures to find
Node.js, the CLI or credentials surface as one-line errors before anything runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smlp.config.infra import InfraConfig
from smlp.errors import ConfigError, MissingDependencyError, SmlpError

CDK_ENV = "SMLP_CDK"  # e.g. "npx aws-cdk@2.1100.0" to pin the CLI
NPX_CDK = ("npx", "--yes", "aws-cdk@2")
OUTPUTS_FILE = "outputs.json"

Runner = Callable[..., "subprocess.CompletedProcess[Any]"]


class ToolkitError(SmlpError):
    """Node.js, the CDK CLI or AWS credentials are missing (exit 2, set-up), or a cdk command
    or cdk-nag failed (exit 6, like any failed AWS operation): the README's exit codes."""

    exit_code = 6

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


@dataclass(frozen=True)
class SynthResult:
    out_dir: Path
    stack_name: str
    templates: list[Path]
    warnings: list[str] = field(default_factory=list)


def infra_settings(config: Any) -> InfraConfig:
    """``config.infra`` with region and job VPC taken from a SageMaker backend section when
    infra has none: jobs run where the backend sends them, so the role must allow that."""
    infra: InfraConfig = config.infra
    updates: dict[str, Any] = {}
    backend_region = getattr(config.backend, "region", None)
    if infra.region is None and backend_region:
        updates["region"] = backend_region
    subnets = list(getattr(config.backend, "subnets", None) or [])
    if subnets and not infra.job_subnet_ids:
        updates["job_subnet_ids"] = subnets
        updates["job_security_group_ids"] = list(config.backend.security_group_ids)
    if not updates:
        return infra
    from pydantic import ValidationError

    try:  # validated: the IDs become IAM resource ARNs
        return InfraConfig.model_validate({**infra.model_dump(), **updates})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"backend.subnets/security_group_ids (used for infra.{first['loc'][0]}"
                          f"): {first['msg']}") from None


def synth(config: Any, out_dir: Path) -> SynthResult:
    """Write the cloud assembly (``<stack>.template.json`` and friends) to ``out_dir``.

    Raises if cdk-nag's AwsSolutions pack reports an unsuppressed error.
    """
    infra = infra_settings(config)
    require_node()
    try:
        from smlp.infra.stack import build_app
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in {"aws_cdk", "cdk_nag", "constructs", "jsii"}:
            raise MissingDependencyError("smlp infra", "infra") from None
        raise
    out_dir.mkdir(parents=True, exist_ok=True)
    app, stack = build_app(infra, out_dir)
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    errors, warnings = [], []
    for message in artifact.messages:
        # Verbose nag data is "<rule>: <finding>. <advice...>"; the finding is enough here.
        finding = str(message.entry.data).strip().split(". ", 1)[0].rstrip(".")
        text = f"{message.id}: {finding}"
        level = str(message.level).lower()
        if level.endswith("error"):
            errors.append(text)
        elif level.endswith("warning"):
            warnings.append(text)
    if errors:
        raise ToolkitError(
            f"stack {infra.stack_name} has {len(errors)} unsuppressed cdk-nag error(s); "
            "fix them or suppress them with a reason in smlp/infra/stack.py:\n"
            + "\n".join(errors)
        )
    # From the assembly, not a glob: the folder may hold templates of earlier stack names.
    templates = [out_dir / stack_artifact.template_file for stack_artifact in assembly.stacks]
    return SynthResult(out_dir, infra.stack_name, templates, warnings)


def require_node(path: str | None = None) -> str:
    """The Node.js executable aws-cdk-lib (jsii) and the CDK CLI run on."""
    node = os.environ.get("JSII_NODE") or shutil.which("node", path=path)
    if not node:
        raise ToolkitError("Node.js is not on PATH; aws-cdk-lib and the CDK CLI run on it: install "
                           "Node.js 20+ (https://nodejs.org), then `npm install -g aws-cdk`",
                           exit_code=2)
    return node


def cdk_command(path: str | None = None) -> list[str]:
    """How to run the CDK CLI: ``$SMLP_CDK``, else ``cdk`` on PATH, else ``npx aws-cdk@2``."""
    if os.environ.get(CDK_ENV):
        return shlex.split(os.environ[CDK_ENV])
    require_node(path)
    cdk = shutil.which("cdk", path=path)
    if cdk:
        return [cdk]
    if shutil.which("npx", path=path):
        return list(NPX_CDK)
    raise ToolkitError("the AWS CDK CLI is not on PATH: install it with `npm install -g aws-cdk` "
                       f"(or put npx on PATH, or set {CDK_ENV} to the command that runs it)",
                       exit_code=2)


def aws_environment(infra: InfraConfig) -> dict[str, str]:
    """Environment for the cdk subprocess; fails early without credentials or a region."""
    import boto3

    from smlp.aws import require_credentials

    session = boto3.Session(region_name=infra.region)
    try:
        require_credentials(session)
    except ConfigError as exc:
        raise ToolkitError(str(exc), exit_code=2) from None
    # boto3 reads AWS_DEFAULT_REGION and the profile; the CDK CLI also honours AWS_REGION.
    region = infra.region or session.region_name or os.environ.get("AWS_REGION")
    if not region:
        raise ToolkitError("no AWS region: set infra.region (or backend.region) in the config, "
                           "or AWS_REGION", exit_code=2)
    env = dict(os.environ)
    env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    return env


def diff(config: Any, out_dir: Path, runner: Runner = subprocess.run) -> SynthResult:
    """Show what ``deploy`` would change in the deployed stack."""
    return _run_verb("diff", config, out_dir, [], runner)


def deploy(config: Any, out_dir: Path, approve: bool = False,
           runner: Runner = subprocess.run) -> Path:
    """Deploy the stack; returns the outputs file cdk wrote (``smlp infra outputs`` reads it)."""
    outputs = out_dir / OUTPUTS_FILE
    extra = ["--outputs-file", str(outputs)]
    if approve:
        extra += ["--require-approval", "never"]
    _run_verb("deploy", config, out_dir, extra, runner)
    return outputs


def destroy(config: Any, out_dir: Path, runner: Runner = subprocess.run) -> None:
    """Delete the stack; resources with removal policy ``retain`` stay behind."""
    _run_verb("destroy", config, out_dir, ["--force"], runner)


def _run_verb(verb: str, config: Any, out_dir: Path, extra: Sequence[str],
              runner: Runner) -> SynthResult:
    # Check the cheap things first so a missing CLI is reported before a 3 s synth.
    command = cdk_command()
    env = aws_environment(infra_settings(config))
    result = synth(config, out_dir)
    argv = [*command, verb, "--app", str(out_dir), result.stack_name, *extra]
    try:
        completed = runner(argv, env=env, check=False)
    except FileNotFoundError:
        raise ToolkitError(f"cannot run {command[0]}: not found; install the CDK CLI with "
                           "`npm install -g aws-cdk`", exit_code=2) from None
    if completed.returncode != 0:
        raise ToolkitError(f"`cdk {verb}` failed with exit code {completed.returncode}; "
                           "see its output above")
    return result
