"""The local endpoint over real HTTP on 127.0.0.1: SageMaker's container contract, variants,
data capture, and the same predictions as ``smlp transform`` for the same rows."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SMALL

HEADER = "MedInc,HouseAge,AveRooms,AveBedrms,Population,AveOccup,Latitude,Longitude"
RAW = f"{HEADER}\n3.1,20,5,1,800,3,34.1,-118.2\n8.0,41,6.5,1.1,300,2.5,37.8,-122.3\n,,,,,,,\n"


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Data and two trained candidates (XGBoost, scikit-learn), once for the module."""
    import os

    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.stages.compare import compare
    from smlp.stages.data import generate
    from smlp.stages.train import train
    from smlp.store import open_store

    folder = tmp_path_factory.mktemp("serving")
    before = Path.cwd()
    os.chdir(folder)
    try:
        config = load_config(None, SMALL)
        store = open_store(config.store)
        backend = get_backend(config, store)
        generate(config, store)
        train(config, store, backend, ["xgboost", "sklearn-gbm"])
        compare(config, store, backend)
        yield folder
    finally:
        os.chdir(before)


def open_project(folder: Path, **overrides: Any) -> tuple[Any, Any, Any]:
    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.store import open_store

    config = load_config(None, {**SMALL, "store": str(folder / "smlp-artifacts"),
                                "backend.work_dir": str(folder / ".smlp" / "jobs"),
                                **overrides})
    store = open_store(config.store)
    return config, store, get_backend(config, store)


def start(folder: Path, variants: list[tuple[str, float]] | None = None, model: str | None = None,
          **overrides: Any) -> tuple[Any, Any, Any]:
    """The endpoint ``smlp deploy`` would serve, in a thread; returns (server, endpoint, store)."""
    from smlp.serving.app import build_app
    from smlp.serving.deploy import endpoint_spec
    from smlp.serving.local import load_endpoint
    from smlp.serving.server import ServerThread

    config, store, backend = open_project(folder, **overrides)
    spec = endpoint_spec(config, store, backend.name, model, variants, port=0)
    endpoint = load_endpoint(backend, spec)
    server = ServerThread(build_app(endpoint))
    server.start()
    return server, endpoint, store


@pytest.fixture(scope="module")
def served(project_dir: Path) -> Iterator[tuple[str, Any]]:
    server, endpoint, _ = start(project_dir, [("xgboost", 0.7), ("sklearn-gbm", 0.3)],
                                **{"endpoint.seed": 7})
    try:
        yield server.url, endpoint
    finally:
        server.stop()


def post(client: httpx.Client, body: bytes | str, content_type: str = "text/csv",
         **headers: str) -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    return client.post("/invocations", content=data,
                       headers={"Content-Type": content_type, **headers})


def features_file(folder: Path, rows: int = 300) -> Path:
    """The test split's rows without their label: SageMaker's CSV (no header)."""
    from smlp.manifest import load_manifest
    from smlp.store import LocalStore

    store = LocalStore(folder / "smlp-artifacts")
    test = load_manifest(store).require_data().splits["test"].shards[0]
    lines = Path(test.uri).read_text().splitlines()[:rows]
    target = folder / "features.csv"
    target.write_text("".join(line.split(",", 1)[1] + "\n" for line in lines))
    return target


def transform_output(folder: Path, model: str, source: Path) -> bytes:
    """The predictions ``smlp transform --model MODEL --input SOURCE`` writes for the file,
    one per line (its named output's header line and ID column, when it writes them, are
    not part of a container's response)."""
    from smlp.stages.transform import transform

    config, store, backend = open_project(folder)
    out = folder / f"transform-{model}-{source.stem}"
    transform(config, store, backend, str(source), str(out), model)
    lines = (out / f"{source.name}.out").read_text().splitlines()
    if lines and "prediction" in lines[0].split(","):
        at = lines[0].split(",").index("prediction")
        lines = [line.split(",")[at] for line in lines[1:]]
    return "".join(f"{line}\n" for line in lines).encode()


