"""A sandbox over real HTTP on loopback and `sprout-elt` run in-process against it.

Every test gets its own sandbox (port 0), its own DuckDB file and dlt data directory in
`tmp_path`, so runs never share state. Rates are high so that tests are fast; the
pacing test sets them low on purpose.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg2
import pytest

from pipelines.cli import main
from sprout_sandbox.config import SandboxConfig, Scale
from sprout_sandbox.export import export_world
from sprout_sandbox.server import RunningSandbox, run_sandbox

POSTGRES_DSN_VAR = "SPROUT_TEST_POSTGRES_DSN"
"""`make test` starts a throwaway PostgreSQL and passes its DSN here."""
FAST_RPM = 6000
CLOCK = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HISTORY_START = date(2026, 2, 10)
# One customer; every query of this world fits in one page, so each query is exactly
# one request.
TINY = Scale(
    customers=1,
    profiles=3,
    groups=2,
    users=2,
    tags=2,
    days=20,
    posts_per_day=0.5,
    messages_per_day=1.0,
    cases_per_day=1.0,
    topics=1,
    topic_messages_per_day=2.0,
)

SMALL = Scale(
    customers=2,
    profiles=3,
    groups=2,
    users=3,
    tags=4,
    days=20,
    posts_per_day=1.0,
    messages_per_day=2.0,
    cases_per_day=1.0,
    topics=1,
    topic_messages_per_day=4.0,
)


@dataclass
class Result:
    """Exit status and output of one `sprout-elt` call."""

    status: int
    stdout: str
    stderr: str


@dataclass
class Harness:
    """One sandbox, one warehouse, and the `sprout-elt` command pointed at both."""

    sandbox: RunningSandbox
    config: SandboxConfig
    tmp: Path
    destination: str = "duckdb"
    dataset: str = "sprout"

    @property
    def database(self) -> Path:
        return self.tmp / "warehouse.duckdb"

    def cli(self, *argv: str) -> Result:
        """Run `sprout-elt` with `argv` in-process, capturing stdout and stderr."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(list(argv))
        return Result(status, out.getvalue(), err.getvalue())

    def run(self, *extra: str, start: date = HISTORY_START, end: date | None = None) -> Result:
        """`sprout-elt run` from `start` (the sandbox's first day) to its clock (or `end`)."""
        last = end or self.sandbox.world.now.date()
        argv = ["run", "--start-date", start.isoformat(), "--end-date", last.isoformat()]
        return self.cli(*argv, "--no-transform", *self.warehouse_options(), *extra)

    def warehouse_options(self) -> list[str]:
        """`--destination` and `--dataset` of this harness."""
        return ["--destination", self.destination, "--dataset", self.dataset]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query against the warehouse; `sprout.` names the harness's dataset."""
        sql = sql.replace("sprout.", f"{self.dataset}.").replace("'sprout'", f"'{self.dataset}'")
        if self.destination == "duckdb":
            with duckdb.connect(str(self.database), read_only=True) as connection:
                return connection.execute(sql).fetchall()
        dsn = os.environ[POSTGRES_DSN_VAR]
        with contextlib.closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def table(self, name: str) -> list[dict[str, Any]]:
        """Every row of a table of the dataset as a dict."""
        columns = [
            r[0]
            for r in self.query(
                "select column_name from information_schema.columns where table_schema = "
                f"'sprout' and table_name = '{name}' order by ordinal_position"
            )
        ]
        rows = self.query(f"select {', '.join(columns)} from sprout.{name}")
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def state(self) -> dict[str, Any]:
        """The sandbox's `/_sandbox/state`: clock, request counts, 429s, quota."""
        answer: dict[str, Any] = httpx.get(f"{self.sandbox.base_url}/_sandbox/state").json()
        return answer

    def requests_made(self) -> int:
        """Requests the sandbox has answered so far (any status)."""
        return int(self.state()["requests"]["total"])

    def set_clock(self, moment: datetime) -> None:
        """Move the sandbox clock through its control endpoint."""
        answer = httpx.post(
            f"{self.sandbox.base_url}/_sandbox/clock", json={"now": moment.isoformat()}
        )
        answer.raise_for_status()

    def truth(self, name: str) -> list[dict[str, Any]]:
        """The sandbox's ground truth of one entity at its current clock."""
        config = replace(self.config, now=self.sandbox.world.now)
        folder = self.tmp / f"truth-{config.now.isoformat()}"  # type: ignore[union-attr]
        if not folder.exists():
            export_world(config, folder)
        lines = (folder / f"{name}.ndjson").read_text("utf-8").splitlines()
        return [json.loads(line) for line in lines]


@contextlib.contextmanager
def harness_for(
    config: SandboxConfig, tmp: Path, monkeypatch: pytest.MonkeyPatch, rpm: int = FAST_RPM
) -> Iterator[Harness]:
    """Start a sandbox and point `sources.sprout` and DuckDB at it and at `tmp`."""
    with run_sandbox(config) as sandbox:
        monkeypatch.setenv("SOURCES__SPROUT__BASE_URL", sandbox.base_url)
        monkeypatch.setenv("SOURCES__SPROUT__ACCESS_TOKEN", "sandbox-token")
        monkeypatch.setenv("SOURCES__SPROUT__REQUESTS_PER_MINUTE", str(rpm))
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp / "warehouse.duckdb"))
        monkeypatch.setenv("DLT_DATA_DIR", str(tmp / "dlt"))
        monkeypatch.chdir(Path(__file__).resolve().parents[2])
        yield Harness(sandbox, config, tmp)


def sandbox_config(scale: Scale = SMALL, **changes: Any) -> SandboxConfig:
    """A small, fast sandbox with a pinned clock and history."""
    base = SandboxConfig(
        seed=11,
        scale=scale,
        now=CLOCK,
        history_start=HISTORY_START,
        requests_per_minute=FAST_RPM,
    )
    return replace(base, **changes)


@pytest.fixture(params=["duckdb", "postgres"])
def any_harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """The small sandbox, loaded into DuckDB or (when `make test` runs one) PostgreSQL."""
    if request.param == "duckdb":
        with harness_for(sandbox_config(), tmp_path, monkeypatch) as running:
            yield running
        return
    dsn = os.environ.get(POSTGRES_DSN_VAR)
    if not dsn:
        pytest.skip(f"{POSTGRES_DSN_VAR} is not set: run `make test`, which starts PostgreSQL")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
    with harness_for(sandbox_config(), tmp_path, monkeypatch) as running:
        running.destination, running.dataset = "postgres", f"sprout_{uuid.uuid4().hex[:8]}"
        try:
            yield running
        finally:
            _drop_schemas(dsn, running.dataset, f"{running.dataset}_staging")


def _drop_schemas(dsn: str, *schemas: str) -> None:
    connection = psycopg2.connect(dsn)
    try:
        with connection, connection.cursor() as cursor:
            for schema in schemas:
                cursor.execute(f"drop schema if exists {schema} cascade")
    finally:
        connection.close()


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The small sandbox at `CLOCK`, and `sprout-elt` pointed at it."""
    with harness_for(sandbox_config(), tmp_path, monkeypatch) as running:
        yield running
