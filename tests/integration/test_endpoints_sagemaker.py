"""Endpoints on the sagemaker backend against moto: the requests SageMaker receives
(CreateModel per variant, CreateEndpointConfig with weights and data capture, CreateEndpoint),
InService, re-weighting, a delete that removes only what the deploy created, InvokeEndpoint
through sagemaker-runtime, and the dry run's requests and cost per hour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smlp.backends.sagemaker import SageMakerBackend
from smlp.backends.sagemaker.session import AwsSession
from tests.conftest import SMALL
from tests.integration.sagemaker_fixtures import (
    REGION,
    ROLE,
    STORE,
    SageMakerTraffic,
    build_in_moto,
    prepare_data,
    record_sagemaker,
    restore_bucket,
    sagemaker_config,
)

KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def sm_store(make_store: Any) -> Any:
    return make_store("s3")


@pytest.fixture
def traffic(sm_store: Any, project: Path, monkeypatch: pytest.MonkeyPatch) -> SageMakerTraffic:
    return record_sagemaker(sm_store, project / ".emulator", monkeypatch)


@pytest.fixture(scope="module")
def trained_objects(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Data and XGBoost + scikit-learn candidates in an S3 store (trained locally: both
    artifacts serve on SageMaker too), built once for the module."""
    from smlp.backends.local import LocalBackend
    from smlp.config import load_config
    from smlp.stages.train import train

    def build(store: Any) -> None:
        small_config = load_config(None, SMALL)
        prepare_data(small_config, store)
        config = small_config.model_copy(update={"store": STORE})
        train(config, store, LocalBackend(config, store), ["xgboost", "sklearn-gbm"])

    return build_in_moto(tmp_path_factory.mktemp("endpoints-trained"), build)[1]


@pytest.fixture
def trained(sm_store: Any, trained_objects: list[Any]) -> Any:
    """The module's trained store, copied into this test's own moto bucket."""
    restore_bucket(sm_store.client, trained_objects)
    return sm_store


def sm_backend(config: Any, store: Any) -> SageMakerBackend:
    return SageMakerBackend(config, store, session=AwsSession(REGION, 3))


def endpoint_config(small_config: Any, **endpoint: Any) -> Any:
    config = sagemaker_config(small_config, output_kms_key_id=KMS)
    settings = config.endpoint.model_copy(update=endpoint)
    return config.model_copy(update={"endpoint": settings})


