"""Run one command and report its own peak memory and CPU time.

    python benchmarks/peak_rss.py REPORT -- COMMAND [ARGS...]

A child's ru_maxrss (os.wait4) starts from the resident size of the process that spawned it:
Linux carries the old address space's high-water mark across exec. A 4.7 GB pytest worker made
every diffmig child it spawned report 4.7 GB. This script is a small parent (about 14 MB) for
the measured command: it spawns it, waits for it, and writes its rusage to REPORT as JSON
({"maxrss_kb", "utime_s", "stime_s"}). It exits with the command's exit code (or dies of the
same signal), and passes SIGTERM and SIGINT on to it.

A file of its own, run by path (no package import), so that benchmarks and tests can wrap any
command without importing each other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: peak_rss.py REPORT -- COMMAND [ARGS...]\n")
        return 2
    report, command = Path(argv[0]), argv[2:]
    proc = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    _, status, usage = os.wait4(proc.pid, 0)  # retried by Python after a forwarded signal
    report.write_text(
        json.dumps(
            {"maxrss_kb": usage.ru_maxrss, "utime_s": usage.ru_utime, "stime_s": usage.ru_stime}
        ),
        encoding="utf-8",
    )
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: die the same way
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
