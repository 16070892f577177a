"""``smlp prices``: the SageMaker rates behind ``--dry-run``'s cost estimates."""

from __future__ import annotations

from typing import Annotated

import typer

from smlp.cli.common import console, err_console

app = typer.Typer(help="SageMaker on-demand rates used by --dry-run cost estimates.",
                  no_args_is_help=True)

RegionOption = Annotated[
    list[str] | None,
    typer.Option("--region", "-r", help="AWS region (repeatable; default: every region of "
                 "the built-in table)."),
]


@app.command()
def update(region: RegionOption = None) -> None:
    """Fetch on-demand rates from the AWS Price List API into your user-level price table.

    Training, Batch Transform and real-time Hosting rates per instance type; needs AWS
    credentials. Estimates then prefer this table to the built-in one.

    Example: smlp prices update --region eu-west-1
    """
    from smlp.backends.sagemaker.pricelist import update as run_update

    result = run_update(region)
    for found in result.regions:
        err_console.print(f"{found.region}: {len(found.training)} training, "
                          f"{len(found.transform)} batch transform, {len(found.hosting)} "
                          "real-time hosting rates")
    console.print(f"wrote {result.path} (as of {result.as_of}, from the AWS Price List API)")


@app.command()
def show(
    region: RegionOption = None,
    instance_type: Annotated[str, typer.Option(
        "--instance-type", help="The instance type whose rate is shown.")] = "ml.m5.xlarge",
) -> None:
    """Show where each region's rates come from, how old they are, and one rate.

    Example: smlp prices show --region eu-west-1
    """
    from rich.table import Table

    from smlp.backends.sagemaker.pricing import (
        FALLBACK_REGION,
        override_path,
        price_table,
        region_rates,
    )

    names = region or list(price_table()["regions"])
    table = Table(title=f"SageMaker on-demand rates (user table: {override_path()})")
    for column in ("region", f"{instance_type} $/h", "as of", "checked", "source"):
        table.add_column(column)
    for name in names:
        rates = region_rates(name)
        price = rates.price(instance_type)
        table.add_row(name, "—" if price is None else f"{price:.4g}", rates.as_of,
                      "yes" if rates.verified else "unverified",
                      f"{FALLBACK_REGION} (none for {name})" if rates.note else rates.origin)
    console.print(table)
