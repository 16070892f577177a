"""``smlp infra synth|diff|deploy|destroy|outputs``: the CDK app behind the SageMaker backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from smlp.cli.common import ConfigOption, console, err_console, load

if TYPE_CHECKING:
    from smlp.infra.toolkit import SynthResult

app = typer.Typer(
    help="AWS resources for the SageMaker backend (bucket, KMS key, role, logs) via the AWS CDK.",
    no_args_is_help=True,
)

OutOption = Annotated[
    Path,
    typer.Option("--out", "-o", help="Folder for the cloud assembly (*.template.json).",
                 file_okay=False),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DEFAULT_OUT = Path("cdk.out")


@app.command()
def synth(config: ConfigOption = None, out: OutOption = DEFAULT_OUT) -> None:
    """Write the CloudFormation template(s); offline, no AWS credentials needed.

    Example: `smlp infra synth --out cdk.out`
    """
    from smlp.infra import toolkit

    result = toolkit.synth(load(config), out)
    _report(result)


@app.command()
def diff(config: ConfigOption = None, out: OutOption = DEFAULT_OUT) -> None:
    """Compare the stack with what is deployed (runs `cdk diff`).

    Example: `AWS_PROFILE=dev smlp infra diff`
    """
    from smlp.infra import toolkit

    toolkit.diff(load(config), out)


@app.command()
def deploy(
    config: ConfigOption = None,
    out: OutOption = DEFAULT_OUT,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask to approve IAM and security changes.")] = False,
) -> None:
    """Create or update the stack (runs `cdk deploy`), then show the config it implies.

    Example: `smlp infra deploy --yes`
    """
    from smlp.infra import outputs, toolkit

    cfg = load(config)
    outputs_file = toolkit.deploy(cfg, out, approve=yes)
    values = outputs.read_outputs_file(outputs_file, cfg.infra.stack_name)
    console.print(outputs.to_yaml(outputs.config_fragment(values, str(outputs_file))),
                  end="", markup=False)
    err_console.print(f"outputs saved to {outputs_file}; put them into your config with "
                      f"`smlp infra outputs --stack-outputs-file {outputs_file} --write`")


@app.command()
def destroy(config: ConfigOption = None, out: OutOption = DEFAULT_OUT,
            yes: YesOption = False) -> None:
    """Delete the stack (runs `cdk destroy`); retained resources stay.

    Example: `smlp infra destroy`
    """
    from smlp.infra import toolkit

    cfg = load(config)
    name = cfg.infra.stack_name
    if not yes:
        typer.confirm(f"Delete CloudFormation stack {name}?", abort=True)
    toolkit.destroy(cfg, out)
    if cfg.infra.removal_policy == "retain":
        err_console.print("kept (infra.removal_policy: retain): the buckets, KMS key and log "
                          "groups; delete them in the console when no longer needed")


@app.command()
def outputs(
    config: ConfigOption = None,
    stack_outputs_file: Annotated[Path | None, typer.Option(
        "--stack-outputs-file", help="Read a `cdk deploy --outputs-file` JSON instead of "
        "asking CloudFormation.", dir_okay=False)] = None,
    write: Annotated[bool, typer.Option(
        "--write", help="Merge backend and store settings into the config file.")] = False,
) -> None:
    """Print the stack's outputs as smlp config YAML, or write them into the config.

    Example: `smlp infra outputs --write`
    """
    from smlp.config import DEFAULT_FILE, resolve_path
    from smlp.infra import outputs as stack_outputs
    from smlp.infra.toolkit import infra_settings

    cfg = load(config)
    infra = infra_settings(cfg)
    if stack_outputs_file is not None:
        values = stack_outputs.read_outputs_file(stack_outputs_file, infra.stack_name)
        source = str(stack_outputs_file)
    else:
        values = stack_outputs.fetch_outputs(infra.stack_name, infra.region)
        source = f"stack {infra.stack_name}"
    fragment = stack_outputs.config_fragment(values, source)
    if not write:
        console.print(stack_outputs.to_yaml(fragment), end="", markup=False)
        return
    target = resolve_path(config) or Path(DEFAULT_FILE)
    stack_outputs.write_config(target, fragment)
    console.print(f"{target}: backend.kind sagemaker, role {fragment['backend']['role_arn']}, "
                  f"store {fragment['store']}")


def _report(result: SynthResult) -> None:
    from smlp.infra.outputs import read_template, summarize_template

    for warning in result.warnings:
        err_console.print(f"warning: {warning}", markup=False)
    for template in result.templates:
        console.print(str(template), markup=False)
    err_console.print("cdk-nag AwsSolutions: no unsuppressed errors")
    for template in result.templates:  # what deploying it creates, and what it costs standing
        lines, _ = summarize_template(read_template(template))
        err_console.print(f"stack {template.name.removesuffix('.template.json')}: {lines[0]}",
                          markup=False)
        for line in lines[1:]:
            err_console.print(line, markup=False)
