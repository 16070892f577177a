"""Shared helpers: time commands in subprocesses, several times, and report medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SMLP = str(BIN / "smlp")


def timed(command: list[str], cwd: Path | None = None, repeat: int = 3) -> float:
    """Median wall time of ``command`` over ``repeat`` runs; fails loudly if it fails."""
    samples = []
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def report(name: str, ours: float, baseline: float, target: str, ok: bool) -> None:
    verdict = "OK" if ok else "MISSED"
    print(f"{name}: smlp {ours:.3f} s, baseline {baseline:.3f} s, ratio {ours / baseline:.2f} "
          f"(target {target}) {verdict}")
