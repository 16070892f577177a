"""How fast the local endpoint answers, against a bare ASGI app around the same model.

Both servers run the same way (uvicorn, one process, 127.0.0.1) in a child process, one at a
time; the load comes from this process over raw keep-alive HTTP/1.1 connections (one
outstanding request per connection), so the client costs the same for both.

- single-row requests at concurrency 1 and 8: p50/p99 latency and requests/s, smlp's
  endpoint (``smlp.serving``: starlette, variant routing, payload checks, the same
  ``predict_fn`` as transform) vs the reference: a bare ASGI callable that splits the CSV
  line, calls ``Booster.inplace_predict`` and writes the number.
  Goals: throughput >= 0.8x the reference's; p99 < 20 ms at concurrency 1.
- 1,000-row requests: the endpoint's cost per row vs ``smlp transform``'s on a file of the
  same rows. Goal: within 1.5x. Transform predicts with every core (XGBoost's threads); the
  endpoint predicts each request on one thread, as the XGBoost container serves
  (``serve_utils``: ``nthread`` 1), and uses the cores by answering requests side by side, as
  Batch Transform drives a container (MaxConcurrentTransforms = workers = CPUs). So the goal
  is judged with one request in flight per core; one at a time is printed too.

    python benchmarks/serve.py [--rows 20000] [--requests 1000] [--big-requests 100] [--repeat 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# -- the project: data and a real XGBoost candidate ----------------------------------------------
def make_project(folder: Path, rows: int) -> None:
    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.stages.data import generate
    from smlp.stages.train import train
    from smlp.store import open_store

    os.chdir(folder)
    config = load_config(None, {"data.rows": rows})
    store = open_store(config.store)
    backend = get_backend(config, store)
    generate(config, store)
    train(config, store, backend, ["xgboost"])


def feature_rows(folder: Path) -> list[bytes]:
    """The test split's rows without the label (SageMaker CSV), as request lines."""
    from smlp.manifest import load_manifest
    from smlp.store import LocalStore

    store = LocalStore(folder / "smlp-artifacts")
    test = load_manifest(store).require_data().splits["test"]
    return [line.split(b",", 1)[1] + b"\n"
            for shard in test.shards for line in Path(shard.uri).read_bytes().splitlines()]


# -- the servers (child process) -------------------------------------------------------------
def smlp_app(folder: Path) -> Any:
    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.serving.app import build_app
    from smlp.serving.deploy import endpoint_spec
    from smlp.serving.local import load_endpoint
    from smlp.store import open_store

    os.chdir(folder)
    config = load_config(None)
    store = open_store(config.store)
    backend = get_backend(config, store)
    spec = endpoint_spec(config, store, backend.name, "xgboost", port=0)
    return build_app(load_endpoint(backend, spec))


def bare_app(folder: Path) -> Any:
    """The reference: the least an ASGI app can do to answer one CSV row with the model."""
    import numpy as np
    import xgboost

    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.manifest import load_manifest
    from smlp.store import open_store

    os.chdir(folder)
    config = load_config(None)
    store = open_store(config.store)
    backend = get_backend(config, store)
    candidate = load_manifest(store).require_candidates()["xgboost"]
    model_dir = backend.model_dir(candidate.model.uri, candidate.model.sha256, "xgboost")
    booster = xgboost.Booster()
    booster.load_model(bytearray((model_dir / "xgboost-model").read_bytes()))
    booster.set_param({"nthread": 1})  # as the endpoint does: requests run side by side
    width = booster.num_features()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/ping":
            answer = b""
        else:
            text = body.strip().replace(b"\n", b",").decode()
            features = np.fromstring(text, sep=",", dtype=np.float32).reshape(-1, width)
            predictions = booster.inplace_predict(features)
            answer = "".join(f"{float(v)}\n" for v in predictions).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/csv"),
                                (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    return app


def serve(kind: str, folder: Path, port: int) -> None:
    import uvicorn

    app = smlp_app(folder) if kind == "smlp" else bare_app(folder)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Server:
    def __init__(self, kind: str, folder: Path) -> None:
        from smlp.serving.server import free_port

        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--project", str(folder),
             "--port", str(self.port)], cwd=ROOT)
        deadline = time.monotonic() + 300
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{kind} server did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


