"""A sandbox on loopback and a DuckDB warehouse in tmp_path for every `publish` test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sprout_sandbox.config import DEFAULT_TOKEN, SandboxConfig, Scale
from sprout_sandbox.server import run_sandbox
from tests.publish.support import Workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A fresh sandbox and warehouse; `sources.sprout` configured through the environment."""
    config = SandboxConfig(
        scale=Scale(customers=1, profiles=4, groups=2, users=2, tags=4, days=2, topics=1),
        requests_per_minute=100_000,
        media_processing_min_seconds=0.05,
        media_processing_seconds_per_mib=0.001,
    )
    with run_sandbox(config) as sandbox:
        env = {
            "SOURCES__SPROUT__BASE_URL": sandbox.base_url,
            "SOURCES__SPROUT__ACCESS_TOKEN": DEFAULT_TOKEN,
            "SOURCES__SPROUT__REQUESTS_PER_MINUTE": "100000",
            "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "warehouse.duckdb"),
            "DLT_DATA_DIR": str(tmp_path / "dlt"),
            "RUNTIME__LOG_LEVEL": "WARNING",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("SPROUT_ELT_CRASH_AT", raising=False)
        monkeypatch.chdir(tmp_path)
        yield Workspace(tmp_path, sandbox, {**os.environ, **env})
