"""``smlp deploy``, ``smlp invoke`` and ``smlp endpoint ...``: real-time endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from smlp.cli.common import (
    BackendOption,
    ConfigOption,
    DryRunOption,
    StoreOption,
    console,
    load,
    open_project,
    show_plan,
)
from smlp.cli.render import EventRenderer

VariantOption = Annotated[list[str] | None, typer.Option(
    "--variant", help="NAME=WEIGHT, repeatable: a production variant serving candidate NAME "
    "('best' or a candidate) with that share of the traffic.")]


def deploy(
    model: Annotated[str | None, typer.Option(
        "--model", help="'best' or a candidate name (one variant).")] = None,
    variant: VariantOption = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="Endpoint name (default: smlp-<candidate>).")] = None,
    port: Annotated[int | None, typer.Option(
        "--port", help="Local backend: port to listen on (default 8080; 0: any free).")] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Serve candidates as a real-time endpoint with SageMaker's inference contract.

    Locally it serves in the foreground until Ctrl-C; on SageMaker it creates the endpoint.

    Example: `smlp deploy --variant xgboost=0.9 --variant sklearn-gbm=0.1 --port 8080`
    """
    from smlp.serving.deploy import deploy as run_deploy
    from smlp.serving.deploy import parse_variant_flags

    variants = parse_variant_flags(variant or [])
    if model is not None and variants:
        from smlp.errors import ConfigError

        raise ConfigError("--model and --variant: give one or the other")
    cfg = load(config, {"store": store, "backend.kind": backend}, dry_run)
    needs = "best" if "best" in {model or cfg.transform.model, *(n for n, _ in variants)} \
        else "candidates"
    artifacts, runner = open_project(cfg, needs=needs)
    with EventRenderer() as events:
        info = run_deploy(cfg, artifacts, runner, model, variants, name, port, events)
    if show_plan(runner):
        return
    _show(info)


def invoke(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV file or folder of rows.")],
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="Endpoint name, or a URL (http://127.0.0.1:8080).")] = None,
    variant: Annotated[str | None, typer.Option(
        "--variant", help="Send every request to this variant.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Output folder (default: in the store).")] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    backend: BackendOption = None,
) -> None:
    """Send rows to an endpoint; write <file>.out with one prediction per line.

    Example: `smlp invoke --input new.csv --endpoint http://127.0.0.1:8080`
    """
    from smlp.errors import ConfigError
    from smlp.serving.client import http_invoker
    from smlp.serving.deploy import invoke as run_invoke

    cfg = load(config, {"store": store, "backend.kind": backend})
    artifacts, runner = open_project(cfg)
    target = endpoint or cfg.endpoint.name
    if target is None:
        raise ConfigError("--endpoint: name an endpoint (see `smlp endpoint list`) or a URL")
    if target.startswith(("http://", "https://")):
        send = http_invoker(target)
    else:
        send = runner.endpoint_invoker(target)
    with EventRenderer() as events:
        result = run_invoke(artifacts, send, target, input, output, variant, events=events)
    rate = result.rows / result.seconds if result.seconds else 0
    shares = ", ".join(f"{k or '?'}: {v}" for k, v in sorted(result.variants.items()))
    console.print(f"{result.rows:,} rows in {result.requests:,} requests, "
                  f"{result.seconds:.2f} s ({rate:,.0f} rows/s); variants {shares}")
    for uri in result.outputs:
        console.print(uri)


app = typer.Typer(help="List, describe, re-weight or delete endpoints.", no_args_is_help=True)


def _backend(config: Path | None, store: str | None, backend: str | None) -> Any:
    cfg = load(config, {"store": store, "backend.kind": backend})
    return open_project(cfg)[1]


@app.command("list")
def list_(config: ConfigOption = None, store: StoreOption = None,
          backend: BackendOption = None) -> None:
    """Endpoints of this backend (local: those `smlp deploy` is serving).

    Example: `smlp endpoint list --backend sagemaker`
    """
    endpoints = _backend(config, store, backend).list_endpoints()
    if not endpoints:
        console.print("no endpoints")
    for info in endpoints:
        variants = ", ".join(f"{v['name']}={v.get('weight', '?')}" for v in info.variants)
        console.print(f"{info.name}  {info.status}  {info.url or ''}  {variants}")


@app.command()
def describe(name: Annotated[str, typer.Argument(help="Endpoint name.")],
             json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
             config: ConfigOption = None, store: StoreOption = None,
             backend: BackendOption = None) -> None:
    """Status, variants, weights; locally also invocations and latency per variant.

    Example: `smlp endpoint describe smlp-xgboost`
    """
    info = _backend(config, store, backend).describe_endpoint(name)
    if json_:
        import dataclasses
        import json

        typer.echo(json.dumps(dataclasses.asdict(info), indent=2, default=str))
        return
    _show(info)


@app.command()
def weights(name: Annotated[str, typer.Argument(help="Endpoint name.")],
            weight: Annotated[list[str], typer.Argument(help="VARIANT=WEIGHT ...")],
            config: ConfigOption = None, store: StoreOption = None,
            backend: BackendOption = None) -> None:
    """Shift traffic between variants (UpdateEndpointWeightsAndCapacities).

    Example: `smlp endpoint weights smlp-xgboost xgboost=0.5 sklearn-gbm=0.5`
    """
    from smlp.serving.deploy import parse_variant_flags

    wanted = dict(parse_variant_flags(weight))
    _show(_backend(config, store, backend).update_endpoint_weights(name, wanted))


@app.command()
def delete(name: Annotated[str, typer.Argument(help="Endpoint name.")],
           config: ConfigOption = None, store: StoreOption = None,
           backend: BackendOption = None) -> None:
    """Remove the endpoint, its config and the models smlp created for it; nothing else.

    Example: `smlp endpoint delete smlp-xgboost`
    """
    for removed in _backend(config, store, backend).delete_endpoint(name):
        console.print(f"deleted {removed}")


def _show(info: Any) -> None:
    console.print(f"{info.name}: {info.status}" + (f" at {info.url}" if info.url else ""))
    if info.failure_reason:
        console.print(f"  {info.failure_reason}")
    for v in info.variants:
        line = f"  {v.get('name')}: {v.get('model', '')} weight {v.get('weight', '?')}"
        if "invocations" in v:
            p50, p99 = v.get("latency_ms_p50"), v.get("latency_ms_p99")
            line += (f", {v['invocations']:,} invocations ({v.get('errors_4xx', 0)} 4xx, "
                     f"{v.get('errors_5xx', 0)} 5xx), {v.get('rows', 0):,} rows")
            if p50 is not None:
                line += f", latency p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        if v.get("instance_type"):
            line += f", {v.get('instance_count', 1)} x {v['instance_type']}"
        console.print(line)
