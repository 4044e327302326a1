"""Helpers of the `publish` tests: the workspace, plan and media files, send times."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx

from pipelines.cli import main
from sources.sprout.client import Pacer, RequestBudget, SproutClient, TokenProvider
from sources.sprout.settings import load_settings
from sprout_sandbox.server import RunningSandbox

MIB = 1024 * 1024
CUSTOMER_ID = 100001
# The world of Scale(customers=1, profiles=4, groups=2) at seed 7: profiles 1000001,
# 1000003 and 1000004 are in group 200001; 1000002 and 1000004 in group 200002.
GROUP = 200001
OTHER_GROUP = 200002
PROFILES = (1000001, 1000004)
TAG = 500001
PART_ENDPOINT = "POST /v1/{customer_id}/media/submission/{submission_id}/part/{part}"
CREATE_ENDPOINT = "POST /v1/{customer_id}/publishing/posts"
HEADER = "client_key,group_id,customer_profile_ids,text,scheduled_times,media,tag_ids\n"


@dataclass(frozen=True)
class Measured:
    """How a command run in a subprocess ended, what it wrote, and its peak memory."""

    returncode: int
    output: str
    peak_mib: float


@dataclass
class Workspace:
    """Where a test's plan, media and warehouse live, and how to reach the sandbox."""

    path: Path
    sandbox: RunningSandbox
    env: dict[str, str]

    @property
    def warehouse(self) -> Path:
        return self.path / "warehouse.duckdb"

    def state(self) -> dict[str, Any]:
        """The sandbox's request counts and totals."""
        return httpx.get(f"{self.sandbox.base_url}/_sandbox/state").json()

    def requests(self, endpoint: str) -> int:
        """Requests the sandbox answered on ``endpoint`` (any status)."""
        counts = self.state()["requests"]["by_endpoint"].get(endpoint, {})
        return sum(counts.values())

    def sandbox_posts(self) -> list[dict[str, Any]]:
        """Every fanned-out publishing post the sandbox holds."""
        url = f"{self.sandbox.base_url}/_sandbox/publishing/posts"
        return httpx.get(url).json()["data"]

    def query(self, sql: str, warehouse: Path | None = None) -> list[tuple[Any, ...]]:
        """Rows of a query on the warehouse (dataset `sprout`), or on another DuckDB file."""
        with duckdb.connect(str(warehouse or self.warehouse), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    def run_cli(self, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
        """`python -m pipelines publish ...` in a subprocess, as a user would run it."""
        env = dict(self.env)
        if crash_at:
            env["SPROUT_ELT_CRASH_AT"] = crash_at
        return subprocess.run(
            [sys.executable, "-m", "pipelines", "publish", *args],
            env=env,
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def run_measured(self, *args: str, warehouse: Path) -> Measured:
        """`python -m pipelines publish ...` into ``warehouse``, with its own dlt directory.

        A child started from this process would count this process's memory in its peak
        (at exec the kernel keeps the high-water mark of the image it replaces), so a small
        interpreter starts the command and prints the command's own peak last.
        """
        env = {
            **self.env,
            "DESTINATION__DUCKDB__CREDENTIALS": str(warehouse),
            "DLT_DATA_DIR": str(warehouse.with_suffix(".dlt")),
        }
        command = [sys.executable, "-m", "pipelines", "publish", *args]
        done = subprocess.run(
            [sys.executable, "-c", _REPORT_PEAK, *command],
            env=env,
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output, _, peak_kib = done.stdout.rstrip("\n").rpartition("\n")
        return Measured(done.returncode, output + done.stderr, int(peak_kib) / 1024)


_REPORT_PEAK = (
    "import resource, subprocess, sys\n"
    "status = subprocess.call(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(status)\n"
)


def make_client(
    transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep
) -> SproutClient:
    """The client `publish` makes from the environment's settings, sending through
    ``transport`` and waiting with ``sleep`` before retries."""
    settings = load_settings()
    return SproutClient(
        settings.base_url,
        TokenProvider(access_token=settings.access_token),
        Pacer(settings.requests_per_minute),
        RequestBudget(settings.monthly_request_budget, {}),
        transport=transport,
        sleep=sleep,
    )


def publish(*args: str) -> int:
    """Run `sprout-elt publish` in this process; return its exit status."""
    return main(["publish", *args])


def future(days: int, hour: int = 15, second: int = 0) -> str:
    """A send time ``days`` from now at ``hour``:20 UTC, as a plan would write it."""
    day = datetime.now(UTC) + timedelta(days=days)
    return day.replace(hour=hour, minute=20, second=second).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute(text: str) -> str:
    """A send time as the API answers it: rounded down to the minute."""
    return re.sub(r":\d\dZ$", ":00Z", text)


def write_png(path: Path, size: int = 4096) -> Path:
    """A file that starts like a PNG image."""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * (size - 8))
    return path


def write_mp4(path: Path, size: int) -> Path:
    """A sparse file of ``size`` bytes that starts with an MP4 ``ftyp`` box."""
    with path.open("wb") as handle:
        handle.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
        handle.truncate(size)
    return path


def write_plan(path: Path, rows: list[str]) -> Path:
    """A CSV plan with the standard header and ``rows``."""
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return path
