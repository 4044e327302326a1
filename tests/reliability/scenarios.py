"""Fault and crash scenarios: run the pipeline as a user would, then count what was lost.

Every scenario starts a fresh sandbox (the small world of `tests.pipeline`, pinned clock
and history) and a fresh warehouse, runs `sprout-elt run` through a backfill of two
chunks and the marts, and compares the warehouse with the one a fault-free run builds,
table by table and row by row (see `tests.reliability.warehouse`).

Waits are shrunk, not skipped: a 429 still pauses every request for a whole pacer
window, but the window is 0.2 s instead of 60 s; retries still back off exponentially,
from 10 ms instead of 1 s.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pytest

from sources.sprout import client, pacing
from sprout_sandbox import limits
from tests.pipeline.conftest import CLOCK, Harness, Result, harness_for, sandbox_config
from tests.pipeline.test_run_matches_sandbox import ENTITIES, differences
from tests.publish.support import Workspace, future, write_plan
from tests.reliability.warehouse import Difference, Snapshot, difference, snapshot

START = date(2026, 1, 15)
"""26 days before the sandbox's history: the backfill is two chunks, each committed."""
RUN_TIMEOUT_SECONDS = 120
ALL_FAULTS = "500,503,504,202,429,drop,truncate,html"
PUBLISH_CUSTOMER = 100001
CRASH_HOOK_STATUS = 137
"""`SPROUT_ELT_CRASH_AT` of `sources.sprout.publishing` ends the process with this status."""


def run_arguments() -> list[str]:
    """`sprout-elt run` over the whole history, marts included."""
    end = CLOCK.date().isoformat()
    return ["run", "--start-date", START.isoformat(), "--end-date", end]


def shrink_waits(patch: pytest.MonkeyPatch) -> None:
    """Pacer windows of 0.2 s and retry back-off from 10 ms, in this process."""
    patch.setattr(pacing, "_WINDOW_SECONDS", 0.2)
    patch.setattr(pacing, "_BACK_OFF_JITTER_SECONDS", 0.05)
    patch.setattr(limits, "WINDOW_SECONDS", 0.2)
    patch.setattr(client, "_BACKOFF_BASE_SECONDS", 0.01)
    patch.setattr(client, "_BACKOFF_CAP_SECONDS", 0.2)


@contextlib.contextmanager
def workspace(tmp: Path, faults: str = "") -> Iterator[Harness]:
    """A sandbox with `faults`, a warehouse in `tmp`, and `sprout-elt` pointed at both."""
    with pytest.MonkeyPatch.context() as patch:
        shrink_waits(patch)
        patch.delenv("SPROUT_ELT_CRASH_AT", raising=False)
        with harness_for(sandbox_config(faults=faults), tmp, patch) as harness:
            yield harness


_BASELINE: list[Snapshot] = []


def baseline(against_truth: bool = False) -> Snapshot:
    """The warehouse of an uninterrupted, fault-free run (computed once per process).

    Args:
        against_truth: also check that run against the sandbox's ground truth, table by
            table (`tests/pipeline` checks the same run; `make chaos` checks again).

    Raises:
        AssertionError: that run failed, or a table differs from the sandbox's truth.
    """
    if not _BASELINE:
        with tempfile.TemporaryDirectory() as tmp, workspace(Path(tmp)) as harness:
            result = harness.cli(*run_arguments())
            assert result.status == 0, result.stderr
            for name in ENTITIES if against_truth else ():
                assert differences(harness, name) == [], name
            _BASELINE.append(snapshot(harness.database))
    return _BASELINE[0]


@dataclass
class Outcome:
    """What one scenario run did and what it left in the warehouse.

    Attributes:
        completed: the first run exited 0.
        stopped_cleanly: the first run stopped with a one-line reason, no traceback.
        difference: the warehouse after the scenario (and any rerun) against the baseline.
        notes: what went differently from the expectation, for the report.
        ends: how each concurrent run ended (`finished`, or its reason line).
    """

    completed: bool = False
    stopped_cleanly: bool = False
    difference: Difference = field(default_factory=Difference)
    notes: list[str] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)


