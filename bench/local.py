"""Local cost: replay recorded answers into a fresh warehouse, in a process of its own.

Run as `python -m bench.local ANSWERS FOLDER START END`; prints one JSON object: rows
loaded, seconds, and the process's peak resident memory.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
from pathlib import Path

import pendulum

from bench.runs import AnswerStore, ReplayTransport, Warehouse, run_sprout


def main(argv: list[str]) -> int:
    """Replay, load and report; the arguments are as the module docstring says."""
    logging.basicConfig(level=logging.WARNING)
    answers_file, folder, start, end = argv
    transport = ReplayTransport(AnswerStore(Path(answers_file)))
    warehouse = Warehouse(Path(folder), "http://127.0.0.1:9")
    summary, seconds = run_sprout(
        warehouse, pendulum.Date.fromisoformat(start), pendulum.Date.fromisoformat(end), transport
    )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "rows": sum(summary.rows.values()),
        "seconds": seconds,
        "requests": transport.count,
        "peak_mib": peak_kib / 1024,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
