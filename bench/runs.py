"""Runs of the `sprout` pipeline for the bench: recorded, replayed, or as they are."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import httpx
import pendulum
from dlt.common.pipeline import SupportsPipeline

from pipelines import run as run_command
from pipelines.pipeline import close_attached_databases, make_pipeline
from pipelines.run import Summary, run_pipeline, select_resources
from sources.sprout import load_settings, make_client

DATASET = "sprout"


class AnswerStore:
    """Recorded answers by request, in an SQLite file: a year's backfill holds gigabytes
    of answers, which the replay must not keep in memory (its peak is measured)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(
            "create table if not exists answers (request text primary key, status int, body blob)"
        )
        self._lock = threading.Lock()

    def put(self, request: httpx.Request, status: int, content: bytes) -> None:
        """Keep the answer to `request`."""
        with self._lock:
            self._db.execute(
                "insert or replace into answers values (?, ?, ?)", (_key(request), status, content)
            )

    def get(self, request: httpx.Request) -> tuple[int, bytes]:
        """The answer recorded for `request`; a KeyError names a request never recorded."""
        with self._lock:
            found = self._db.execute(
                "select status, body from answers where request = ?", (_key(request),)
            ).fetchone()
        if found is None:
            raise KeyError(f"{request.method} {request.url.path}: not in the recording")
        return int(found[0]), bytes(found[1])

    def close(self) -> None:
        """Write everything to the file and close it."""
        with self._lock:
            self._db.commit()
            self._db.close()


class RecordingTransport(httpx.BaseTransport):
    """Sends through the network and notes when each request started.

    With a `store`, also keeps every answer there, for :class:`ReplayTransport`.
    """

    def __init__(self, store: AnswerStore | None = None) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.starts: list[float] = []
        self.paths: list[str] = []
        self.store = store

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request, noting its start (and its answer, if kept)."""
        with self._lock:
            self.starts.append(time.monotonic())
            self.paths.append(request.url.path)
        response = self._inner.handle_request(request)
        if self.store is None:
            return response
        content = response.read()
        self.store.put(request, response.status_code, content)
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    def close(self) -> None:
        """Close the connections."""
        self._inner.close()


class ReplayTransport(httpx.BaseTransport):
    """Answers each request with the recorded answer to the same request, no network."""

    def __init__(self, store: AnswerStore) -> None:
        self._store = store
        self.count = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """The recorded answer; a KeyError names a request the recording never saw."""
        status, content = self._store.get(request)
        self.count += 1
        headers = {"content-type": "application/json"}
        return httpx.Response(status, headers=headers, content=content)


def _key(request: httpx.Request) -> str:
    digest = hashlib.sha256(request.content).hexdigest()
    return f"{request.method} {request.url.raw_path.decode()} {digest}"


@dataclass
class Warehouse:
    """One DuckDB file and dlt working directory of the bench."""

    folder: Path
    base_url: str
    requests_per_minute: int = 10**6
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        """The DuckDB file."""
        return self.folder / "sprout.duckdb"

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """Point `sources.sprout` and DuckDB at this warehouse while the block runs."""
        values = {
            "SOURCES__SPROUT__BASE_URL": self.base_url,
            "SOURCES__SPROUT__ACCESS_TOKEN": "sandbox-token",
            "SOURCES__SPROUT__REQUESTS_PER_MINUTE": str(self.requests_per_minute),
            "SOURCES__SPROUT__MONTHLY_REQUEST_BUDGET": str(10**9),
            "DESTINATION__DUCKDB__CREDENTIALS": str(self.database),
            **self.extra_env,
        }
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def pipeline(self) -> SupportsPipeline:
        """The bench's `sprout` pipeline on this warehouse."""
        with self.environment():
            return make_pipeline("duckdb", DATASET, str(self.folder / "pipelines"))


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse file at `path`, where `sprout.<table>`
    names its tables whatever the file is called (in `sprout.duckdb` alone the name
    would be ambiguous). Closes the pipeline's own connection to it first: one process
    cannot hold a file twice with different settings."""
    close_attached_databases()
    db = duckdb.connect()
    escaped = str(path).replace("'", "''")
    db.execute(f"ATTACH '{escaped}' AS warehouse (READ_ONLY)")
    db.execute("USE warehouse")
    return db


def run_sprout(
    warehouse: Warehouse,
    start: pendulum.Date,
    end: pendulum.Date,
    transport: httpx.BaseTransport | None = None,
    resources: str | None = None,
) -> tuple[Summary, float]:
    """One `sprout-elt run --no-transform` from `start` to `end`; summary and seconds."""

    def client_with_transport(config: Any, counts: dict[str, int]) -> Any:
        return make_client(config, counts, transport=transport)

    with (
        warehouse.environment(),
        mock.patch.object(run_command, "make_client", client_with_transport),
    ):
        pipeline = make_pipeline("duckdb", DATASET, str(warehouse.folder / "pipelines"))
        config = load_settings(start_date=start.isoformat(), end_date=end.isoformat())
        began = time.monotonic()
        summary = run_pipeline(pipeline, config, select_resources(resources), transform=False)
        return summary, time.monotonic() - began
