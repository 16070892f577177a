"""The price table: regions covered and honest about being unverified; ``smlp prices update``
parses GetProducts' PriceList documents (botocore's Stubber stands in for the API) and writes a
user-level table the estimates then prefer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smlp.backends.sagemaker import pricelist
from smlp.backends.sagemaker.pricing import Estimator, hourly_price, price_table, region_rates
from smlp.errors import BackendError, ConfigError

REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1",
           "ap-southeast-1", "ap-southeast-2", "ap-northeast-1"]


def product(instance: str, usage: str, price: str, region: str = "eu-west-1",
            prefix: str = "EU", **attributes: str) -> str:
    """One PriceList entry shaped as GetProducts returns it for an AmazonSageMaker ML
    instance SKU: a JSON *string* with product attributes and on-demand terms."""
    sku = f"SKU{abs(hash((instance, usage, region))) % 10**8:08d}"
    short = {"Training": "Train", "BatchTransform": "Tsform"}.get(usage, usage)
    attrs = {
        "regionCode": region, "servicecode": "AmazonSageMaker", "servicename": "Amazon SageMaker",
        "location": "EU (Ireland)", "locationType": "AWS Region", "operation": "RunInstance",
        "usagetype": f"{prefix}-{short}:{instance}", "instanceName": instance,
        "platoinstancetype": usage, "platoinstancename": instance, "vCpu": "4",
        "memory": "16 GiB", "physicalGpu": "N/A", "gpuMemory": "N/A",
        "computeType": "Standard Instances", "currentGeneration": "Yes",
    }
    attrs.update(attributes)
    attrs = {k: v for k, v in attrs.items() if v != ""}
    return json.dumps({
        "product": {"productFamily": "ML Instance", "attributes": attrs, "sku": sku},
        "serviceCode": "AmazonSageMaker",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                "description": f"${price} per On Demand {instance} {usage} Instance Hour",
                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                "pricePerUnit": {"USD": price}}},
            "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
            "offerTermCode": "JRTCKXETXF", "termAttributes": {}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })


def request(region: str, usage: str, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ServiceCode": "AmazonSageMaker", "FormatVersion": "aws_v1",
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                    {"Type": "TERM_MATCH", "Field": "platoinstancetype", "Value": usage}]}
    if token:
        params["NextToken"] = token
    return params


@pytest.fixture
def user_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "smlp" / "prices.json"
    monkeypatch.setenv("SMLP_PRICES_FILE", str(path))
    return path


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def stub_eu_west_1(stubber: Any) -> None:
    """Training over two pages (NextToken), then Batch Transform and Hosting."""
    stubber.add_response("get_products", {
        "FormatVersion": "aws_v1", "NextToken": "page-2", "PriceList": [
            product("ml.m5.xlarge", "Training", "0.2570000000"),
            # A SKU that names the instance only in instanceType, and one in usagetype only.
            product("ml.c5.xlarge", "Training", "0.2280000000", instanceName="",
                    instanceType="ml.c5.xlarge-Training"),
        ]}, request("eu-west-1", "Training"))
    stubber.add_response("get_products", {
        "FormatVersion": "aws_v1", "PriceList": [
            product("ml.m5.2xlarge", "Training", "0.5140000000", instanceName="",
                    platoinstancename=""),
        ]}, request("eu-west-1", "Training", "page-2"))
    stubber.add_response("get_products", {
        "FormatVersion": "aws_v1", "PriceList": [
            product("ml.m5.xlarge", "BatchTransform", "0.2690000000"),
        ]}, request("eu-west-1", "BatchTransform"))
    stubber.add_response("get_products", {
        "FormatVersion": "aws_v1", "PriceList": [
            product("ml.m5.xlarge", "Hosting", "0.2590000000", prefix="EU"),
        ]}, request("eu-west-1", "Hosting"))


def test_builtin_table_covers_the_regions_people_use_and_says_it_is_unverified(
        user_table: Path) -> None:
    table = price_table()
    assert set(REGIONS) <= set(table["regions"])
    assert table["verified"] is False and table["as_of"] and "memory" in table["source"]
    for region in REGIONS:
        price, note = hourly_price(region, "ml.m5.xlarge")
        assert price is not None and note == "", region  # no borrowing for these regions
        rates = region_rates(region)
        assert rates.verified is False and rates.as_of == "2024-06-01"
        assert "unverified" in rates.label()
    assert hourly_price("eu-west-1", "ml.m5.xlarge")[0] > hourly_price("us-east-1",
                                                                      "ml.m5.xlarge")[0]
    price, note = hourly_price("sa-east-1", "ml.m5.xlarge")
    assert price == 0.23 and "us-east-1 rates used" in note and "prices update" in note


def test_parse_product_reads_the_sku_wherever_it_keeps_the_instance() -> None:
    assert pricelist.parse_product(product("ml.m5.xlarge", "Training", "0.257")) == (
        "ml.m5.xlarge", 0.257)
    only_usage = product("ml.g4dn.xlarge", "Training", "0.822", instanceName="",
                         instanceType="NA")
    assert pricelist.parse_product(only_usage) == ("ml.g4dn.xlarge", 0.822)
    storage = json.loads(product("ml.m5.xlarge", "Training", "0.14"))
    storage["product"]["productFamily"] = "ML Storage"
    assert pricelist.parse_product(json.dumps(storage)) is None
    per_gb = json.loads(product("ml.m5.xlarge", "Training", "0.14"))
    for term in per_gb["terms"]["OnDemand"].values():
        for dimension in term["priceDimensions"].values():
            dimension["unit"] = "GB-Mo"
    assert pricelist.parse_product(json.dumps(per_gb)) is None


def test_update_writes_the_user_table_atomically_and_estimates_prefer_it(
        user_table: Path, stubbed: Any) -> None:
    client, stubber = stubbed
    stub_eu_west_1(stubber)
    user_table.parent.mkdir(parents=True)
    user_table.write_text(json.dumps({"regions": {"sa-east-1": {
        "as_of": "2026-10-01", "verified": True, "source": "earlier update",
        "training": {"ml.m5.xlarge": 0.37}}}}))
    result = pricelist.update(["eu-west-1"], client=client, today="2026-12-01")
    assert result.path == user_table
    written = json.loads(user_table.read_text())
    eu = written["regions"]["eu-west-1"]
    assert eu["training"] == {"ml.c5.xlarge": 0.228, "ml.m5.2xlarge": 0.514,
                              "ml.m5.xlarge": 0.257}
    assert eu["transform"] == {"ml.m5.xlarge": 0.269}
    assert eu["hosting"] == {"ml.m5.xlarge": 0.259}
    assert eu["as_of"] == "2026-12-01" and eu["verified"] is True
    assert "Price List API" in eu["source"]
    assert written["regions"]["sa-east-1"]["training"] == {"ml.m5.xlarge": 0.37}  # kept
    assert [p.name for p in user_table.parent.iterdir()] == ["prices.json"]  # no partials

    assert hourly_price("eu-west-1", "ml.m5.xlarge") == (0.257, "")
    assert hourly_price("eu-west-1", "ml.m5.xlarge", "transform") == (0.269, "")
    assert hourly_price("eu-west-1", "ml.c5.xlarge", "transform") == (0.228, "")
    assert hourly_price("eu-west-1", "ml.m5.xlarge", "hosting") == (0.259, "")
    assert hourly_price("us-east-1", "ml.m5.xlarge") == (0.23, "")  # still the built-in
    estimator = Estimator("eu-west-1", 60, 60)
    assert estimator.estimate.price_verified is True
    assert "2026-12-01" in estimator.estimate.price_source
    body = estimator.estimate.to_json()
    assert body["price_table_as_of"] == "2026-12-01" and body["price_table_verified"] is True
    assert not any("None of these numbers" in a for a in body["assumptions"])
    assert any("None of these numbers" in a
               for a in Estimator("us-east-1", 60, 60).estimate.assumptions)


def test_update_that_finds_nothing_writes_nothing(user_table: Path, stubbed: Any) -> None:
    client, stubber = stubbed
    stubber.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []},
                         request("eu-west-1", "Training"))
    stubber.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []},
                         request("eu-west-1", "BatchTransform"))
    stubber.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []},
                         request("eu-west-1", "Hosting"))
    with pytest.raises(BackendError, match="no SageMaker Training rates for eu-west-1"):
        pricelist.update(["eu-west-1"], client=client)
    assert not user_table.exists()


def test_update_maps_aws_errors_and_checks_its_input(user_table: Path, stubbed: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from smlp.errors import AwsError

    client, stubber = stubbed
    stubber.add_client_error("get_products", "AccessDeniedException",
                             "User is not authorized to perform: pricing:GetProducts")
    with pytest.raises(AwsError, match="AccessDeniedException.*pricing:GetProducts"):
        pricelist.update(["eu-west-1"], client=client)
    with pytest.raises(ConfigError, match="--region: 'eu_west_1' is not a region .*eu-west-1"):
        pricelist.update(["eu_west_1"], client=client)
    assert not user_table.exists()


def test_a_broken_user_table_is_a_one_line_config_error(user_table: Path) -> None:
    user_table.parent.mkdir(parents=True)
    user_table.write_text("{half")
    with pytest.raises(ConfigError, match="not a readable price table"):
        hourly_price("eu-west-1", "ml.m5.xlarge")
