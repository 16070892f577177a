"""`smlp --help` wall time against `python -c pass`: no heavy import may happen at start.

Target: `smlp --help` under 0.3 s absolute on this machine (median of the runs). Also shown:
`smlp transform --help`, which builds one command (its module and nothing of the others).
Runs interleave with the baseline, so a shared machine's load hits each alike; the best run
and the children's CPU time are printed beside the median, as load inflates wall time most.
Set ``PYTHONPATH`` to another checkout to measure it with the same script.

    python benchmarks/startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import SMLP

TARGET = 0.3


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[list[float],
                                                                            list[float]]]:
    """Wall and CPU seconds of each command, ``repeat`` rounds, one run of each per round."""
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed copy has its bytecode cached
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
    for round_ in range(repeat + 1):
        for name, command in commands.items():
            cpu, started = cpu_seconds(), time.perf_counter()
            subprocess.run(command, check=True, env=env, cwd=Path(__file__).parent,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if round_:  # the first round writes the bytecode cache
                results[name][0].append(time.perf_counter() - started)
                results[name][1].append(cpu_seconds() - cpu)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    results = measure({"python -c pass": [sys.executable, "-c", "pass"],
                       "smlp --help": [SMLP, "--help"],
                       "smlp transform --help": [SMLP, "transform", "--help"]}, args.repeat)
    base = statistics.median(results["python -c pass"][0])
    for name, (wall, cpu) in results.items():
        print(f"{name}: median {statistics.median(wall):.3f} s, best {min(wall):.3f} s, "
              f"cpu {statistics.median(cpu):.3f} s (ratio to python -c pass "
              f"{statistics.median(wall) / base:.1f}x)")
    ours = statistics.median(results["smlp --help"][0])
    verdict = "OK" if ours < TARGET else "MISSED"
    print(f"startup: smlp --help {ours:.3f} s, python -c pass {base:.3f} s, smlp's own share "
          f"{ours - base:.3f} s (target < {TARGET:.3f} s absolute) {verdict}")


if __name__ == "__main__":
    main()
