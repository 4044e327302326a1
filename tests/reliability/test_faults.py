"""Faults at one request in five: the run finishes and the warehouse equals a fault-free one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.scenarios import ALL_FAULTS, fault_run, fault_spec


# `make chaos` runs each kind alone and all mixed with three seeds; one mixed run here.
@pytest.mark.parametrize(("kinds", "seed"), [(ALL_FAULTS, 1)], ids=["every-kind-mixed"])
def test_faults_at_one_in_five_lose_and_repeat_no_row(
    tmp_path: Path, kinds: str, seed: int
) -> None:
    outcome = fault_run(tmp_path, fault_spec(kinds, 0.2, seed))

    assert outcome.notes == []
    assert outcome.completed or outcome.stopped_cleanly
    assert (outcome.difference.lost, outcome.difference.duplicated) == (0, 0), outcome.difference