@pytest.mark.parametrize("variant", ["xgboost", "sklearn-gbm"])
def test_endpoint_returns_what_transform_returns(project_dir: Path, served: tuple[str, Any],
                                                 variant: str) -> None:
    url, _ = served
    rows = features_file(project_dir)
    raw = project_dir / "raw.csv"
    raw.write_text(RAW)
    with httpx.Client(base_url=url) as client:
        for source in (rows, raw):
            expected = transform_output(project_dir, variant, source)
            answer = post(client, source.read_bytes(),
                          **{"X-Amzn-SageMaker-Target-Variant": variant})
            assert answer.status_code == 200, answer.text
            assert answer.headers["X-Amzn-Invoked-Production-Variant"] == variant
            assert answer.content == expected
            one = post(client, source.read_text().splitlines(keepends=True)[0] if source is rows
                       else "\n".join(RAW.splitlines()[:2]) + "\n",
                       **{"X-Amzn-SageMaker-Target-Variant": variant})
            assert one.content == expected.splitlines(keepends=True)[0]


def test_json_and_jsonlines_in_and_out(project_dir: Path, served: tuple[str, Any]) -> None:
    url, _ = served
    text = features_file(project_dir, 5).read_text()
    rows = [[float(x) for x in line.split(",")] for line in text.splitlines()]
    pinned = {"X-Amzn-SageMaker-Target-Variant": "xgboost"}
    with httpx.Client(base_url=url) as client:
        csv = post(client, text, **pinned).text.split()
        as_json = post(client, json.dumps({"instances": rows}), "application/json",
                       Accept="application/json", **pinned)
        assert as_json.headers["content-type"].startswith("application/json")
        assert [p["score"] for p in as_json.json()["predictions"]] == [float(v) for v in csv]
        lines = "\n".join(json.dumps({"features": row}) for row in rows)
        as_lines = post(client, lines, "application/jsonlines",
                        Accept="application/jsonlines", **pinned)
        assert [json.loads(x)["score"] for x in as_lines.text.splitlines()] == \
            [float(v) for v in csv]
        named = [dict(zip(HEADER.split(","), [3.1, 20, 5, 1, 800, 3, 34.1, -118.2],
                          strict=True))]
        raw_csv = post(client, "\n".join(RAW.splitlines()[:2]) + "\n", **pinned).text
        as_named = post(client, json.dumps({"instances": named}), "application/json",
                        **pinned)
        assert as_named.text == raw_csv  # Accept missing: text/csv, as the container does


@pytest.mark.parametrize(("body", "headers", "status", "expected"), [
    ("1,2,3\n", {}, 400, "expected 8 feature columns"),
    ("1,2,x,4,5,6,7,8\n", {}, 400, "expected a number, got 'x'"),
    ("1,2,3,4,5,6,7,8\n", {"X-Amzn-SageMaker-Target-Variant": "nope"}, 400, "no variant named"),
    ("1,2,3,4,5,6,7,8\n", {"Content-Type": "application/x-parquet"}, 415, "not supported"),
    ("1,2,3,4,5,6,7,8\n", {"Accept": "application/x-protobuf"}, 406, "not supported"),
    ("1,2,3,4,5,6,7,8\n" * 800_000, {}, 413, "6 MB"),
    ('{"instances": [[1, 2]]}', {"Content-Type": "application/json"}, 400,
     "expected 8 features, got 2"),
    ("{not json", {"Content-Type": "application/json"}, 400, "not valid application/json"),
    (f"{HEADER}\nlots,20,5,1,800,3,34.1,-118.2\n", {}, 400, "MedInc"),
])
def test_bad_input_is_a_4xx_and_the_server_keeps_serving(
        served: tuple[str, Any], body: str, headers: dict[str, str], status: int,
        expected: str) -> None:
    url, _ = served
    with httpx.Client(base_url=url) as client:
        answer = client.post("/invocations", content=body.encode(),
                             headers={"Content-Type": "text/csv", **headers})
        assert answer.status_code == status, answer.text
        assert expected in answer.text
        assert len(answer.text.strip().splitlines()) == 1
        assert client.get("/ping").status_code == 200
        good = post(client, "1,2,3,4,5,6,7,8\n")
        assert good.status_code == 200 and len(good.text.split()) == 1


