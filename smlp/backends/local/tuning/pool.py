"""Worker processes for trials, each assigned trials explicitly by the parent.

The parent always knows which trial each worker runs, so it can route early-stopping decisions
to it and, if a worker dies (a crash inside native code), fail exactly that trial and start a
replacement. Workers are new interpreters (``python -m smlp.backends.local.tuning.worker``),
not forks: the parent may hold OpenMP threads or a live display, neither of which survives a
fork; and unlike multiprocessing's spawn they do not re-import the caller's ``__main__``. Each
talks to the parent over an inherited socket, with multiprocessing's framing and pickling.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from smlp.backends.local.tuning.worker import THREAD_VARIABLES, TrialTask, WorkerSetup
from smlp.errors import BackendError

WORKER_MODULE = "smlp.backends.local.tuning.worker"  # started as `python -m WORKER_MODULE`
JOIN_SECONDS = 5.0


@dataclass
class Message:
    worker: int
    kind: str  # ready | metric | done | died
    payload: Any = None


@dataclass
class _Worker:
    process: Any
    conn: Any
    ready: bool = False
    busy: str | None = None  # the trial it runs
    started_once: bool = False


class WorkerPool:
    def __init__(self, size: int, setup: WorkerSetup) -> None:
        self._setup = setup
        self._workers: list[_Worker] = []
        try:
            for index in range(size):
                self._workers.append(self._start(index))
        except BaseException:
            self.close(kill=True)
            raise

    def _start(self, index: int) -> _Worker:
        parent, child = multiprocessing.Pipe(duplex=True)
        env = dict(os.environ)
        env.update(dict.fromkeys(THREAD_VARIABLES, str(self._setup.threads)))
        log = Path(self._setup.log_dir) / f"worker-{index}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as output:  # native libraries' prints land here, not on screen
            process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(child.fileno()), str(index)],
                pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL, stdout=output,
                stderr=output,
            )
        child.close()
        parent.send(self._setup)
        return _Worker(process, parent)

    def idle(self) -> list[int]:
        return [i for i, w in enumerate(self._workers) if w.ready and w.busy is None]

    def busy(self) -> dict[int, str]:
        return {i: w.busy for i, w in enumerate(self._workers) if w.busy is not None}

    def submit(self, index: int, task: TrialTask) -> None:
        worker = self._workers[index]
        worker.busy = task.job.name
        worker.conn.send(("trial", task))

    def stop(self, index: int, trial: str, reason: str) -> None:
        """Ask a worker to stop ``trial`` at its next log line (ignored if it has finished)."""
        try:
            self._workers[index].conn.send(("stop", (trial, reason)))
        except (BrokenPipeError, OSError):
            pass  # the worker is gone; wait() reports it

    def kill(self, index: int) -> Message:
        """Kill a worker whose trial does not stop (it hangs, or prints nothing) and start a
        replacement; the returned ``died`` message names the trial it was running."""
        self._workers[index].process.kill()
        return self._replace(index)

    def wait(self, timeout: float | None) -> list[Message]:
        """Messages from workers, waiting up to ``timeout`` seconds for the first."""
        handles = {worker.conn: index for index, worker in enumerate(self._workers)}
        messages: list[Message] = []
        dead: set[int] = set()
        for handle in wait(list(handles), timeout):
            index = handles[handle]
            worker = self._workers[index]
            try:  # a worker that died shows as a readable end of stream
                while worker.conn.poll():
                    messages.append(self._receive(index, worker))
            except (EOFError, OSError):
                dead.add(index)
        for index in sorted(dead):
            messages.append(self._replace(index))
        return messages

    def _receive(self, index: int, worker: _Worker) -> Message:
        kind, payload = worker.conn.recv()
        if kind == "ready":
            worker.ready = worker.started_once = True
        elif kind == "done":
            worker.busy = None
        return Message(index, kind, payload)

    def _replace(self, index: int) -> Message:
        worker = self._workers[index]
        try:
            code = worker.process.wait(JOIN_SECONDS)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            code = worker.process.wait()
        if not worker.started_once:
            self.close(kill=True)
            raise BackendError(f"a tuning worker could not start (exit code {code}); see "
                               f"{self._setup.log_dir}/worker-{index}.log")
        trial = worker.busy
        worker.conn.close()
        self._workers[index] = self._start(index)
        self._workers[index].started_once = True
        return Message(index, "died", (trial, code))

    def close(self, kill: bool = False) -> None:
        for worker in self._workers:
            if kill:
                worker.process.terminate()
            else:
                try:
                    worker.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
        for worker in self._workers:
            try:
                worker.process.wait(JOIN_SECONDS)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.conn.close()
        self._workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(kill=exc_type is not None)
