"""`smlp --help` wall time against `python -c pass`: no heavy import may happen at start.

Target: under 0.3 s absolute on this machine.
"""

from __future__ import annotations

import sys

from _common import SMLP, timed


def main() -> None:
    baseline = timed([sys.executable, "-c", "pass"], repeat=7)
    ours = timed([SMLP, "--help"], repeat=7)
    verdict = "OK" if ours < 0.3 else "MISSED"
    print(f"startup: smlp --help {ours:.3f} s, python -c pass {baseline:.3f} s, "
          f"ratio {ours / baseline:.1f}x, smlp's own share {ours - baseline:.3f} s "
          f"(target < 0.300 s absolute) {verdict}")


if __name__ == "__main__":
    main()