def test_deploy_describe_weights_delete(small_config, trained, traffic):
    from smlp.config.endpoint import DataCaptureSettings
    from smlp.serving.deploy import deploy

    config = endpoint_config(small_config, data_capture=DataCaptureSettings(
        sampling_percentage=20))
    backend = sm_backend(config, trained)
    # A model the endpoint does not own: delete must leave it alone.
    backend.sagemaker.create_model(ModelName="someone-elses", ExecutionRoleArn=ROLE,
                                   PrimaryContainer={"Image": "x"})
    info = deploy(config, trained, backend, variants=[("xgboost", 0.8), ("sklearn-gbm", 0.2)],
                  name="smlp-ab")
    assert info.status == "InService"
    models = traffic.requests("CreateModel")[1:]
    assert [m["ModelName"] for m in models] == ["smlp-ab-xgboost", "smlp-ab-sklearn-gbm"]
    xgb, sk = models
    assert "sagemaker-xgboost:3.2-0" in xgb["PrimaryContainer"]["Image"]
    assert xgb["PrimaryContainer"]["ModelDataUrl"].startswith(f"{STORE}/")
    env = sk["PrimaryContainer"]["Environment"]
    assert env["SAGEMAKER_PROGRAM"] == "sklearn_gbm.py"
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"].startswith(f"{STORE}/")
    assert all(m["ExecutionRoleArn"] == ROLE for m in models)
    [created] = traffic.requests("CreateEndpointConfig")
    assert created["ProductionVariants"] == [
        {"VariantName": "xgboost", "ModelName": "smlp-ab-xgboost", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.8},
        {"VariantName": "sklearn-gbm", "ModelName": "smlp-ab-sklearn-gbm",
         "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
         "InitialVariantWeight": 0.2}]
    capture = created["DataCaptureConfig"]
    assert capture == {
        "EnableCapture": True, "InitialSamplingPercentage": 20,
        "DestinationS3Uri": f"{STORE}/datacapture", "KmsKeyId": KMS,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": [
            "application/json", "application/jsonlines"]}}
    [endpoint] = traffic.requests("CreateEndpoint")
    assert (endpoint["EndpointName"], endpoint["EndpointConfigName"]) == ("smlp-ab", "smlp-ab")
    created_in_order = [op for op in traffic.operations() if op.startswith("Create")]
    assert created_in_order[-4:] == ["CreateModel", "CreateModel", "CreateEndpointConfig",
                                     "CreateEndpoint"]

    described = backend.describe_endpoint("smlp-ab")
    assert described.status == "InService"
    assert {v["name"]: v["instance_type"] for v in described.variants} == {
        "xgboost": "ml.m5.large", "sklearn-gbm": "ml.m5.large"}
    assert [e.name for e in backend.list_endpoints()] == ["smlp-ab"]  # from the store's record
    assert json.loads(trained.read_bytes("endpoints/smlp-ab.json"))["deleted"] is False

    backend.update_endpoint_weights("smlp-ab", {"xgboost": 0.5, "sklearn-gbm": 0.5})
    assert traffic.requests("UpdateEndpointWeightsAndCapacities") == [{
        "EndpointName": "smlp-ab", "DesiredWeightsAndCapacities": [
            {"VariantName": "xgboost", "DesiredWeight": 0.5},
            {"VariantName": "sklearn-gbm", "DesiredWeight": 0.5}]}]

    removed = backend.delete_endpoint("smlp-ab")
    assert removed == ["endpoint smlp-ab", "endpoint config smlp-ab",
                       "model smlp-ab-xgboost", "model smlp-ab-sklearn-gbm"]
    left = [m["ModelName"] for m in backend.sagemaker.list_models()["Models"]]
    assert left == ["someone-elses"]
    assert backend.list_endpoints() == []
    assert json.loads(trained.read_bytes("endpoints/smlp-ab.json"))["deleted"] is True


def test_invoke_through_sagemaker_runtime(small_config, trained, traffic, project):
    """smlp invoke sends the rows with InvokeEndpoint (TargetVariant included) and writes what
    the endpoint answered, one line per row, as transform does."""
    import boto3
    import requests

    from smlp.serving.deploy import deploy, invoke

    config = endpoint_config(small_config)
    backend = sm_backend(config, trained)
    deploy(config, trained, backend, model="xgboost", name="smlp-one")
    answer = "1.5\n2.25\n"
    requests.post("http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
                  json={"region": REGION, "results": [{
                      "Body": answer, "ContentType": "text/csv",
                      "InvokedProductionVariant": "xgboost"}]}, timeout=5)
    sent: list[dict[str, Any]] = []
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    runtime.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint",
                                 lambda request, **_: sent.append(
                                     {"headers": {k: _text(v) for k, v in request.headers.items()},
                                      "body": request.body}))
    backend.session.client = lambda service: runtime if service == "sagemaker-runtime" \
        else AwsSession.client(backend.session, service)
    rows = project / "rows.csv"
    rows.write_text("1,2,3,4,5,6,7,8\n2,3,4,5,6,7,8,9\n")
    result = invoke(trained, backend.endpoint_invoker("smlp-one"), "smlp-one", rows,
                    project / "out", variant="xgboost")
    assert (project / "out" / "rows.csv.out").read_text() == answer
    assert result.rows == 2 and result.variants == {"xgboost": 1}
    [request] = sent
    assert request["headers"]["X-Amzn-SageMaker-Target-Variant"] == "xgboost"
    assert request["headers"]["Content-Type"] == "text/csv"
    assert request["body"] == rows.read_bytes()