def error_line_problems(result: Result, command: str = "run") -> list[str]:
    """What is wrong with how a command failed: exit status, error line, traceback.

    Log lines may precede it on stderr (as for a user); the reason must be a single line
    `sprout-elt COMMAND: ...`, the last one, with no traceback anywhere.
    """
    prefix = f"sprout-elt {command}: "
    lines = result.stderr.strip().splitlines()
    reasons = [line for line in lines if line.startswith(prefix)]
    problems = []
    if result.status != 1:
        problems.append(f"exit status {result.status}, expected 1")
    if len(reasons) != 1 or lines[-1] != reasons[0] or "Traceback" in result.stderr:
        problems.append(f"no single closing reason line: {result.stderr.strip()[-400:]!r}")
    return problems


def is_clean_stop(result: Result) -> bool:
    """Exit 1 with a one-line reason closing stderr, and no traceback."""
    return not error_line_problems(result)


# Faults -------------------------------------------------------------------------------


def fault_spec(kinds: str, rate: float, seed: int, latency: str = "0-250") -> str:
    """A sandbox fault spec: `rate` split evenly over `kinds`; `latency` in them adds spikes."""
    names = [k for k in kinds.split(",") if k != "latency"]
    items = [f"{name}={rate / len(names):.4f}" for name in names]
    if "latency" in kinds.split(","):
        items.append(f"latency={latency}")
    return ",".join([*items, f"seed={seed}"])


def fault_run(tmp: Path, spec: str, reruns: int = 3) -> Outcome:
    """Run against a sandbox injecting `spec`; rerun after a clean stop, faults still on."""
    outcome = Outcome()
    with workspace(tmp, spec) as harness:
        result = harness.cli(*run_arguments())
        outcome.completed = result.status == 0
        outcome.stopped_cleanly = not outcome.completed and is_clean_stop(result)
        if not outcome.completed and not outcome.stopped_cleanly:
            outcome.notes.append(f"unclean end: {result.stderr.strip()[-300:]}")
        for _ in range(reruns):
            if result.status == 0:
                break
            result = harness.cli(*run_arguments())
        if result.status != 0:
            outcome.notes.append(f"reruns did not finish: {result.stderr.strip()[-300:]}")
        outcome.difference = difference(baseline(), snapshot(harness.database))
    return outcome


def permanent_fault_run(tmp: Path, kind: str) -> Outcome:
    """Every request fails with `kind`: the run stops cleanly; once lifted, a rerun is whole."""
    outcome = Outcome()
    with workspace(tmp, f"{kind}=1.0") as harness:
        result = harness.cli(*run_arguments())
        outcome.stopped_cleanly = is_clean_stop(result)
        if not outcome.stopped_cleanly:
            outcome.notes.append(f"unclean end: status {result.status}, {result.stderr[-300:]}")
        set_faults(harness, "")
        again = harness.cli(*run_arguments())
        if again.status != 0:
            outcome.notes.append(f"the rerun failed: {again.stderr.strip()}")
        outcome.difference = difference(baseline(), snapshot(harness.database))
    return outcome


def set_faults(harness: Harness, spec: str) -> None:
    """Replace the sandbox's fault spec through its control endpoint."""
    httpx.post(
        f"{harness.sandbox.base_url}/_sandbox/faults", json={"spec": spec}
    ).raise_for_status()


# Crashes ------------------------------------------------------------------------------


