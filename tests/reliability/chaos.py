"""`make chaos`: every fault kind, crash point, concurrent start and bad input, as one table.

    python -m tests.reliability.chaos [--seeds N]

Each fault kind runs at one request in five with N seeds (default 3); each crash point,
concurrency case and bad input runs once. The table counts runs, runs that completed,
runs that stopped cleanly (a one-line reason, then a rerun that completed), and rows
lost and duplicated against an uninterrupted, fault-free run. The exit status is 1 when
any row was lost or duplicated or a run went otherwise than expected.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.reliability.bad_input import CASES, check_bad_input
from tests.reliability.leaks import find_leaks
from tests.reliability.scenarios import (
    ALL_FAULTS,
    Outcome,
    baseline,
    concurrent_runs,
    crash_run,
    fault_run,
    fault_spec,
    permanent_fault_run,
    publish_crash_run,
)

FAULT_RATE = 0.2
FAULT_KINDS = {
    "500": "500",
    "503": "503",
    "504": "504",
    "202 not ready": "202",
    "429 bursts": "429",
    "latency 0-800 ms, every request": "latency",
    "dropped connections": "drop",
    "truncated bodies": "truncate",
    "HTML error pages": "html",
    "all mixed, with latency": ALL_FAULTS + ",latency",
}
PERMANENT_FAULTS = {"every request 500": "500", "every request 429 (quota)": "429"}
CRASH_POINTS = {
    "extract, 3rd answer (metadata)": "extract:3",
    "extract, 30th answer": "extract:30",
    "normalize, chunk 1": "normalize:1",
    "normalize, chunk 2": "normalize:2",
    "load, 5th job of chunk 1": "load:5",
    "load, 40th job": "load:40",
    "between chunks": "loaded:1",
    "after the last load, before the marts": "loaded:2",
    "transforms, 1st model": "transform:1",
    "transforms, 15th model": "transform:15",
}
PUBLISH_POINTS = {
    "publish, after the 1st create": "after_create:1",
    "publish, after the 2nd create": "after_create:2",
}
CONCURRENCY = {
    "same pipeline dir, started together": (0.0, False),
    "same pipeline dir, 1 s apart": (1.0, False),
    "own pipeline dirs, one DuckDB file": (0.5, True),
}


@dataclass
class Row:
    """One line of the table."""

    kind: str
    scenario: str
    runs: int = 0
    completed: int = 0
    stopped: int = 0
    lost: int = 0
    duplicated: int = 0
    notes: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        """Count one scenario run."""
        self.runs += 1
        self.completed += int(outcome.completed)
        self.stopped += int(outcome.stopped_cleanly and not outcome.completed)
        self.lost += outcome.difference.lost
        self.duplicated += outcome.difference.duplicated
        self.notes += outcome.notes + [str(outcome.difference)] * bool(outcome.difference.tables)


def _once(make: Callable[[Path], Outcome]) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="sprout-chaos-") as tmp:
        return make(Path(tmp))


def _fault_rows(seeds: int) -> Iterable[Row]:
    for name, kinds in FAULT_KINDS.items():
        row = Row("fault", name if kinds == "latency" else f"{name} at 1 in 5")
        latency = "0-800" if kinds == "latency" else "0-250"
        for seed in range(1, seeds + 1):
            spec = fault_spec(kinds, FAULT_RATE, seed, latency)
            row.add(_once(lambda tmp, spec=spec: fault_run(tmp, spec)))
        yield row
    for name, kind in PERMANENT_FAULTS.items():
        row = Row("fault", f"{name}, then lifted")
        row.add(_once(lambda tmp, kind=kind: permanent_fault_run(tmp, kind)))
        yield row


def _crash_rows() -> Iterable[Row]:
    for name, point in CRASH_POINTS.items():
        row = Row("crash point", name)
        row.add(_once(lambda tmp, point=point: crash_run(tmp, point)))
        yield row
    for name, point in PUBLISH_POINTS.items():
        row = Row("crash point", name)
        row.add(_once(lambda tmp, point=point: publish_crash_run(tmp, point)))
        yield row


def _concurrency_rows() -> Iterable[Row]:
    for name, (gap, own) in CONCURRENCY.items():
        row = Row("concurrency", name)
        outcome = _once(lambda tmp, gap=gap, own=own: concurrent_runs(tmp, gap, own))
        row.add(outcome)
        row.info += [f"run {n}: {end}" for n, end in enumerate(outcome.ends, start=1)]
        yield row


def _bad_input_rows() -> Iterable[Row]:
    for area in ("configuration", "api answer", "publish file"):
        row = Row("bad input", f"{area} ({sum(c.area == area for c in CASES)} cases)")
        for case in (c for c in CASES if c.area == area):
            outcome = check_bad_input(case)
            row.runs += 1
            row.completed += int(not outcome.problems)
            row.lost += outcome.lost
            row.duplicated += outcome.duplicated
            row.notes += [f"{case.id}: {problem}" for problem in outcome.problems]
        yield row


def _secret_row() -> Row:
    leaks, searched = find_leaks()
    row = Row("secrets", f"token and client secret, {searched} places searched")
    row.runs, row.completed = 1, int(not leaks)
    row.notes += [f"a secret appears in {place}" for place in leaks]
    return row


HEADER = ("kind", "scenario", "runs", "completed", "stopped cleanly", "rows lost", "rows dup.")
_WIDTHS = (6, 11, 17, 11, 11)


def _print_row(values: tuple[object, ...]) -> None:
    kind, scenario, *numbers = values
    cells = "".join(f"{n!s:>{width}}" for n, width in zip(numbers, _WIDTHS, strict=True))
    sys.stdout.write(f"{kind!s:<12} {scenario!s:<44}{cells}\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run every scenario, print the table as it fills, and return the exit status."""
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="runs per fault kind (default 3)")
    args = parser.parse_args(argv)
    # The runs' logs go to a file, so that the terminal shows the table; the secret scan
    # still sees every record.
    log_file = Path(tempfile.gettempdir()) / "sprout-chaos.log"
    logging.basicConfig(level=logging.INFO, handlers=[logging.FileHandler(log_file, "w")])
    sys.stdout.write(f"logs of the runs: {log_file}\n")
    started = time.monotonic()
    baseline(against_truth=True)
    _print_row(HEADER)
    rows: list[Row] = []
    for source in (
        _fault_rows(args.seeds),
        _crash_rows(),
        _concurrency_rows(),
        _bad_input_rows(),
        iter([_secret_row()]),
    ):
        for row in source:
            rows.append(row)
            _print_row(
                (
                    row.kind,
                    row.scenario,
                    row.runs,
                    row.completed,
                    row.stopped,
                    row.lost,
                    row.duplicated,
                )
            )
    return _summary(rows, time.monotonic() - started)


def _summary(rows: list[Row], seconds: float) -> int:
    runs = sum(r.runs for r in rows)
    lost, duplicated = sum(r.lost for r in rows), sum(r.duplicated for r in rows)
    sys.stdout.write(
        f"\n{runs} runs in {seconds:.0f} s: {lost} rows lost, {duplicated} rows duplicated\n"
    )
    for row in rows:
        for line in row.info:
            sys.stdout.write(f"  {row.scenario}: {line}\n")
    problems = [f"{r.kind} / {r.scenario}: {note}" for r in rows for note in r.notes]
    for problem in problems:
        sys.stdout.write(f"  problem: {problem}\n")
    return 1 if problems or lost or duplicated else 0


if __name__ == "__main__":
    sys.exit(main())
