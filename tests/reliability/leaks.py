"""Where a secret could leak, searched after real runs: output, logs, dlt's files, the warehouse.

The runs use an API token and an OAuth client secret that appear nowhere else, so any
occurrence is a leak: in what the command printed, in any log record (debug included),
in any file under the run's folder (dlt's state, schemas, load packages and the pickled
trace), in the DuckDB file's bytes, and in the decompressed `_dlt_pipeline_state` rows.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dlt.common.versioned_state import decompress_state

from sources.sprout.redact import forget_secrets
from tests.pipeline.conftest import Harness, harness_for, sandbox_config
from tests.reliability.scenarios import fault_spec, shrink_waits

TOKEN = "sprout-token-Zq81Xv0Pp3kLm"
"""A static API token that appears nowhere but in the configuration."""
CLIENT_ID = "reliability-client"
CLIENT_SECRET = "sprout-client-secret-W7uJ2nR9tY"
SECRETS = (TOKEN, CLIENT_SECRET)
EXPECTED_STATUSES = [0, 0, 1, 1]
_WINDOW = ("--start-date", "2026-02-10", "--end-date", "2026-03-01")


class _Everything(logging.Handler):
    """Keeps every record of every logger, formatted as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def _all_logs() -> Iterator[_Everything]:
    handler = _Everything()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _runs(harness: Harness, patch: pytest.MonkeyPatch) -> tuple[list[str], list[int]]:
    """A faulty run with the token, one with the OAuth client, and two refused ones."""
    outputs, statuses = [], []
    result = harness.cli("--debug", "run", "--no-transform", *_WINDOW)
    outputs += [result.stdout, result.stderr]
    statuses.append(result.status)
    patch.delenv("SOURCES__SPROUT__ACCESS_TOKEN")
    patch.setenv("SOURCES__SPROUT__CLIENT_ID", CLIENT_ID)
    patch.setenv("SOURCES__SPROUT__CLIENT_SECRET", CLIENT_SECRET)
    patch.setenv("SOURCES__SPROUT__TOKEN_URL", f"{harness.sandbox.base_url}/oauth2/v1/token")
    result = harness.cli("--debug", "run", "--resources", "profiles", *_WINDOW)
    outputs += [result.stdout, result.stderr]
    statuses.append(result.status)
    # Refused: the secret belongs to no client of the sandbox's any more.
    harness.sandbox.app.state.tokens.config.oauth_clients[CLIENT_ID] = "rotated"
    refused = harness.cli("run", "--resources", "profiles", *_WINDOW)
    outputs += [refused.stdout, refused.stderr]
    statuses.append(refused.status)
    patch.delenv("SOURCES__SPROUT__CLIENT_ID")
    patch.setenv("SOURCES__SPROUT__ACCESS_TOKEN", TOKEN + "-expired")
    refused = harness.cli("run", "--resources", "profiles", *_WINDOW)
    statuses.append(refused.status)
    return [*outputs, refused.stdout, refused.stderr], statuses


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def _state_rows(database: Path) -> list[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("select state from sprout._dlt_pipeline_state").fetchall()
    return [str(decompress_state(row[0])) for row in rows]


def find_leaks(tmp: Path | None = None) -> tuple[list[str], int]:
    """Run the pipeline with the distinctive secrets; where they appear, and the places searched.

    Returns:
        The places holding a secret (empty when none leaked), and how many were searched.
    """
    forget_secrets()
    config = sandbox_config(
        tokens={TOKEN: None},
        oauth_clients={CLIENT_ID: CLIENT_SECRET},
        faults=fault_spec("500,429,drop,truncate", 0.1, 5),
    )
    with contextlib.ExitStack() as stack:
        folder = tmp or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        shrink_waits(patch)
        logs = stack.enter_context(_all_logs())
        harness = stack.enter_context(harness_for(config, folder, patch))
        patch.setenv("SOURCES__SPROUT__ACCESS_TOKEN", TOKEN)
        outputs, statuses = _runs(harness, patch)
        places = {f"output {n}": text.encode() for n, text in enumerate(outputs)}
        places["logs"] = "\n".join(logs.lines).encode()
        places.update(_files(folder))
        places.update(
            {f"state row {n}": s.encode() for n, s in enumerate(_state_rows(harness.database))}
        )
        leaks = [name for name, data in places.items() if any(s.encode() in data for s in SECRETS)]
        if statuses != EXPECTED_STATUSES:
            leaks.append(f"the runs ended {statuses}, expected {EXPECTED_STATUSES}")
        return leaks, len(places)
    raise AssertionError("unreachable")
