"""Run every benchmark script in turn; each prints its own figures.

Scripts are listed here explicitly (not discovered) so that a half-written one
never runs by accident. Each is also runnable alone: `python -m bench.NAME`.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPTS: list[str] = [
    "programme",
    "checkin",
    "registration",
    "limits",
    "ws_fanout",
    "ws_ordinary",
    "ws_floor",
    "approve",
    "faults",
]


def main() -> int:
    failed = 0
    for name in SCRIPTS:
        print(f"== bench.{name}", flush=True)
        failed += subprocess.call([sys.executable, "-m", f"bench.{name}", *sys.argv[1:]]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
