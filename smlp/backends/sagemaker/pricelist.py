"""``smlp prices update``: SageMaker's on-demand rates from the AWS Price List API.

GetProducts (service code ``AmazonSageMaker``) answers one JSON document per product (SKU):
``product.attributes`` say what it is, ``terms.OnDemand.*.priceDimensions.*`` what an hour
costs. The attribute names used here are the ones AmazonSageMaker's offer file carries for
its ``ML Instance`` products (the public offer file, e.g. as read by
vantage-sh/ec2instances.info's SageMaker scraper): ``regionCode`` (``eu-west-1``),
``platoinstancetype`` (what the instance is billed for: ``Training``, ``BatchTransform``,
``Hosting`` for real-time endpoints, ``Processing``, ``SpotTraining``...), ``instanceName``
(``ml.m5.xlarge``; some SKUs only give ``instanceType`` or the ``usagetype`` suffix,
``USE1-Train:ml.m5.xlarge``). smlp has not been able to check them against the live API;
if AWS renames them, the update finds no products and says so instead of writing anything.

The Price List API is served from us-east-1 (and ap-south-1) whatever region is priced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from smlp.backends.sagemaker.pricing import builtin_table, override_path
from smlp.errors import BackendError, ConfigError
from smlp.fileio import atomic_write_bytes

SERVICE_CODE = "AmazonSageMaker"
PRICING_API_REGION = "us-east-1"
USAGE_ATTRIBUTE = "platoinstancetype"
USAGES = {"training": "Training", "transform": "BatchTransform", "hosting": "Hosting"}
PRODUCT_FAMILY = "ML Instance"
SOURCE = (f"AWS Price List API: GetProducts {SERVICE_CODE}, regionCode=<region>, "
          f"{USAGE_ATTRIBUTE}=" + "|".join(USAGES.values()) + ", on-demand USD per hour")


@dataclass
class RegionUpdate:
    region: str
    training: dict[str, float] = field(default_factory=dict)
    transform: dict[str, float] = field(default_factory=dict)
    hosting: dict[str, float] = field(default_factory=dict)


@dataclass
class UpdateResult:
    path: Path
    regions: list[RegionUpdate]
    as_of: str


def default_regions() -> list[str]:
    """The regions smlp's built-in table covers."""
    return list(builtin_table()["regions"])


def instance_name(attributes: dict[str, Any]) -> str | None:
    """``ml.<family>.<size>`` from a product's attributes, wherever the SKU keeps it."""
    name = attributes.get("instanceName") or ""
    if name.startswith("ml."):
        return name
    name = (attributes.get("instanceType") or "").split("-")[0]
    if name.startswith("ml."):
        return name
    usage = (attributes.get("usagetype") or "").rsplit(":", 1)[-1]
    return usage if usage.startswith("ml.") else None


def parse_product(text: str) -> tuple[str, float] | None:
    """(instance type, USD per hour) of one PriceList entry; None for anything else."""
    product = json.loads(text)
    described = product.get("product") or {}
    family = described.get("productFamily")
    if family and family != PRODUCT_FAMILY:
        return None
    name = instance_name(described.get("attributes") or {})
    if name is None:
        return None
    for term in ((product.get("terms") or {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            if str(dimension.get("unit", "")).lower() not in {"hrs", "hours", "hour"}:
                continue
            try:
                price = float((dimension.get("pricePerUnit") or {}).get("USD", ""))
            except ValueError:
                continue
            if price > 0:
                return name, price
    return None


def fetch_region(client: Any, region: str) -> RegionUpdate:
    """Every on-demand Training, BatchTransform and Hosting (real-time endpoint) rate of
    ``region``."""
    result = RegionUpdate(region)
    paginator = client.get_paginator("get_products")
    for kind, usage in USAGES.items():
        rates: dict[str, float] = getattr(result, kind)
        pages = paginator.paginate(
            ServiceCode=SERVICE_CODE, FormatVersion="aws_v1",
            Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                     {"Type": "TERM_MATCH", "Field": USAGE_ATTRIBUTE, "Value": usage}])
        for page in pages:
            for text in page.get("PriceList", []):
                parsed = parse_product(text)
                if parsed is not None:
                    name, price = parsed
                    rates[name] = max(price, rates.get(name, 0.0))  # an estimate errs high
    return result


def update(regions: list[str] | None = None, client: Any | None = None,
           today: str | None = None) -> UpdateResult:
    """Fetch the rates of ``regions`` (default: the built-in table's) and write them,
    atomically, into the user-level table, keeping the other regions it holds."""
    from smlp.aws import region_problem
    from smlp.backends.sagemaker.session import aws_errors

    wanted = list(dict.fromkeys(regions or default_regions()))
    for region in wanted:
        problem = region_problem(region)  # offline: botocore's list of SageMaker regions
        if problem:
            raise ConfigError(f"--region: {problem}")
    if client is None:
        client = _client()
    with aws_errors("GetProducts"):
        fetched = [fetch_region(client, region) for region in wanted]
    empty = [r.region for r in fetched if not r.training]
    if empty:
        raise BackendError(
            f"the Price List API returned no SageMaker Training rates for {', '.join(empty)} "
            f"({USAGE_ATTRIBUTE}=Training); is the region name right? Nothing was written")
    as_of = today or date.today().isoformat()
    path = override_path()
    table = _existing(path)
    for update_ in fetched:
        table["regions"][update_.region] = {
            "as_of": as_of, "source": SOURCE.replace("<region>", update_.region),
            "verified": True,
            **{kind: dict(sorted(getattr(update_, kind).items())) for kind in USAGES},
        }
    try:
        atomic_write_bytes(path, (json.dumps(table, indent=2) + "\n").encode())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the price table ({exc.strerror})") from None
    return UpdateResult(path, fetched, as_of)


def _existing(path: Path) -> dict[str, Any]:
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        table = None
    if not isinstance(table, dict) or not isinstance(table.get("regions"), dict):
        table = {"regions": {}}
    table.update({"schema": 2, "currency": "USD",
                  "source": "smlp prices update (AWS Price List API)"})
    return table


def _client() -> Any:
    """A Price List client, after checking credentials exist: one clear line, no request."""
    try:
        import boto3
    except ImportError:
        from smlp.errors import MissingDependencyError

        raise MissingDependencyError("`smlp prices update`", "aws") from None
    from smlp.aws import require_credentials

    session = boto3.Session()
    require_credentials(session, "; `smlp prices update` asks the AWS Price List API (estimates "
                        "keep using the built-in table meanwhile)")
    return session.client("pricing", region_name=PRICING_API_REGION)
