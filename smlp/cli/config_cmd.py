"""``smlp config init|validate|show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from smlp.cli.common import ConfigOption, console, load

app = typer.Typer(help="Create, check and show the configuration.", no_args_is_help=True)

HEADER = ("# smlp configuration, written by `smlp config init`. Only what differs from the\n"
          "# defaults is here; `smlp config show` prints every setting.\n")


@app.command()
def init(
    backend: Annotated[Literal["local", "sagemaker"], typer.Option(
        "--backend", help="Where jobs run.")] = "local",
    bucket: Annotated[str | None, typer.Option(
        "--bucket", help="S3 bucket for data, models and the manifest (sagemaker).")] = None,
    prefix: Annotated[str | None, typer.Option(
        "--prefix", help="Key prefix inside the bucket (default: smlp).")] = None,
    role_arn: Annotated[str | None, typer.Option(
        "--role-arn", help="Execution role SageMaker assumes (sagemaker).")] = None,
    region: Annotated[str | None, typer.Option(
        "--region", help="AWS region (default: the AWS CLI's).")] = None,
    path: Annotated[Path, typer.Option(
        "--path", "-o", help="File to write.", dir_okay=False)] = Path("smlp.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a ready-to-use config file (./smlp.yaml, read by every command by default).

    Example: `smlp config init --backend sagemaker --bucket my-bucket --role-arn
    arn:aws:iam::123456789012:role/smlp --region eu-west-1`
    """
    from smlp.config.backend import starter_config
    from smlp.errors import ConfigError

    if backend == "sagemaker" and region is None:
        from smlp.backends.sagemaker.session import resolve_region

        region = resolve_region(None)
    try:
        document = starter_config(backend, bucket=bucket, prefix=prefix, role_arn=role_arn,
                                  region=region)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if path.exists() and not force:
        raise ConfigError(f"{path} exists already; pass --force to replace it")
    _write_validated(path, document)
    console.print(f"{path}: backend {document['backend']['kind']}, store {document['store']}")


def _write_validated(path: Path, document: dict[str, Any]) -> None:
    import yaml

    from smlp.config import write_config_file

    write_config_file(path, HEADER + yaml.safe_dump(document, sort_keys=False))


@app.command()
def validate(config: ConfigOption = None) -> None:
    """Load and validate the config; exit non-zero with one line per problem.

    Example: `smlp config validate -c configs/sagemaker.yaml`
    """
    from smlp.config import resolve_path

    load(config)
    path = resolve_path(config)
    console.print(f"{path or 'packaged defaults'}: valid")


@app.command()
def show(config: ConfigOption = None) -> None:
    """Print the fully resolved config (defaults + file) as YAML.

    Example: `smlp config show > smlp.yaml`
    """
    from smlp.config import to_yaml

    console.print(to_yaml(load(config)), end="", markup=False)
