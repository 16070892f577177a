"""The endpoint's pieces without a server: payloads in and out, variant routing, capture."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from smlp.data.schema import CategoricalFeature, NumericFeature, Schema
from smlp.errors import ConfigError
from smlp.serving.capture import CaptureSettings, DataCapture, capture_record
from smlp.serving.payload import (
    Decoder,
    PayloadError,
    check_content_type,
    check_size,
    choose_accept,
    encode,
)
from smlp.serving.variants import Router, Variant

SCHEMA = Schema(target="y", features=[
    NumericFeature(name="a", fill=1.5, mean=1.0, scale=2.0),
    CategoricalFeature(name="c", categories=["x", "y"]),
])


def status_of(call: object) -> tuple[int, str]:
    with pytest.raises(PayloadError) as caught:
        call()  # type: ignore[operator]
    return caught.value.status, str(caught.value)


@pytest.mark.parametrize(("header", "expected"), [
    (None, "text/csv"), ("", "text/csv"), ("*/*", "text/csv"),
    ("application/json", "application/json"), ("application/jsonlines", "application/jsonlines"),
    ("text/html, application/json;q=0.9", "application/json"),
    ("TEXT/CSV; charset=utf-8", "text/csv"),
])
def test_accept_negotiation(header: str | None, expected: str) -> None:
    assert choose_accept(header) == expected


def test_unsupported_types_and_size() -> None:
    assert status_of(lambda: choose_accept("application/x-protobuf"))[0] == 406
    assert status_of(lambda: check_content_type("application/x-npy"))[0] == 415
    assert status_of(lambda: check_content_type(None))[0] == 415
    assert check_content_type("text/csv; charset=utf-8") == "text/csv"
    check_size(6 * 1024 * 1024)
    assert status_of(lambda: check_size(6 * 1024 * 1024 + 1)) == (
        413, "payload of 6,291,457 bytes is over the 6,291,456-byte (6 MB) limit; send fewer "
        "rows per request")


def test_sagemaker_csv_reads_as_the_containers_decoder_does() -> None:
    """Headerless numeric CSV: the same matrix as the scikit-learn container's toolkit
    (sagemaker_inference.decoder) reads, in float32; an empty cell is a missing value."""
    from sagemaker_inference import decoder

    body = "1.0,2.5,-3.0\n4e-3,5.25,6.0"
    ours = Decoder(3).decode(body.encode(), "text/csv")
    theirs = decoder.decode(body, "text/csv")
    np.testing.assert_array_equal(ours, theirs.astype(np.float32))
    assert ours.dtype == np.float32
    assert np.isnan(Decoder(3).decode(b"1,,3\n", "text/csv")[0, 1])
    assert Decoder(3).decode(b"", "text/csv").shape == (0, 3)


@pytest.mark.parametrize(("body", "message"), [
    (b"1,2,3\n1,2\n", "request body: line 2: expected 3 feature columns, got 2"),
    (b"1,2\n", "request body: line 1: expected 3 feature columns, got 2"),
    (b"1,b,3\n", "request body: column 1: expected a number, got 'b'"),
])
def test_bad_csv_is_a_400_naming_where(body: bytes, message: str) -> None:
    assert status_of(lambda: Decoder(3).decode(body, "text/csv")) == (400, message)


def test_raw_rows_with_a_header_go_through_the_schema() -> None:
    decoder = Decoder(3, SCHEMA)
    got = decoder.decode(b"c,a,extra\ny,3,zz\n,,\n", "text/csv")
    np.testing.assert_array_equal(got, SCHEMA.encode(pa.table({
        "a": pa.array([3.0, None]), "c": pa.array(["y", None])})))
    assert got[1, 0] == pytest.approx((1.5 - 1.0) / 2.0)  # the recorded fill value
    status, message = status_of(lambda: decoder.decode(b"a,c\nlots,x\n", "text/csv"))
    assert status == 400 and "column 0 (a): expected a number, got 'lots'" in message
    status, message = status_of(lambda: decoder.decode(b"a,b\n1,2\n", "text/csv"))
    assert status == 400 and "missing column(s) c" in message


@pytest.mark.parametrize(("body", "content_type"), [
    ('{"instances": [[1, 2, 3], [4, 5, 6]]}', "application/json"),
    ("[[1, 2, 3], [4, 5, 6]]", "application/json"),
    ('{"instances": [{"features": [1, 2, 3]}, {"features": [4, 5, 6]}]}', "application/json"),
    ("[1, 2, 3]\n[4, 5, 6]\n", "application/jsonlines"),
    ('{"features": [1, 2, 3]}\n\n{"features": [4, 5, 6]}', "application/jsonlines"),
])
def test_json_instance_forms(body: str, content_type: str) -> None:
    got = Decoder(3).decode(body.encode(), content_type)
    np.testing.assert_array_equal(got, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))


def test_json_single_row_named_columns_and_errors() -> None:
    np.testing.assert_array_equal(Decoder(3).decode(b"[1, 2, null]", "application/json"),
                                  np.array([[1, 2, np.nan]], dtype=np.float32))
    named = Decoder(3, SCHEMA).decode(b'{"instances": [{"a": 3, "c": "x"}]}',
                                      "application/json")
    np.testing.assert_array_equal(named, [[1.0, 1.0, 0.0]])
    for body, message in [
        (b'{"rows": []}', '"instances"'),
        (b"[[1, 2]]", "instance 1: expected 3 features, got 2"),
        (b'[[1, "two", 3]]', "instance 1: feature 1: expected a number, got 'two'"),
        (b'[{"a": 1}]', "named columns need the recorded schema"),
        (b"[1, 2", "not valid application/json"),
    ]:
        status, text = status_of(lambda body=body: Decoder(3).decode(body, "application/json"))
        assert status == 400 and message in text, text


def test_responses_use_transforms_text_in_every_format() -> None:
    predictions = np.array([0.1, 2.5, np.nan], dtype=np.float32)
    expected = pa.array(predictions).cast(pa.string()).to_pylist()  # what transform writes
    assert encode(predictions, "text/csv").decode().splitlines() == expected
    as_json = json.loads(encode(predictions, "application/json"))
    assert as_json == {"predictions": [{"score": 0.1}, {"score": 2.5}, {"score": None}]}
    lines = encode(predictions[:2], "application/jsonlines").decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"score": 0.1}, {"score": 2.5}]
    assert encode(predictions.reshape(-1, 1), "text/csv") == encode(predictions, "text/csv")


def variant(name: str, weight: float) -> Variant:
    return Variant(name=name, weight=weight, predict=lambda x: x, model=name)


def test_router_splits_traffic_by_weight_and_honours_the_target() -> None:
    router = Router([variant("a", 3), variant("b", 1), variant("c", 0)], seed=1)
    counts = Counter(router.pick().name for _ in range(2000))
    assert abs(counts["a"] / 2000 - 0.75) <= 0.05 and abs(counts["b"] / 2000 - 0.25) <= 0.05
    assert counts["c"] == 0
    assert router.pick("c").name == "c"
    with pytest.raises(KeyError):
        router.pick("d")
    router.update_weights({"a": 0, "c": 1})
    assert {router.pick().name for _ in range(200)} == {"b", "c"}
    first, second = (Router([variant("a", 3), variant("b", 1)], seed=9) for _ in range(2))
    assert [first.pick().name for _ in range(50)] == [second.pick().name for _ in range(50)]


def test_router_refuses_bad_weights() -> None:
    with pytest.raises(ConfigError, match="add up to 0"):
        Router([variant("a", 0)])
    with pytest.raises(ConfigError, match="named twice"):
        Router([variant("a", 1), variant("a", 1)])
    router = Router([variant("a", 1)])
    with pytest.raises(ConfigError, match="'z' is not on this endpoint"):
        router.update_weights({"z": 1})
    with pytest.raises(ConfigError, match=">= 0"):
        router.update_weights({"a": -1})


def test_capture_record_format() -> None:
    settings = CaptureSettings(sampling_percentage=100)
    record = capture_record(b"1,2\n", "text/csv", b'{"predictions": []}', "application/json",
                            settings, when=0, event_id="e1")
    assert record == {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                              "data": "1,2\n", "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                               "data": '{"predictions": []}', "encoding": "JSON"}},
        "eventMetadata": {"eventId": "e1", "inferenceTime": "1970-01-01T00:00:00Z"},
        "eventVersion": "0"}
    binary = capture_record(b"\x00\x01", "application/x-npy", b"", "text/csv",
                            CaptureSettings(sampling_percentage=1, capture_output=False))
    assert binary["captureData"] == {"endpointInput": {
        "observedContentType": "application/x-npy", "mode": "INPUT", "data": "AAE=",
        "encoding": "BASE64"}}


def test_capture_samples_and_writes_hourly_jsonl(tmp_path) -> None:
    from smlp.store import LocalStore

    store = LocalStore(tmp_path)
    capture = DataCapture(store, "ep", CaptureSettings(sampling_percentage=30), seed=3)
    kept = sum(capture.offer("v1", b"1\n", "text/csv", b"2\n", "text/csv")
               for _ in range(2000))
    assert abs(kept / 2000 - 0.30) <= 0.05
    capture.close()
    [key] = capture.written
    assert key.startswith("datacapture/ep/v1/") and key.endswith(".jsonl")
    assert len(key.split("/")) == 8
    lines = store.read_bytes(key).decode().splitlines()
    assert len(lines) == kept
    off = DataCapture(store, "ep", CaptureSettings(sampling_percentage=0))
    assert not off.offer("v1", b"1\n", "text/csv", b"2\n", "text/csv")


def test_control_routes_answer_loopback_only() -> None:
    """/smlp/weights and /smlp/stop refuse a client that is not this machine, even though
    /invocations answers it (the app called in-process, as from 10.0.0.5 or 127.0.0.1)."""
    import asyncio

    import httpx

    from smlp.serving.app import Endpoint, build_app

    endpoint = Endpoint("ep", Router([Variant("v", 1, lambda x: np.zeros(len(x)), "m")]),
                        Decoder(2))
    app = build_app(endpoint)

    async def calls(host: str) -> list[int]:
        transport = httpx.ASGITransport(app=app, client=(host, 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://ep") as client:
            answer = await client.post("/invocations", content=b"1,2\n",
                                       headers={"Content-Type": "text/csv"})
            assert answer.text == "0\n"  # Arrow's text for 0.0, as transform writes it
            weights = await client.post("/smlp/weights", json={"v": 2})
            stop = await client.post("/smlp/stop")
            return [weights.status_code, stop.status_code]

    assert asyncio.run(calls("10.0.0.5")) == [403, 403]
    assert endpoint.router.variants["v"].weight == 1
    assert asyncio.run(calls("127.0.0.1")) == [200, 409]  # 409: not started by smlp deploy
    assert endpoint.router.variants["v"].weight == 2


def test_invoke_cuts_requests_at_the_limit_and_repeats_the_header(tmp_path) -> None:
    from smlp.serving.deploy import request_bodies

    raw = tmp_path / "raw.csv"
    raw.write_text("a,c\n" + "".join(f"{i},x\n" for i in range(100)))
    pieces = list(request_bodies(raw, 64))
    assert all(len(body) <= 64 and body.startswith(b"a,c\n") for body, _ in pieces)
    assert sum(rows for _, rows in pieces) == 100
    assert b"".join(body[4:] for body, _ in pieces).decode() == \
        "".join(f"{i},x\n" for i in range(100))
    plain = tmp_path / "plain.csv"
    plain.write_text("1,2\n3,4")  # no final newline
    assert list(request_bodies(plain, 1000)) == [(b"1,2\n3,4\n", 2)]
    with pytest.raises(PayloadError):
        list(request_bodies(plain, 3))  # one row longer than a request may be


def test_class_scores_are_one_record_each() -> None:
    """multi:softprob answers a row of class probabilities per record: one CSV line of
    values (the containers' CSV encoders), a list under "score" in JSON (XGBoost's
    encode_predictions_as_json)."""
    scores = np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)
    assert encode(scores, "text/csv") == b"0.25,0.75\n0.5,0.5\n"
    assert json.loads(encode(scores, "application/json")) == {
        "predictions": [{"score": [0.25, 0.75]}, {"score": [0.5, 0.5]}]}
    assert [json.loads(x) for x in encode(scores, "application/jsonlines").splitlines()] == [
        {"score": [0.25, 0.75]}, {"score": [0.5, 0.5]}]


def test_few_rows_parse_to_arrows_float32_exactly() -> None:
    """The quick path for small plain-number payloads gives the float32 Arrow's CSV parse
    (transform's) gives, including a decimal whose float64 is a float32 midpoint (handed to
    Arrow), and leaves anything that is not a plain decimal to Arrow."""
    import pyarrow.csv as pcsv

    from smlp.serving.quick import few_plain_rows as _few_plain_rows

    def arrow(body: bytes, width: int) -> np.ndarray:
        names = [f"c{i}" for i in range(width)]
        table = pcsv.read_csv(pa.py_buffer(body), read_options=pcsv.ReadOptions(
            column_names=names), convert_options=pcsv.ConvertOptions(
            column_types={n: pa.float32() for n in names}))
        return np.column_stack([c.to_numpy() for c in table.columns])

    rng = np.random.default_rng(0)
    values = rng.normal(size=4000) * 10.0 ** rng.integers(-30, 30, 4000)
    digits = rng.integers(1, 20, 4000)
    rows = [b",".join(b"%.*g" % (int(k), v) for v, k in zip(values[i:i + 8], digits[i:i + 8],
                                                             strict=True))
            for i in range(0, 4000, 8)]
    for row in rows:
        quick = _few_plain_rows(row + b"\n", 8)
        assert quick is not None
        np.testing.assert_array_equal(quick, arrow(row + b"\n", 8))
    midpoint = b"1.00000005960464477539062500000000000001\n"  # float64: 1 + 2**-24 exactly
    assert _few_plain_rows(midpoint, 1) is None
    assert Decoder(1).decode(midpoint, "text/csv")[0, 0] == np.nextafter(
        np.float32(1), np.float32(2))
    for other in (b"nan\n", b"1_0\n", b'"1"\n', b"1,\n", b"1e40\n", b" 1\n"):
        assert _few_plain_rows(other, 1) is None, other


def test_csv_answer_is_the_same_text_for_few_and_many_rows() -> None:
    values = (np.random.default_rng(1).normal(size=300) * 1e3).astype(np.float32)
    expected = "".join(f"{t}\n" for t in pa.array(values).cast(pa.string()).to_pylist())
    assert encode(values, "text/csv").decode() == expected  # Arrow-built lines
    assert encode(values[:5], "text/csv").decode() == \
        "".join(expected.splitlines(keepends=True)[:5])  # joined in Python


QUICK_BODIES = [
    b"1,2,3\n",
    b"1,2,3",  # no final newline
    b"1,,3\n,,\n",  # empty fields: missing values (NaN), as Arrow reads them
    b"1e-7,-0,+.5\n1.,.5e1,00012\r\n",
    b"268417080,16777217,-16777219\n",  # integers on float32 midpoints: ties to even
    b"3.4e38,1.1755e-38,-1.23456789e-30\n",
    b"0.1,0.2,0.30000000000000004\n" * 40,
]
NOT_QUICK_BODIES = [
    b"1.00000005960464477539062500000000000001,0,0\n",  # rounded onto a float32 midpoint
    b"1e-40,0,0\n",  # a float32 subnormal
    b"1e39,0,0\n", b"3.4028235e38,0,0\n",  # over float32's largest (Arrow rounds it down)
    b"nan,1,2\n", b" 1,2,3\n", b'"1",2,3\n', b"1,2,3\n\n4,5,6\n",
]


def bits(matrix: np.ndarray) -> bytes:
    return np.ascontiguousarray(matrix, dtype=np.float32).tobytes()


def test_quick_csv_path_gives_arrows_matrix_bit_for_bit() -> None:
    """One-row and few-row payloads skip Arrow's reader but give its float32 values (NaN for
    an empty field, ties to even on a midpoint) bit for bit; what the quick path is unsure of
    goes to Arrow."""
    from smlp.serving.quick import few_plain_rows

    decoder = Decoder(3)
    for body in QUICK_BODIES:
        assert few_plain_rows(body, 3) is not None, body
        assert bits(decoder.decode(body, "text/csv")) == bits(decoder._arrow_csv(body)), body
    for body in NOT_QUICK_BODIES:
        assert few_plain_rows(body, 3) is None, body
        assert bits(decoder.decode(body, "text/csv")) == bits(decoder._arrow_csv(body)), body
    assert decoder.decode(b"1e-40,0,0\n", "text/csv")[0, 0] == np.float32(1e-40)


@pytest.mark.parametrize("body", [
    b"1,2\n", b"1,2,3,4\n", b"1,2,3\n1,2\n", b"1,2,3\n1,2,3,4\n", b"1,b,3\n", b"1,2,3\n1,,x\n",
    b"1e,2,3\n", b"1,2,3\n,\n", b"1_0,2,3\n",
])
def test_quick_csv_path_refuses_as_arrow_does(body: bytes) -> None:
    """A misfit row is never answered by the quick path: the 400 and its message are the
    ones the general (Arrow) path gives for the same body."""
    from smlp.serving.quick import few_plain_rows

    decoder = Decoder(3)
    assert few_plain_rows(body, 3) is None
    assert status_of(lambda: decoder.decode(body, "text/csv")) == \
        status_of(lambda: decoder._arrow_csv(body))


def test_quick_text_is_arrows_cast_text() -> None:
    """A few predictions are written by numpy's shortest-digits formatter, to the text Arrow's
    cast writes (what transform writes): random float32 and float64 bit patterns, the
    positional/scientific boundaries (1e-6, 1e10) from both sides, zeros and specials."""
    from smlp.number_text import QUICK_TEXT_VALUES, arrow_texts

    rng = np.random.default_rng(3)
    singles = rng.integers(0, 2**32, 6000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    doubles = rng.integers(0, 2**63, 3000, dtype=np.uint64).view(np.float64)
    edges = np.array([10.0 ** e for e in range(-8, 12)] + [0.0, -0.0, np.nan, -np.nan, np.inf,
                                                           -np.inf, 1e-5, 1e9, 0.19283637])
    for dtype in (np.float32, np.float64):
        near = edges.astype(dtype)
        near = np.concatenate([near, np.nextafter(near, dtype(np.inf)),
                               np.nextafter(near, dtype(-np.inf)), -near])
        typed = [near, singles if dtype is np.float32 else doubles,
                 (rng.normal(size=3000) * 10.0 ** rng.integers(-9, 12, 3000)).astype(dtype)]
        for values in typed:
            for at in range(0, len(values), QUICK_TEXT_VALUES):
                chunk = values[at:at + QUICK_TEXT_VALUES]
                assert arrow_texts(chunk) == pa.array(chunk).cast(pa.string()).to_pylist()
    assert arrow_texts(np.zeros(QUICK_TEXT_VALUES + 1, dtype=np.float32)) is None
    assert arrow_texts(np.array([1, 2])) is None  # integers: Arrow's cast
    assert encode(np.array([1e-7, 0.5], dtype=np.float32), "text/csv") == b"1e-7\n0.5\n"


def test_invocations_answer_with_the_headers_starlette_wrote() -> None:
    """/invocations is a plain ASGI handler: the same statuses, content types (text/* with
    its charset), lengths and variant header starlette's Response sent; other methods and
    routes still go through starlette."""
    import asyncio

    import httpx

    from smlp.serving.app import Endpoint, build_app

    endpoint = Endpoint("ep", Router([Variant("v", 1, lambda x: x[:, 0] * 2, "m")]),
                        Decoder(2))
    app = build_app(endpoint)

    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://ep") as client:
            csv = {"Content-Type": "text/csv"}
            return [
                await client.post("/invocations", content=b"1.5,2\n", headers=csv),
                await client.post("/invocations", content=b"1.5,2\n",
                                  headers={**csv, "Accept": "application/json"}),
                await client.post("/invocations", content=b" \n", headers=csv),
                await client.post("/invocations", content=b"1,2,3\n", headers=csv),
                await client.post("/invocations", content=b"1,2\n",
                                  headers={"Content-Type": "image/png"}),
                await client.post("/invocations", content=b"1,2\n",
                                  headers={**csv, "X-Amzn-SageMaker-Target-Variant": "w"}),
                await client.get("/invocations"),
                await client.get("/ping"),
            ]

    ok, as_json, empty, wide, png, unknown, get, ping = asyncio.run(calls())
    assert (ok.status_code, ok.content, ok.headers["content-type"]) == (
        200, b"3\n", "text/csv; charset=utf-8")
    assert ok.headers["content-length"] == "2"
    assert ok.headers["x-amzn-invoked-production-variant"] == "v"
    assert as_json.headers["content-type"] == "application/json"
    assert json.loads(as_json.content) == {"predictions": [{"score": 3}]}
    assert empty.status_code == 204 and "content-type" not in empty.headers
    assert "content-length" not in empty.headers
    assert empty.headers["x-amzn-invoked-production-variant"] == "v"
    assert (wide.status_code, wide.headers["content-type"]) == (400, "text/plain; charset=utf-8")
    assert wide.text == "request body: line 1: expected 2 feature columns, got 3\n"
    assert wide.headers["x-amzn-invoked-production-variant"] == "v"
    assert png.status_code == 415 and png.text.startswith("Content-Type image/png")
    assert unknown.status_code == 400 and "x-amzn-invoked-production-variant" not in \
        unknown.headers
    assert (get.status_code, ping.status_code) == (405, 200)
    stats = endpoint.router.variants["v"].stats
    assert (stats.invocations, stats.errors_4xx, stats.rows) == (5, 2, 2)  # not "unknown"


def test_a_client_that_hangs_up_gets_no_answer_and_is_not_counted() -> None:
    import asyncio

    from smlp.serving.app import Endpoint, build_app

    endpoint = Endpoint("ep", Router([Variant("v", 1, lambda x: x[:, 0], "m")]), Decoder(2))
    app = build_app(endpoint)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": [
        (b"content-type", b"text/csv")], "query_string": b"", "root_path": ""}
    asyncio.run(app(scope, receive, send))
    assert sent == []
    assert endpoint.router.variants["v"].stats.invocations == 0