def test_variant_weights_and_target_header(served: tuple[str, Any]) -> None:
    url, endpoint = served
    counts: Counter[str] = Counter()
    with httpx.Client(base_url=url) as client:
        for _ in range(2000):
            counts[post(client, "1,2,3,4,5,6,7,8\n").headers[
                "X-Amzn-Invoked-Production-Variant"]] += 1
        assert abs(counts["xgboost"] / 2000 - 0.7) <= 0.05, counts
        assert abs(counts["sklearn-gbm"] / 2000 - 0.3) <= 0.05, counts
        targeted = {post(client, "1,2,3,4,5,6,7,8\n",
                         **{"X-Amzn-SageMaker-Target-Variant": "sklearn-gbm"}).headers[
                             "X-Amzn-Invoked-Production-Variant"] for _ in range(50)}
        assert targeted == {"sklearn-gbm"}
        # UpdateEndpointWeightsAndCapacities, locally: all traffic to one variant.
        described = client.post("/smlp/weights", json={"xgboost": 0, "sklearn-gbm": 1}).json()
        assert {v["name"]: v["weight"] for v in described["variants"]} == \
            {"xgboost": 0.0, "sklearn-gbm": 1.0}
        after = {post(client, "1,2,3,4,5,6,7,8\n").headers[
            "X-Amzn-Invoked-Production-Variant"] for _ in range(100)}
        assert after == {"sklearn-gbm"}
        client.post("/smlp/weights", json={"xgboost": 0.7, "sklearn-gbm": 0.3})
        stats = {v["name"]: v for v in client.get("/smlp/endpoint").json()["variants"]}
    assert stats["xgboost"]["invocations"] >= counts["xgboost"]
    assert stats["sklearn-gbm"]["latency_ms_p99"] is not None


def test_data_capture_in_sagemaker_format(project_dir: Path) -> None:
    server, endpoint, store = start(project_dir, model="xgboost", **{
        "endpoint.data_capture.sampling_percentage": 100, "endpoint.name": "captured"})
    bodies = [f"{i},2,3,4,5,6,7,8\n" for i in range(5)]
    try:
        with httpx.Client(base_url=server.url) as client:
            answers = [post(client, body).text for body in bodies]
            post(client, "1,2\n")  # refused: not captured
    finally:
        server.stop()  # shutdown flushes what is buffered
    keys = store.list("datacapture/captured/xgboost/")
    assert keys and all(k.endswith(".jsonl") for k in keys)
    parts = keys[0].split("/")
    assert len(parts) == 8 and parts[3].isdigit() and len(parts[3]) == 4  # yyyy/mm/dd/hh
    records = [json.loads(line) for key in keys
               for line in store.read_bytes(key).decode().splitlines()]
    assert len(records) == len(bodies)
    first = records[0]
    assert first["eventVersion"] == "0"
    assert set(first["eventMetadata"]) == {"eventId", "inferenceTime"}
    inp, out = first["captureData"]["endpointInput"], first["captureData"]["endpointOutput"]
    assert (inp["mode"], inp["encoding"], inp["observedContentType"]) == \
        ("INPUT", "CSV", "text/csv")
    assert (out["mode"], out["encoding"]) == ("OUTPUT", "CSV")
    assert sorted(r["captureData"]["endpointInput"]["data"] for r in records) == sorted(bodies)
    assert sorted(r["captureData"]["endpointOutput"]["data"] for r in records) == \
        sorted(answers)


