"""Local cost: replay recorded answers into a fresh warehouse, in a process of its own.

Run as `python -m bench.local ANSWERS FOLDER START END`; prints one JSON object: rows
loaded, seconds, and the process's peak resident memory, the file's closing included.
"""

from __future__ import annotations

import contextlib
import json
import logging
import resource
import sys
from pathlib import Path

import pendulum

from bench.runs import AnswerStore, ReplayTransport, Warehouse, run_sprout
from pipelines.pipeline import close_attached_databases


def main(argv: list[str]) -> int:
    """Replay, load and report; the arguments are as the module docstring says."""
    logging.basicConfig(level=logging.WARNING)
    answers_file, folder, start, end = argv
    transport = ReplayTransport(AnswerStore(Path(answers_file)))
    warehouse = Warehouse(Path(folder), "http://127.0.0.1:9")
    summary, seconds = run_sprout(
        warehouse, pendulum.Date.fromisoformat(start), pendulum.Date.fromisoformat(end), transport
    )
    # Closing the file checkpoints what its log still holds: part of the run's memory.
    close_attached_databases()
    result = {
        "rows": sum(summary.rows.values()),
        "seconds": seconds,
        "requests": transport.count,
        "peak_mib": peak_mib(),
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def peak_mib() -> float:
    """The most memory this process has held resident, in MiB.

    Linux's `ru_maxrss` of a process started by `subprocess` is at least the parent's
    resident memory when it forked, which the exec does not reset: the bench's replay
    reported 636 MiB while it never held more than 475. `VmHWM` is the program's own.
    """
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
