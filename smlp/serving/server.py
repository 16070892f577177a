"""Running the endpoint app under uvicorn: in the foreground (``smlp deploy``, Ctrl-C stops
it cleanly) or in a background thread (tests, benchmarks, ``smlp invoke``'s callers)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from smlp.errors import BackendError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_port(host: str, port: int) -> None:
    """Fail with one line before loading models if the port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BackendError(f"cannot listen on {host}:{port} ({exc.strerror}); stop what "
                               "uses it or pick another with --port") from None


def make_server(app: Any, host: str, port: int) -> Any:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="on", timeout_graceful_shutdown=10)
    return uvicorn.Server(config)


def bound_port(server: Any) -> int:
    for listener in getattr(server, "servers", []):
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise BackendError("the server is not listening")


def run_foreground(endpoint: Any, app: Any, host: str, port: int,
                   on_ready: Callable[[int], None] | None = None) -> Any:
    """Serve until SIGINT/SIGTERM (or ``endpoint.stop()``); uvicorn finishes in-flight
    requests, then runs the app's shutdown. A Ctrl-C is the normal way to stop: it does not
    propagate."""
    server = make_server(app, host, port)
    endpoint.stop = lambda: setattr(server, "should_exit", True)
    if on_ready is not None:
        _call_when_started(server, on_ready)
    settle_heap()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the captured signal after shutting down
        pass
    if not server.started:
        raise BackendError(f"the endpoint did not start on {host}:{port}")
    return server


def settle_heap() -> None:
    """Move what is alive now (modules, models: ~70k objects) out of the garbage collector's
    reach: its full collections would walk them all again, ~0.1 s each, a pause some request
    waits through. Only for a process that serves and then exits (``smlp deploy``)."""
    import gc

    gc.collect()
    gc.freeze()


def _call_when_started(server: Any, callback: Callable[[int], None]) -> None:
    """Run ``callback(port)`` once uvicorn listens (from its startup hook)."""
    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets=sockets)
        if server.started:
            callback(bound_port(server))

    server.startup = startup


class ServerThread:
    """uvicorn in a daemon thread: ``with ServerThread(app) as url: ...``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = make_server(app, host, port)
        self.host = host
        self.thread = threading.Thread(target=self.server.run, name="smlp-endpoint",
                                       daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 120.0) -> str:
        self.thread.start()
        import time

        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise BackendError("the endpoint did not start")
            time.sleep(0.01)
        self.port = bound_port(self.server)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