# -- the load (this process): raw keep-alive HTTP/1.1 ---------------------------------------
def request_bytes(body: bytes) -> bytes:
    return (b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
            b"Accept: text/csv\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


async def _connection(port: int, bodies: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in bodies:
            started = time.perf_counter()
            writer.write(request_bytes(body))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"HTTP {status}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def load(port: int, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    per = [bodies[i::concurrency] for i in range(concurrency)]
    latencies: list[float] = []

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(_connection(port, part, latencies) for part in per))
        return time.perf_counter() - started

    asyncio.run(_warm(port, bodies[:20]))
    seconds = asyncio.run(run())
    ordered = sorted(latencies)
    return {"rps": len(bodies) / seconds, "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "seconds": seconds, "requests": len(bodies)}


async def _warm(port: int, bodies: list[bytes]) -> None:
    await _connection(port, bodies, [])


def transform_cost_per_row(folder: Path, rows: list[bytes], repeat: int) -> float:
    """Seconds per row of ``smlp transform`` (the stage, in this process) on a file."""
    from smlp.backends import get_backend
    from smlp.config import load_config
    from smlp.stages.transform import transform
    from smlp.store import open_store

    source = folder / "transform-input.csv"
    source.write_bytes(b"".join(rows))
    os.chdir(folder)
    config = load_config(None)
    store = open_store(config.store)
    backend = get_backend(config, store)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        out = folder / f"transform-{time.monotonic_ns()}"
        transform(config, store, backend, str(source), str(out), "xgboost")
        best = min(best, time.perf_counter() - started)
    return best / len(rows)


CORES = os.cpu_count() or 1
START_LOAD = 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000, help="synthetic data rows")
    parser.add_argument("--requests", type=int, default=1_000,
                        help="single-row requests per block")
    parser.add_argument("--big-requests", type=int, default=100,
                        help="1,000-row requests per block (transform reads them all as a file)")
    parser.add_argument("--repeat", type=int, default=6,
                        help="rounds of interleaved blocks; the best block of each is kept")
    parser.add_argument("--serve", choices=["smlp", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.project, args.port)
        return
    global START_LOAD
    START_LOAD = os.getloadavg()[0]  # the machine is shared: say how busy it was
    with tempfile.TemporaryDirectory(prefix="smlp-serve-bench-") as tmp:
        folder = Path(tmp)
        make_project(folder, args.rows)
        rows = feature_rows(folder)
        singles = [rows[i % len(rows)] for i in range(args.requests)]
        big = [b"".join(rows[(i * 1000 + k) % len(rows)] for k in range(1000))
               for i in range(args.big_requests)]
        results: dict[str, dict[str, Any]] = {}
        per_row_transform = float("inf")
        servers = {kind: Server(kind, folder) for kind in ("bare", "smlp")}  # idle until used
        try:
            # Short blocks, interleaved, the best block of each kept: the machine is shared,
            # and its load changes faster than one long run per server would notice. Who goes
            # first alternates by round: on the loaded machine the first server of a pair
            # measured faster (one-row ratio 0.37-0.68 over 3 runs with the reference always
            # first, 0.96 with it always second), whichever it was.
            for round_ in range(args.repeat):
                order = ("bare", "smlp") if round_ % 2 == 0 else ("smlp", "bare")
                for concurrency in (1, 8):
                    for kind in order:
                        keep(results, f"{kind}-c{concurrency}",
                             load(servers[kind].port, singles, concurrency))
                for concurrency in sorted({1, CORES}):
                    keep(results, f"smlp-1000-c{concurrency}",
                         load(servers["smlp"].port, big, concurrency))
                per_row_transform = min(per_row_transform,
                                        transform_cost_per_row(folder, b_lines(big), 1))
        finally:
            for server in servers.values():
                server.close()
        report_endpoint(args, results)
    print(f"1,000-row requests vs smlp transform on the same {len(big) * 1000:,} rows: "
          f"{1e6 * per_row_transform:.2f} us/row")
    for concurrency in sorted({1, CORES}):
        run = results[f"smlp-1000-c{concurrency}"]
        per_row = run["seconds"] / (run["requests"] * 1000)
        ratio = per_row / per_row_transform
        judged = concurrency == CORES
        print(f"  {concurrency} in flight: {run['rps']:,.1f} req/s, {1e6 * per_row:.2f} us/row, "
              f"p50 {run['p50_ms']:.1f} ms | ratio {ratio:.2f}"
              + (f" (goal <= 1.5, one request per core) {verdict(ratio <= 1.5)}" if judged
                 else ""))
    print(f"load average (1 min) at start {START_LOAD:.2f}, at end {os.getloadavg()[0]:.2f}, "
          f"{CORES} cores")


def report_endpoint(args: Any, results: dict[str, dict[str, Any]]) -> None:
    print(f"single-row requests, best of {args.repeat} blocks of {args.requests:,} each, model: "
          f"xgboost on {args.rows:,} rows")
    for concurrency in (1, 8):
        ours, ref = results[f"smlp-c{concurrency}"], results[f"bare-c{concurrency}"]
        ratio = ours["rps"] / ref["rps"]
        print(f"  concurrency {concurrency}: smlp {ours['rps']:,.0f} req/s, p50 "
              f"{ours['p50_ms']:.2f} ms, p99 {ours['p99_ms']:.2f} ms | bare ASGI "
              f"{ref['rps']:,.0f} req/s, p50 {ref['p50_ms']:.2f} ms, p99 {ref['p99_ms']:.2f} ms"
              f" | throughput ratio {ratio:.2f} (goal >= 0.80) {verdict(ratio >= 0.8)}")
    p99 = results["smlp-c1"]["p99_ms"]
    print(f"  p99 at concurrency 1: {p99:.2f} ms (goal < 20 ms) {verdict(p99 < 20)}")


def keep(results: dict[str, dict[str, Any]], key: str, run: dict[str, Any]) -> None:
    if key not in results or run["rps"] > results[key]["rps"]:
        results[key] = run


def b_lines(bodies: list[bytes]) -> list[bytes]:
    return [line + b"\n" for body in bodies for line in body.splitlines()]


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


if __name__ == "__main__":
    main()
