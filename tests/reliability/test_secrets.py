"""The token and the client secret appear in no output, log, dlt file or warehouse row."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.leaks import find_leaks


def test_secrets_never_leave_the_configuration(tmp_path: Path) -> None:
    leaks, searched = find_leaks(tmp_path)

    assert leaks == []
    # Outputs and logs of four runs, dlt's state, schemas and trace, the DuckDB file.
    assert searched > 20
