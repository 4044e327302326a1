"""A run killed with SIGKILL, then run again, leaves the warehouse of an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.scenarios import crash_run


@pytest.mark.parametrize(
    "point",
    # `load:10` is inside the first chunk's load, so the rerun starts with a pending
    # package; `make chaos` kills at ten points of a run and two of a publish.
    ["extract:3", "load:10"],
    ids=["mid-extraction", "half-loaded-package"],
)
def test_a_killed_run_rerun_equals_an_uninterrupted_run(tmp_path: Path, point: str) -> None:
    outcome = crash_run(tmp_path, point)

    assert outcome.notes == []
    assert outcome.completed
    assert (outcome.difference.lost, outcome.difference.duplicated) == (0, 0), outcome.difference