def run_killed_at(harness: Harness, point: str) -> subprocess.CompletedProcess[str]:
    """`sprout-elt run` in a child process that SIGKILLs itself at `point`."""
    command = [sys.executable, "-m", "tests.reliability.crashpoint", point, *run_arguments()]
    return subprocess.run(
        command,
        env=dict(os.environ),
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def crash_run(tmp: Path, point: str) -> Outcome:
    """Kill a run at `point`, run again in this process, and compare with the baseline."""
    outcome = Outcome()
    with workspace(tmp) as harness:
        killed = run_killed_at(harness, point)
        if killed.returncode != -9:
            outcome.notes.append(
                f"the run was not killed at {point}: status {killed.returncode}, "
                f"{killed.stderr.strip()[-300:]}"
            )
        result = harness.cli(*run_arguments())
        outcome.completed = result.status == 0
        if not outcome.completed:
            outcome.notes.append(f"the rerun failed: {result.stderr.strip()[-300:]}")
        outcome.difference = difference(baseline(), snapshot(harness.database))
    return outcome


def _plan_rows(harness: Harness, count: int) -> list[str]:
    """Plan rows, one draft each, on the profiles of customer 100001."""
    profiles = [p for p in harness.truth("profiles") if p["customer_id"] == PUBLISH_CUSTOMER]
    return [
        f"draft-{n},{profile['groups'][0]},{profile['customer_profile_id']},"
        f"Reliability draft {n},{future(2 + n)},,"
        for n, profile in enumerate(profiles[:count], start=1)
    ]


def publish_crash_run(tmp: Path, point: str) -> Outcome:
    """Kill `sprout-elt publish` at `point`, publish again, and count the drafts created."""
    outcome = Outcome()
    with workspace(tmp) as harness, pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCES__SPROUT__CUSTOMER_ID", str(PUBLISH_CUSTOMER))
        rows = _plan_rows(harness, 3)
        plan = write_plan(tmp / "plan.csv", rows)
        killed = Workspace(tmp, harness.sandbox, dict(os.environ)).run_cli(
            str(plan), crash_at=point
        )
        if killed.returncode != CRASH_HOOK_STATUS:
            outcome.notes.append(f"publish was not stopped at {point}: {killed.returncode}")
        result = harness.cli("publish", str(plan))
        outcome.completed = result.status == 0
        if not outcome.completed:
            outcome.notes.append(f"the second publish failed: {result.stderr.strip()[-300:]}")
        texts = Counter(
            p["internal"]["publishing"]["text"]
            for p in Workspace(tmp, harness.sandbox, {}).sandbox_posts()
        )
        wanted = Counter(f"Reliability draft {n}" for n in range(1, len(rows) + 1))
        lost, extra = wanted - texts, texts - wanted
        outcome.difference = Difference(
            sum(lost.values()),
            sum(extra.values()),
            {"drafts": (sum(lost.values()), sum(extra.values()))} if lost or extra else {},
        )
    return outcome


# Concurrency ----------------------------------------------------------------------------


def _start_run(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", *run_arguments()],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> Result:
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return Result(process.returncode, out, err)


def concurrent_runs(tmp: Path, gap_seconds: float, own_pipeline_dirs: bool = False) -> Outcome:
    """Start two runs on one warehouse `gap_seconds` apart; both end well, or one refuses.

    Args:
        tmp: the warehouse's folder.
        gap_seconds: the wait before the second run starts.
        own_pipeline_dirs: give each run its own dlt working directory (two machines or
            users sharing one warehouse file) instead of the same one.
    """
    outcome = Outcome()
    with workspace(tmp) as harness:
        first_env = dict(os.environ)
        second_env = (
            {**first_env, "DLT_DATA_DIR": str(tmp / "dlt-second")}
            if own_pipeline_dirs
            else first_env
        )
        first = _start_run(first_env)
        time.sleep(gap_seconds)
        second = _start_run(second_env)
        results = [_finish(first), _finish(second)]
        refused = [r for r in results if r.status != 0]
        outcome.completed = results[0].status == 0 or results[1].status == 0
        outcome.stopped_cleanly = all(is_clean_stop(r) for r in refused)
        outcome.ends = [
            r.stderr.strip().splitlines()[-1] if r.status else "finished" for r in results
        ]
        for result in refused:
            if not is_clean_stop(result):
                outcome.notes.append(f"unclear refusal: {result.stderr.strip()[-400:]}")
        if len(refused) == 2:
            outcome.notes.append("neither run finished")
        again = harness.cli(*run_arguments())
        if again.status != 0:
            outcome.notes.append(f"a later run failed: {again.stderr.strip()[-300:]}")
        outcome.difference = difference(baseline(), snapshot(harness.database))
    return outcome