def test_dry_run_prints_requests_and_cost_per_hour(project, no_credentials):
    from tests.integration.cli_helpers import smlp, write_small_config

    write_small_config(project)
    with open(project / "smlp.yaml", "a") as handle:
        handle.write(f"backend: {{kind: sagemaker, region: us-east-1, role_arn: '{ROLE}'}}\n"
                     "endpoint: {instance_count: 2, data_capture: {sampling_percentage: 10}}\n")
    result = smlp("deploy", "--dry-run", "--variant", "xgboost=3", "--variant", "knn=1",
                  "--store", "s3://my-smlp-bucket/smlp")
    plan = json.loads(result.stdout)
    operations = [r["operation"] for r in plan["requests"]]
    assert operations[-4:] == ["CreateModel", "CreateModel", "CreateEndpointConfig",
                               "CreateEndpoint"]
    config = plan["requests"][-2]["params"]
    assert [(v["VariantName"], v["InitialVariantWeight"], v["InitialInstanceCount"])
            for v in config["ProductionVariants"]] == [("xgboost", 3.0, 2), ("knn", 1.0, 2)]
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == \
        "s3://my-smlp-bucket/smlp/datacapture"
    [cost] = [n for n in plan["notes"] if "per hour" in n]
    # 2 variants x 2 instances x ml.m5.large (0.115 $/h in the built-in table)
    assert "$0.460 per hour" in cost


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_infra_grants_endpoints_what_they_need_and_no_more(tmp_path):
    """The notebook role (which runs smlp) may create, watch, invoke, re-weight and delete
    smlp-* endpoints only, creation tagged; the execution role gains nothing: data capture
    writes under the prefix with the stack's key, which it already may."""
    pytest.importorskip("smlp.infra.stack", reason="needs the infra extra")
    from smlp.config.infra import InfraConfig
    from smlp.infra.stack import build_app

    config = InfraConfig(stack_name="smlp-dev", account="123456789012", region="eu-west-1",
                         notebook=True, notebook_subnet_id="subnet-0123456789abcdef0",
                         notebook_security_group_ids=["sg-0123456789abcdef0"])
    app, stack = build_app(config, tmp_path)
    app.synth()
    template = json.loads((tmp_path / "smlp-dev.template.json").read_text())

    def statements(policy: Any) -> dict[str, Any]:
        logical = stack.resolve(stack.get_logical_id(policy.node.default_child))
        document = template["Resources"][logical]["Properties"]["PolicyDocument"]
        return {s["Sid"]: s for s in document["Statement"]}

    arn = "arn:aws:sagemaker:eu-west-1:123456789012:"
    notebook = statements(stack.notebook_policy)
    create = notebook["CreateSmlpEndpoints"]
    assert sorted(create["Action"]) == ["sagemaker:CreateEndpoint",
                                        "sagemaker:CreateEndpointConfig"]
    assert sorted(create["Resource"]) == [f"{arn}endpoint-config/smlp-*",
                                          f"{arn}endpoint/smlp-*"]
    assert create["Condition"] == {"StringEquals": {"aws:RequestTag/smlp:managed": "true"}}
    change = notebook["ChangeSmlpEndpoints"]
    assert change["Condition"] == {"StringEquals": {"aws:ResourceTag/smlp:managed": "true"}}
    assert "sagemaker:UpdateEndpointWeightsAndCapacities" in change["Action"]
    assert notebook["InvokeSmlpEndpoints"]["Resource"] == f"{arn}endpoint/smlp-*"
    every = {a for s in notebook.values() for a in
             (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert "sagemaker:ListEndpoints" not in every  # listed from the store's records instead
    execution = statements(stack.policy)
    assert not any("Endpoint" in a for s in execution.values() for a in
                   (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    write = execution["ReadWriteSmlpPrefix"]
    assert "s3:PutObject" in write["Action"]  # <prefix>/datacapture/... is under <prefix>/*
    assert "kms:GenerateDataKey" in execution["UseSmlpKey"]["Action"]


def test_a_failed_endpoint_is_an_error_with_sagemakers_reason(small_config, trained, traffic,
                                                             monkeypatch):
    from smlp.errors import JobFailedError
    from smlp.serving.deploy import deploy

    config = endpoint_config(small_config)
    backend = sm_backend(config, trained)
    calls = backend.call
    states = iter(["Creating", "Failed"])

    def call(operation: str, **params: Any) -> dict[str, Any]:
        answer = calls(operation, **params)
        if operation == "DescribeEndpoint":  # SageMaker's side: the container never pinged
            answer = {**answer, "EndpointStatus": next(states),
                      "FailureReason": "The primary container for production variant xgboost "
                                       "did not pass the ping health check."}
        return answer

    monkeypatch.setattr(backend, "call", call)
    with pytest.raises(JobFailedError, match="did not pass the ping health check"):
        deploy(config, trained, backend, model="xgboost", name="smlp-bad")
