"""`sprout-elt run` against the sandbox: the warehouse equals the sandbox's ground truth."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.pipeline.conftest import Harness
from tests.pipeline.truth import SPECS, compare

ENTITIES = list(SPECS)


def group_scoped_tags(harness: Harness) -> Any:
    """Messages are read per group, and the API shows only the tags of that group.

    Each profile is read in its first group, so a message shows the tags usable there.
    """
    first_group = {p["customer_profile_id"]: p["groups"][0] for p in harness.truth("profiles")}
    tags = {t["tag_id"]: t for t in harness.truth("tags")}

    def adjust(expected: dict[tuple[Any, ...], dict[str, Any]]) -> None:
        for row in expected.values():
            group = first_group[row["customer_profile_id"]]
            row["tag_ids"] = [
                t for t in row["tag_ids"] if tags[t]["any_group"] or group in tags[t]["groups"]
            ]
            row["group_id"] = group

    return adjust


def differences(harness: Harness, name: str) -> list[str]:
    """What differs between a table and the ground truth of its entity."""
    adjust = group_scoped_tags(harness) if name == "messages" else None
    return compare(harness, name, adjust)


def test_first_run_loads_every_table_equal_to_the_ground_truth(any_harness: Harness) -> None:
    harness = any_harness
    # Starting 26 days before the sandbox's history makes a backfill of two chunks, the
    # first one almost empty.
    result = harness.run(start=date(2026, 1, 15))
    assert result.status == 0, result.stderr
    assert "sprout-elt run: 2 chunk(s)" in result.stdout
    for name in ENTITIES:
        assert harness.truth(name), f"the sandbox exports no {name}: the scale is too small"
        assert differences(harness, name) == [], name
    buckets = harness.query(
        "select count(*) from sprout.profile_metrics_buckets where value is not null"
    )[0][0]
    expected_buckets = sum(
        len(value)
        for day in harness.truth("profile_metrics")
        for value in day["metrics"].values()
        if isinstance(value, dict)
    )
    assert buckets == expected_buckets
    assert "requests:" in result.stdout and "posts" in result.stdout


def test_runs_over_a_month_end_equal_to_the_ground_truth(harness: Harness) -> None:
    # A scheduled run every day for a month: restated days and grown lifetime metrics
    # must be re-read by the lookback windows, and nothing may be loaded twice.
    start = harness.sandbox.world.now
    assert harness.run().status == 0
    for day in range(1, 31):
        harness.set_clock(start + timedelta(days=day))
        result = harness.run()
        assert result.status == 0, result.stderr
    for name in ENTITIES:
        assert differences(harness, name) == [], name
    for spec in SPECS.values():
        keys = ", ".join(spec.key)
        repeated = harness.query(
            f"select count(*) from (select {keys} from sprout.{spec.table} "
            f"group by {keys} having count(*) > 1)"
        )[0][0]
        assert repeated == 0, spec.table


@pytest.mark.parametrize("resource", ["posts", "profile_metrics"], ids=["posts", "profiles"])
def test_a_second_run_adds_no_duplicates(harness: Harness, resource: str) -> None:
    assert harness.run("--resources", resource).status == 0
    assert harness.run("--resources", resource).status == 0
    table = "posts" if resource == "posts" else "profile_metrics_daily"
    spec = SPECS["posts" if resource == "posts" else "profile_metrics"]
    rows = harness.query(f"select count(*) from sprout.{table}")[0][0]
    assert rows == len(harness.truth("posts" if resource == "posts" else "profile_metrics"))
    assert differences(harness, "posts" if resource == "posts" else "profile_metrics") == []
    assert spec.table == table
