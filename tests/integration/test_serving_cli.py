"""``smlp deploy`` in the foreground (a real process, stopped by Ctrl-C or by
``smlp endpoint delete``), with ``smlp invoke`` and ``smlp endpoint`` talking to it."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.integration.cli_helpers import assert_one_line_error, smlp

SMLP = str(Path(sys.executable).parent / "smlp")
READY = re.compile(r"endpoint (\S+) is InService at (http://\S+)")


class Deployed:
    """``smlp deploy ARGS`` as a child process; waits until it says where it listens."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.process = subprocess.Popen([SMLP, "deploy", *args], cwd=folder, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        while True:
            line = self.lines.get(timeout=300)
            match = READY.search(line)
            if match:
                self.name, self.url = match.group(1), match.group(2)
                return
            assert self.process.poll() is None, "".join(self.err)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.err.append(line)
            self.lines.put(line)

    def wait(self) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=300)
        return self.process.returncode, out


def test_deploy_invoke_describe_weights_and_ctrl_c(trained: Path) -> None:
    smlp("train", "--algo", "sklearn-gbm")
    rows = trained / "rows.csv"
    rows.write_text("1,2,3,4,5,6,7,8\n0.5,-1,0,0.2,1,0,0.3,-0.4\n")
    smlp("transform", "--model", "xgboost", "--input", "rows.csv", "--output", "t")
    endpoint = Deployed(trained, "--variant", "xgboost=1", "--variant", "sklearn-gbm=0",
                        "--port", "0", "--name", "demo")
    try:
        assert endpoint.name == "demo"
        assert (trained / ".smlp" / "endpoints" / "demo.json").is_file()
        result = smlp("invoke", "--input", "rows.csv", "--endpoint", "demo", "-o", "out")
        assert (trained / "out" / "rows.csv.out").read_text() == \
            (trained / "t" / "rows.csv.out").read_text()
        assert "variants xgboost: 1" in result.output
        listed = smlp("endpoint", "list").output
        assert "demo  InService" in listed and endpoint.url in listed
        described = smlp("endpoint", "describe", "demo").output
        assert "xgboost: xgboost weight 1.0, 1 invocations (0 4xx, 0 5xx), 2 rows" in described
        assert "latency p50" in described
        smlp("endpoint", "weights", "demo", "xgboost=0", "sklearn-gbm=1")
        smlp("invoke", "--input", "rows.csv", "--endpoint", endpoint.url, "-o", "out2")
        assert (trained / "out2" / "rows.csv.out").read_text() != \
            (trained / "out" / "rows.csv.out").read_text()  # the other model answered
        assert_one_line_error(smlp("endpoint", "weights", "demo", "nope=1", ok=False),
                              "'nope' is not on this endpoint")
        assert_one_line_error(smlp("endpoint", "describe", "other", ok=False),
                              "no local endpoint named 'other'; running: demo", 2)
        assert_one_line_error(smlp("deploy", "--model", "xgboost", "--name", "demo", "--port",
                                   "0", ok=False), "endpoint demo is already serving at", 2)
        busy = port_of(endpoint.url)
        assert_one_line_error(smlp("deploy", "--model", "xgboost", "--port", str(busy),
                                   ok=False), f"cannot listen on 127.0.0.1:{busy}", 6)
    finally:
        endpoint.process.send_signal(signal.SIGINT)  # Ctrl-C
    code, out = endpoint.wait()
    assert code == 0, "".join(endpoint.err)
    assert "demo: Stopped" in out and "Traceback" not in "".join(endpoint.err)
    assert not (trained / ".smlp" / "endpoints" / "demo.json").exists()


def test_endpoint_delete_stops_a_local_endpoint(trained: Path) -> None:
    endpoint = Deployed(trained, "--model", "xgboost", "--port", "0")
    try:
        assert endpoint.name == "smlp-xgboost"
        deleted = smlp("endpoint", "delete", "smlp-xgboost").output
        assert f"deleted endpoint smlp-xgboost ({endpoint.url})" in deleted
    except BaseException:
        endpoint.process.kill()
        raise
    code, _ = endpoint.wait()
    assert code == 0, "".join(endpoint.err)
    assert smlp("endpoint", "list").output.strip() == "no endpoints"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])
