"""Run one command and write its own peak RSS, CPU time and wall time, from os.wait4, to a JSON file.

    python benchmarks/peak.py RESULT.json -- COMMAND [ARG ...]

Why a launcher: on Linux a child's `ru_maxrss` starts from the high-water mark of
the process it was spawned from (exec keeps it). Spawned straight from the
benchmark, whose own memory grows as it reads the crawls' output, a crawl would
report the benchmark's peak instead of its own. This small process, freshly
started, spawns the command itself, so the figures are the command's own: its
user + sys CPU time (children it waited for included, as RUSAGE_CHILDREN counts
them) and its wall time from spawn to exit, this launcher's start-up left out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    result, cmd = sys.argv[1], sys.argv[3:]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "exit_code": proc.returncode,
                "max_rss_kib": usage.ru_maxrss,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "wall_seconds": wall,
            },
            fh,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
