"""``openpacs serve`` under yappi (CPU clock, all threads), switched on and off by signals.

    OPENPACS_YAPPI_OUT=stats.tsv python -m bench.yappi_serve

SIGUSR1 clears the statistics and starts profiling; SIGUSR2 stops it and writes one line
per function (``F``, index, file:function, own CPU seconds) and one per call edge (``C``,
caller index, callee index, CPU seconds of the callee under that caller), then renames
the file into place, so a reader never sees half of it. Used by ``bench.cpu --layers``.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from openpacs.cli.main import main

try:
    import yappi
except ImportError:  # a profiling tool, not a dependency of the project or its tests
    raise SystemExit("yappi is not installed: .venv/bin/pip install yappi==1.7.6") from None

OUT = os.environ.get("OPENPACS_YAPPI_OUT", "yappi.tsv")


def _start(_signum: int, _frame: FrameType | None) -> None:
    yappi.stop()
    yappi.clear_stats()
    yappi.set_clock_type("cpu")
    yappi.start(builtins=True, profile_threads=True)


def _stop(_signum: int, _frame: FrameType | None) -> None:
    yappi.stop()
    lines = []
    for stat in yappi.get_func_stats():
        lines.append(f"F\t{stat.index}\t{stat.module}:{stat.name}\t{stat.tsub:.6f}")
        lines += [f"C\t{stat.index}\t{child.index}\t{child.ttot:.6f}" for child in stat.children]
    with open(OUT + ".tmp", "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(OUT + ".tmp", OUT)


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
    sys.exit(main(["serve", *sys.argv[1:]]))
