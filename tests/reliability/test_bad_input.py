"""Bad configuration, API answers and publish files: a one-line error, or absorbed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.bad_input import CASES, BadInput, check_bad_input


def test_there_are_at_least_thirty_cases_in_every_area() -> None:
    areas = {case.area for case in CASES}
    assert len(CASES) >= 30 and areas == {"configuration", "api answer", "publish file"}
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gives_its_documented_outcome(tmp_path: Path, case: BadInput) -> None:
    # `make chaos` also reruns each refused answer's case with good answers.
    outcome = check_bad_input(case, tmp_path, recover=False)

    assert outcome.problems == []
    assert (outcome.lost, outcome.duplicated) == (0, 0)