def test_answers_match_the_containers_serving_code(project_dir: Path, served: tuple[str, Any],
                                                   tmp_path: Path) -> None:
    """The same rows through the containers' own serving code (tests/reference: the XGBoost
    container's predict mirrored, the scikit-learn container's real sagemaker-inference
    Transformer running training_scripts/sklearn_gbm.py): the same numbers."""
    import shutil

    import numpy as np

    from smlp.algorithms.entry_points import scripts_dir
    from smlp.manifest import load_manifest
    from tests.reference.sklearn_container import SklearnServing
    from tests.reference.xgboost_container import XGBoostServing

    url, _ = served
    _, store, backend = open_project(project_dir)
    candidates = load_manifest(store).require_candidates()
    body = features_file(project_dir, 50).read_bytes()

    def model_dir(name: str) -> Path:
        c = candidates[name]
        return backend.model_dir(c.model.uri, c.model.sha256, c.algo)

    code = tmp_path / "code"
    code.mkdir()
    for script in scripts_dir().glob("*.py"):
        shutil.copy(script, code / script.name)
    with httpx.Client(base_url=url) as client:
        ours = {name: post(client, body, **{"X-Amzn-SageMaker-Target-Variant": name}).text
                for name in ("xgboost", "sklearn-gbm")}
    theirs_xgb = XGBoostServing(model_dir("xgboost")).invoke(body, "text/csv", "text/csv")
    with SklearnServing(code, model_dir("sklearn-gbm"), "sklearn_gbm.py") as container:
        theirs_sk = container.invoke(body, "text/csv", "text/csv")

    def values(text: str | bytes, dtype: Any) -> Any:
        raw = text.decode() if isinstance(text, bytes) else text
        return np.array([float(v) for v in raw.split()], dtype=dtype)

    np.testing.assert_array_equal(values(ours["xgboost"], np.float32),
                                  values(theirs_xgb, np.float32))
    np.testing.assert_array_equal(values(ours["sklearn-gbm"], np.float64),
                                  values(theirs_sk, np.float64))
    assert len(values(theirs_sk, np.float64)) == 50


def test_a_binary_classifier_answers_the_containers_probability(project: Path) -> None:
    """For a classifier the endpoint answers what SageMaker's XGBoost endpoint answers, P(class
    1) per record; ``smlp transform`` writes the label that probability gives (P > 0.5)."""
    import numpy as np

    from smlp.manifest import load_manifest
    from tests.integration.cli_helpers import smlp, write_small_config
    from tests.reference.xgboost_container import XGBoostServing

    write_small_config(project)
    smlp("data", "generate", "--problem-type", "binary")
    smlp("train", "--algo", "xgboost")
    rows = features_file(project, 40)
    labels = transform_output(project, "xgboost", rows).decode().split()
    server, _, store = start(project, model="xgboost")
    try:
        with httpx.Client(base_url=server.url) as client:
            answer = post(client, rows.read_bytes())
            as_json = post(client, rows.read_bytes(), Accept="application/json").json()
    finally:
        server.stop()
    assert answer.status_code == 200, answer.text
    probabilities = np.array([float(v) for v in answer.text.split()], dtype=np.float32)
    assert [p["score"] for p in as_json["predictions"]] == [float(v) for v in answer.text.split()]
    _, _, backend = open_project(project)
    candidate = load_manifest(store).require_candidates()["xgboost"]
    model_dir = backend.model_dir(candidate.model.uri, candidate.model.sha256, "xgboost")
    theirs = XGBoostServing(model_dir).invoke(rows.read_bytes(), "text/csv", "text/csv")
    np.testing.assert_array_equal(
        probabilities, np.array([float(v) for v in theirs.split()], dtype=np.float32))
    classes = load_manifest(store).require_data()
    schema = json.loads(Path(classes.schema_.uri).read_text())
    assert labels == [schema["classes"][int(p > 0.5)] for p in probabilities]
    assert len(set(labels)) == 2
